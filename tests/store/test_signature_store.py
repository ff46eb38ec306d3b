"""Electronic signatures in the store: the hash covers exactly the signed data, a later change
voids the signature in the same transaction, and signing re-checks the password against the
account lockout (21 CFR 11.50, 11.70, 11.200, 11.300(d)). On SQLite and, when configured,
PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles

from clestudy.errors import InputError, NotFoundError
from clestudy.store import (
    Accounts,
    AuthenticationError,
    RecordInput,
    Store,
    audit_events,
    open_accounts,
    verify_audit,
)
from clestudy.store._signatures import signed_data, signed_data_sha256

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
PASSWORD = "investigator passphrase"
VS0 = {"vsdat": "2026-01-07", "weight": "70.5"}
VS6 = {"vsdat": "2026-02-18", "weight": "71"}


@pytest.fixture
def accounts(db_url: str) -> Iterator[Accounts]:
    with open_accounts(db_url, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)) as acc:
        for name, role, sites, full in (
            ("inv", "investigator", ["site01"], "Ines Vargas"),
            ("inv2", "investigator", ["site02"], ""),
            ("admin", "admin", ["site01"], ""),
            ("coord", "coordinator", ["site01"], ""),
        ):
            acc.add_user(name, role=role, sites=sites, password=PASSWORD, actor="setup",
                         full_name=full)  # fmt: skip
        yield acc


@pytest.fixture
def store(open_study: OpenStudy, db_url: str, accounts: Accounts) -> Store:
    store = open_study(db_url, STUDY)
    for subject in ("S1", "S2"):
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="coord")
        store.save_record(subject, "week_0", "vs", VS0, actor="coord")
        store.save_record(subject, "week_6", "vs", VS6, actor="coord")
    return store


def _events(url: str) -> list[dict[str, Any]]:
    return [dict(e) for e in audit_events(url, entity_prefix=f"{STUDY}/S1")]


def _sign(store: Store, accounts: Accounts, visit: str | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {"meaning": "review", "signer": "inv", "password": PASSWORD} | kw
    return store.sign("S1", visit_id=visit, accounts=accounts, **args)


def _recomputed(store: Store, subject: str, visit: str | None) -> str:
    """The documented serialisation, written out independently of the store's helper."""
    records = [
        {"record": f"{r.visit_id}/{r.form_id}" + (f"#{r.instance}" if r.instance != 1 else ""),
         "values": r.values, "derived": r.derived}
        for r in store.records(subject_id=subject)
        if visit is None or r.visit_id == visit
    ]  # fmt: skip
    records.sort(key=lambda item: str(item["record"]))
    data = {"format": "clestudy-signature/1", "study": STUDY, "subject": subject,
            "visit": visit, "records": records}  # fmt: skip
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_signature_records_signer_time_meaning_and_the_hash_of_exactly_its_data(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    casebook = _sign(store, accounts, meaning="approval")
    visit = _sign(store, accounts, "week_0")
    assert (casebook.signer, casebook.signer_name, casebook.meaning) == (
        "inv", "Ines Vargas", "approval",
    )  # fmt: skip
    assert casebook.status == visit.status == "valid" and casebook.signed_at.endswith("Z")
    assert casebook.attestation == store.signature_attestation()
    assert casebook.data_sha256 == _recomputed(store, "S1", None)
    assert visit.data_sha256 == _recomputed(store, "S1", "week_0")
    assert visit.data_sha256 != casebook.data_sha256 != _recomputed(store, "S2", None)
    assert [r["record"] for r in casebook.records] == ["week_0/vs", "week_6/vs"]
    assert visit.records == [{"record": "week_0/vs", "version": 1}]
    assert casebook.key == f"{STUDY}/S1/signature-{casebook.id}"
    assert visit.key == f"{STUDY}/S1/week_0/signature-{visit.id}"
    events = [e for e in _events(db_url) if e["entity_type"] == "signature"]
    assert [(e["action"], e["actor"], e["after"]["status"]) for e in events] == [
        ("sign", "inv", "valid"), ("sign", "inv", "valid"),
    ]  # fmt: skip
    assert events[0]["after"]["data_sha256"] == casebook.data_sha256
    assert verify_audit(db_url).ok


def test_the_documented_serialisation_is_the_helpers() -> None:
    from clestudy.store._signatures import Covered

    data = signed_data("s", "P1", "v", [Covered("v", "f", 2, 3, {"a": 1.5}, {})])
    assert data["records"] == [{"record": "v/f#2", "values": {"a": "1.5"}, "derived": {}}]
    text = '{"format":"clestudy-signature/1","records":[{"derived":{},"record":"v/f#2",' \
        '"values":{"a":"1.5"}}],"study":"s","subject":"P1","visit":"v"}'  # fmt: skip
    assert signed_data_sha256(data) == hashlib.sha256(text.encode()).hexdigest()


def test_a_later_edit_voids_the_signature_in_the_same_transaction(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    signed = _sign(store, accounts)
    store.save_record("S1", "week_6", "vs", {"weight": "72"}, actor="coord", reason="re-weighed",
                      expected_version=1)  # fmt: skip
    [void] = store.signatures(subject_id="S1")
    assert void.id == signed.id and void.status == "void" and void.voided_by == "coord"
    assert void.voided_by_event == {
        "entity_key": f"{STUDY}/S1/week_6/vs", "action": "update", "version": 2,
    }  # fmt: skip
    events = [e for e in _events(db_url) if e["entity_key"] == signed.key]
    assert [e["action"] for e in events] == ["sign", "void"]
    assert events[1]["actor"] == "coord" and events[1]["before"]["status"] == "valid"
    update = next(e for e in _events(db_url) if e["action"] == "update")
    assert update["occurred_at"] == events[1]["occurred_at"]  # one transaction, one time
    assert verify_audit(db_url).ok


def test_an_unchanged_save_and_status_changes_do_not_void(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    _sign(store, accounts)
    store.save_record("S1", "week_0", "vs", VS0, actor="coord", reason="same", expected_version=1)
    store.verify_record("S1", "week_0", "vs", expected_version=1, actor="monitor")
    store.lock_record("S1", "week_0", "vs", expected_version=2, actor="admin")
    store.unlock_record("S1", "week_0", "vs", "typo", expected_version=3, actor="admin")
    assert [s.status for s in store.signatures()] == ["valid"]
    assert verify_audit(db_url).ok


def test_a_visit_signature_is_voided_by_its_visit_only_and_a_new_record_counts(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    week_0 = _sign(store, accounts, "week_0")
    week_6 = _sign(store, accounts, "week_6")
    casebook = _sign(store, accounts)
    ae = {"aeterm": "rash", "aestdat": "2026-02-10", "aetoxgr": 1, "aeser": False}
    store.save_record("S1", "week_6", "ae", ae, actor="coord")  # a new record in week 6
    status = {s.id: s.status for s in store.signatures(subject_id="S1")}
    assert status == {week_0.id: "valid", week_6.id: "void", casebook.id: "void"}
    [void] = store.signatures(subject_id="S1", visit_id="week_6", status="void")[:1]
    assert void.voided_by_event is not None
    assert void.voided_by_event["action"] == "create"
    assert store.signatures(visit_id="week_0", status="valid")[0].id == week_0.id
    assert verify_audit(db_url).ok


def test_another_subjects_change_does_not_void(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    _sign(store, accounts)
    store.save_records(
        [RecordInput("S2", "week_0", "vs", {"weight": "80"}, expected_version=1)],
        actor="coord", reason="re-weighed",
    )  # fmt: skip
    store.delete_record("S2", "week_6", "vs", actor="coord", reason="wrong subject")
    assert [s.status for s in store.signatures()] == ["valid"]
    assert verify_audit(db_url).ok


def test_delete_and_restore_of_a_covered_record_void(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    first = _sign(store, accounts, "week_6")
    store.delete_record("S1", "week_6", "vs", actor="coord", reason="entered twice")
    with pytest.raises(InputError, match=r"subject S1 visit week_6: nothing to sign"):
        _sign(store, accounts, "week_6")
    second = _sign(store, accounts)  # the casebook without the deleted record
    assert [r["record"] for r in second.records] == ["week_0/vs"]
    store.restore_record("S1", "week_6", "vs", actor="coord", reason="it was right")
    found = {s.id: s for s in store.signatures()}
    assert found[first.id].voided_by_event == {
        "entity_key": f"{STUDY}/S1/week_6/vs", "action": "delete", "version": 2,
    }  # fmt: skip
    assert found[second.id].status == "void"
    assert found[second.id].voided_by_event["action"] == "restore"  # type: ignore[index]
    assert verify_audit(db_url).ok


def test_deleting_the_subject_voids_its_signatures(
    store: Store, accounts: Accounts, db_url: str
) -> None:
    _sign(store, accounts)
    store.delete_subject("S1", actor="admin", reason="consent withdrawn")
    [void] = store.signatures()
    assert void.voided_by_event == {"entity_key": f"{STUDY}/S1", "action": "delete",
                                    "version": None}  # fmt: skip
    assert verify_audit(db_url).ok


def test_only_an_investigator_of_the_subjects_site_signs_and_only_existing_data(
    store: Store, accounts: Accounts
) -> None:
    with pytest.raises(InputError, match=r"admin \(admin\) may not sign; only investigators"):
        _sign(store, accounts, signer="admin")
    with pytest.raises(InputError, match=r"inv2 does not work at site site01"):
        _sign(store, accounts, signer="inv2")
    with pytest.raises(InputError, match=r"meaning 'ok' is not one of review, approval"):
        _sign(store, accounts, meaning="ok")
    with pytest.raises(InputError, match=r"visit 'week_99' is not one of"):
        _sign(store, accounts, "week_99")
    with pytest.raises(NotFoundError, match=r"subject 'S9' is not enrolled"):
        store.sign("S9", meaning="review", signer="inv", password=PASSWORD, accounts=accounts)
    with pytest.raises(InputError, match=r"subject S1 visit week_12: nothing to sign"):
        _sign(store, accounts, "week_12")
    assert store.signatures() == []


def test_wrong_passwords_count_toward_the_lockout_and_end_the_sessions(
    store: Store, accounts: Accounts
) -> None:
    token = accounts.create_session("inv")
    for _ in range(accounts.max_failures - 1):
        with pytest.raises(AuthenticationError, match="invalid username or password"):
            _sign(store, accounts, password="not my password")
    accounts.session_user(token)  # still signed in before the last attempt
    with pytest.raises(AuthenticationError) as refused:
        _sign(store, accounts, password="not my password")
    assert refused.value.reason == "bad_password"
    events = accounts.account_events("inv")
    assert [e.action for e in events[-2:]] == ["signing_failure", "lockout"]
    assert events[-1].detail["sessions_ended"] == 1
    with pytest.raises(AuthenticationError):
        accounts.session_user(token)  # the lockout signed the open session out
    with pytest.raises(AuthenticationError) as locked:
        _sign(store, accounts)  # the right password, refused while locked
    assert locked.value.reason == "locked"
    with pytest.raises(AuthenticationError):
        accounts.authenticate("inv", PASSWORD)  # one lockout for sign-in and signing
    assert store.signatures() == []


def test_failed_sign_ins_lock_signing_and_a_right_password_resets_the_count(
    store: Store, accounts: Accounts
) -> None:
    for _ in range(accounts.max_failures - 1):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("inv", "not my password")
    _sign(store, accounts)  # the right password: the count starts again
    assert accounts.account_events("inv")[-1].action == "signing_success"
    with pytest.raises(AuthenticationError):
        _sign(store, accounts, password="not my password")
    _sign(store, accounts, "week_0")  # one failure since: not locked
    for _ in range(accounts.max_failures):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("inv", "not my password")
    with pytest.raises(AuthenticationError) as locked:
        _sign(store, accounts, "week_6")
    assert locked.value.reason == "locked"
    assert len(store.signatures()) == 2
