"""Completeness and the record status life cycle: incomplete, complete, verified, locked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clestudy.errors import InputError, RecordLockedError, StaleVersionError
from clestudy.protocol import load_protocol
from clestudy.store import RecordInput, Store, audit_events, endpoint_table, verify_audit

OpenStudy = Callable[..., Store]
OPEN_LABEL = "lenalidomide-cle-open-label"


def _clasi_zeros() -> dict[str, object]:
    """Every CLASI item of the open-label protocol entered, all 0 (hair loss 'no')."""
    form = load_protocol(OPEN_LABEL).form("clasi")
    assert form is not None
    values: dict[str, object] = {}
    for field in form.fields:
        if field.type == "integer":
            values[field.id] = 0
        elif field.type == "boolean":
            values[field.id] = False
        elif field.type == "single_choice":
            values[field.id] = field.choices[0].code
    return values


def _open_label(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, OPEN_LABEL)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    return store


def test_empty_clasi_is_incomplete_and_has_no_score(open_study: OpenStudy, db_url: str) -> None:
    store = _open_label(open_study, db_url)
    empty = store.save_record("L01", "week_0", "clasi", {}, actor="c")
    assert (empty.status, empty.derived) == ("incomplete", {})
    partial = store.save_record(
        "L01", "week_0", "clasi", {"scalp_erythema": 2}, actor="c", reason="first item",
        expected_version=1,
    )  # fmt: skip
    assert (partial.status, partial.derived) == ("incomplete", {})
    # endpoint tables see missing, never an activity of 0
    table = endpoint_table(store, ["clasi_activity"])
    assert table.empty


def test_completing_a_form_computes_its_score_and_emptying_it_removes_the_score(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _open_label(open_study, db_url)
    full = {**_clasi_zeros(), "scalp_erythema": 2}
    complete = store.save_record("L01", "week_0", "clasi", full, actor="c")
    assert complete.status == "complete"
    assert complete.derived["clasi"]["values"]["clasi_activity"] == 2
    again = store.save_record(
        "L01", "week_0", "clasi", {"scalp_erythema": None}, actor="c", reason="unreadable",
        expected_version=1,
    )  # fmt: skip
    assert (again.status, again.derived) == ("incomplete", {})
    assert audit_events(db_url)[-1]["after"] == {
        "version": 2,
        "status": "incomplete",
        "values": again.values,
        "derived": {},
        "cleared": ["scalp_erythema"],
    }
    assert verify_audit(db_url).ok


def _vitals_store(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, "pediatric-cle-chart-review")
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("P01", "initiation", "labs", {"lbdat": "2011-03-01", "esr": 20}, actor="c")
    return store


def test_verify_lock_unlock_life_cycle_is_audited(open_study: OpenStudy, db_url: str) -> None:
    store = _vitals_store(open_study, db_url)
    verified = store.verify_record("P01", "initiation", "labs", expected_version=1, actor="cra")
    locked = store.lock_record(
        "P01", "initiation", "labs", expected_version=verified.version, actor="dm"
    )
    assert (verified.status, verified.version, locked.status, locked.version) == (
        "verified", 2, "locked", 3,
    )  # fmt: skip
    unlocked = store.unlock_record(
        "P01", "initiation", "labs", "query from the monitor", expected_version=3, actor="dm"
    )
    assert (unlocked.status, unlocked.version) == ("verified", 4)
    events = audit_events(db_url, entity_prefix="pediatric-cle-chart-review/P01/initiation/labs")
    events = [e for e in events if e["entity_type"] == "form_record"]  # not its SDV marks
    assert [e["action"] for e in events] == ["create", "verify", "lock", "unlock"]
    assert events[2]["before"] == {
        "version": 2,
        "status": "verified",
        "values": {"lbdat": "2011-03-01", "esr": 20},
        "derived": {},
    }
    assert events[3]["reason"] == "query from the monitor"
    assert verify_audit(db_url).ok


def test_a_locked_record_refuses_every_write(open_study: OpenStudy, db_url: str) -> None:
    store = _vitals_store(open_study, db_url)
    store.lock_record("P01", "initiation", "labs", expected_version=1, actor="dm")
    refused = r"record P01/initiation/labs is locked: .* refused until it is unlocked"
    with pytest.raises(RecordLockedError, match=refused):
        store.save_record(
            "P01", "initiation", "labs", {"esr": 21}, actor="c", reason="x", expected_version=2
        )
    with pytest.raises(RecordLockedError, match=refused):  # a batch import too, all or nothing
        store.save_records(
            [
                RecordInput("P01", "initiation", "vs", {"weight": "30"}),
                RecordInput("P01", "initiation", "labs", {"esr": 22}, expected_version=2),
            ],
            actor="import",
            reason="lab upload",
        )
    assert [r.form_id for r in store.records()] == ["labs"]
    with pytest.raises(RecordLockedError, match=refused):
        store.verify_record("P01", "initiation", "labs", expected_version=2, actor="cra")
    with pytest.raises(RecordLockedError, match=refused):
        store.lock_record("P01", "initiation", "labs", expected_version=2, actor="dm")
    with pytest.raises(InputError, match=r"record P01/initiation/labs: unlocking needs a reason"):
        store.unlock_record("P01", "initiation", "labs", " ", expected_version=2, actor="dm")


def test_editing_a_verified_record_resets_verification(open_study: OpenStudy, db_url: str) -> None:
    store = _vitals_store(open_study, db_url)
    store.verify_record("P01", "initiation", "labs", expected_version=1, actor="cra")
    edited = store.save_record(
        "P01", "initiation", "labs", {"esr": 25}, actor="c", reason="transcription",
        expected_version=2,
    )  # fmt: skip
    assert (edited.status, edited.version) == ("complete", 3)
    after = [e for e in audit_events(db_url) if e["entity_type"] == "form_record"][-1]["after"]
    assert isinstance(after, dict) and after["verification_reset"] is True


def test_status_changes_check_version_and_the_life_cycle(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _vitals_store(open_study, db_url)
    with pytest.raises(StaleVersionError, match=r"P01/initiation/labs: the verify was made on "):
        store.verify_record("P01", "initiation", "labs", expected_version=7, actor="cra")
    with pytest.raises(InputError, match=r"cannot be unlocked: it is complete"):
        store.unlock_record("P01", "initiation", "labs", "why", expected_version=1, actor="dm")
    store.save_record(
        "P01", "initiation", "labs", {"lbdat": None}, actor="c", reason="wrong date",
        expected_version=1,
    )  # fmt: skip
    with pytest.raises(InputError, match=r"cannot be verified: it is incomplete"):
        store.verify_record("P01", "initiation", "labs", expected_version=2, actor="cra")
    with pytest.raises(InputError, match=r"P01/month_6/labs does not exist"):
        store.lock_record("P01", "month_6", "labs", expected_version=1, actor="dm")
