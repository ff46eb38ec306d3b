"""Field-level source-data verification, visit and subject locks, bulk locks, the status listing."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tests.store.conftest import _postgres_url

from clestudy.errors import InputError, NotFoundError, RecordLockedError, StaleVersionError
from clestudy.store import (
    LockSelection,
    RecordInput,
    Store,
    SubjectInput,
    audit_events,
    make_engine,
    open_store,
    save_import,
    verify_audit,
)
from clestudy.store._lock_status import as_csv

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
VS = {"weight": "70.5", "height": "172"}


def _study(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, STUDY)
    for subject in ("L01", "L02"):
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record(subject, "week_0", "vs", VS, actor="coordinator")
    return store


def _vs(store: Store, subject: str = "L01", visit: str = "week_0") -> tuple[int, str]:
    record = store.records(subject_id=subject, visit_id=visit, form_id="vs")[0]
    return record.version, record.status


def _events(url: str, entity_type: str) -> list[dict[str, object]]:
    return [e for e in audit_events(url) if e["entity_type"] == entity_type]


def test_a_changed_verified_value_loses_its_mark_and_the_event_says_so(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _study(open_study, db_url)
    assert store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=1,
                               actor="monitor") == ("weight",)  # fmt: skip
    store.verify_fields("L01", "week_0", "vs", ["height"], expected_version=1, actor="monitor")
    # a change of an unverified value keeps the marks; of a verified one removes that mark only
    store.save_record("L01", "week_0", "vs", {"vsdat": None}, actor="c", reason="none",
                      expected_version=1)  # fmt: skip
    assert store.record_review("L01", "week_0", "vs").verified == ("height", "weight")
    store.save_record("L01", "week_0", "vs", {"weight": "71"}, actor="c", reason="scale",
                      expected_version=1)  # fmt: skip
    assert store.record_review("L01", "week_0", "vs").verified == ("height",)
    reset = _events(db_url, "verification")[-1]
    assert reset["action"] == "reset"
    assert reset["entity_key"] == f"{STUDY}/L01/week_0/vs"
    assert reset["after"] == {"fields": ["height"], "reset": ["weight"]}
    assert reset["reason"] == "verification reset: the value of weight changed"
    assert reset["actor"] == "c"
    assert verify_audit(db_url).ok


def test_verifying_every_field_verifies_the_form_and_an_edit_returns_it_to_complete(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _study(open_study, db_url)
    store.verify_fields("L01", "week_0", "vs", ["weight", "height"], expected_version=1,
                        actor="monitor")  # fmt: skip
    assert _vs(store) == (1, "complete")
    store.verify_fields("L01", "week_0", "vs", ["vsdat"], expected_version=1, actor="monitor")
    assert _vs(store) == (2, "verified")
    # the whole form at once (verify_record) marks every field
    store.verify_record("L02", "week_0", "vs", expected_version=1, actor="monitor")
    assert store.record_review("L02", "week_0", "vs").verified == ("height", "vsdat", "weight")
    edited = store.save_record("L02", "week_0", "vs", {"height": "173"}, actor="c",
                               reason="re-measured", expected_version=2)  # fmt: skip
    assert edited.status == "complete"
    assert store.record_review("L02", "week_0", "vs").verified == ("vsdat", "weight")
    form_event = [e for e in _events(db_url, "form_record") if e["action"] == "update"][-1]
    assert form_event["after"]["verification_reset"] is True  # type: ignore[index]
    assert verify_audit(db_url).ok


def test_field_verification_refuses_bad_requests_with_clear_messages(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _study(open_study, db_url)
    with pytest.raises(InputError, match=r"record L01/week_0/vs: bmi: not a field of form vs"):
        store.verify_fields("L01", "week_0", "vs", ["bmi"], expected_version=1, actor="m")
    with pytest.raises(InputError, match="name at least one field"):
        store.verify_fields("L01", "week_0", "vs", [], expected_version=1, actor="m")
    with pytest.raises(StaleVersionError, match=r"made on version 3 .* now at version 1"):
        store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=3, actor="m")
    with pytest.raises(NotFoundError, match="record L01/week_6/vs does not exist"):
        store.verify_fields("L01", "week_6", "vs", ["weight"], expected_version=1, actor="m")
    store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=1, actor="m")
    with pytest.raises(InputError, match="weight already source-verified"):
        store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=1, actor="m")
    store.lock_record("L01", "week_0", "vs", expected_version=1, actor="m")
    with pytest.raises(RecordLockedError, match="L01/week_0/vs is locked"):
        store.verify_fields("L01", "week_0", "vs", ["height"], expected_version=2, actor="m")


def test_a_visit_lock_refuses_every_write_under_it_until_unlocked_with_a_reason(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _study(open_study, db_url)
    change = store.lock(LockSelection(subjects=("L01",), visits=("week_0",)), level="visit",
                        actor="monitor", reason="monitoring visit done")  # fmt: skip
    assert change.changed == ("L01/week_0",)
    events = audit_events(db_url)
    refuse = pytest.raises(RecordLockedError, match=r"record L01/week_0/\w+ is locked \(visit "
                           r"week_0 of L01 is locked\)")  # fmt: skip
    with refuse:
        store.save_record("L01", "week_0", "vs", {"weight": "80"}, actor="admin", reason="x",
                          expected_version=1)  # fmt: skip
    with refuse:  # a record created later in the visit is locked too
        store.save_record("L01", "week_0", "dm", {"sex": "F"}, actor="admin")
    with refuse:
        store.verify_record("L01", "week_0", "vs", expected_version=1, actor="monitor")
    with refuse:
        store.delete_record("L01", "week_0", "vs", actor="admin", reason="duplicate")
    with pytest.raises(RecordLockedError, match="subject L01: a delete is refused because visit "
                       "week_0 is locked"):  # fmt: skip
        store.delete_subject("L01", actor="admin", reason="withdrew consent")
    assert audit_events(db_url) == events  # refused: nothing written
    # other visits and other subjects are open
    store.save_record("L01", "week_6", "vs", VS, actor="c")
    store.save_record("L02", "week_0", "vs", {"weight": "60"}, actor="c", reason="typo",
                      expected_version=1)  # fmt: skip
    with pytest.raises(InputError, match="unlocking \\(visit level\\) needs a reason"):
        store.unlock(LockSelection(subjects=("L01",), visits=("week_0",)), level="visit",
                     actor="admin", reason=" ")  # fmt: skip
    store.unlock(LockSelection(subjects=("L01",), visits=("week_0",)), level="visit",
                 actor="admin", reason="query answered: correction needed")  # fmt: skip
    store.save_record("L01", "week_0", "vs", {"weight": "80"}, actor="c", reason="source",
                      expected_version=1)  # fmt: skip
    lock_events = _events(db_url, "lock")
    assert [(e["action"], e["entity_key"], e["after"]) for e in lock_events] == [
        ("lock", f"{STUDY}/L01/week_0", {"level": "visit", "visit": "week_0", "locked": True}),
        ("unlock", f"{STUDY}/L01/week_0", {"level": "visit", "visit": "week_0", "locked": False}),
    ]
    assert verify_audit(db_url).ok


def test_locks_nest_and_are_lifted_from_the_outside_in(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url)
    store.lock_record("L01", "week_0", "vs", expected_version=1, actor="monitor")
    store.lock(LockSelection(subjects=("L01",)), level="subject", actor="monitor")
    with pytest.raises(RecordLockedError, match=r"\(subject L01 is locked\)"):
        store.unlock_record("L01", "week_0", "vs", "early", expected_version=2, actor="admin")
    with pytest.raises(RecordLockedError, match=r"record L01/week_6/vs is locked \(subject L01"):
        store.save_record("L01", "week_6", "vs", VS, actor="admin")
    listing = {(r.subject_id, r.visit_id, r.form_id): r for r in store.lock_status()}
    row = listing[("L01", "week_0", "vs")]
    assert (row.status, row.record_status, row.lock_level, row.locked_by) == (
        "locked", "locked", "subject", "monitor",
    )  # fmt: skip
    assert listing[("L01", "week_6", "clasi")].status == "locked"  # not started, but locked
    store.unlock(LockSelection(subjects=("L01",)), level="subject", actor="admin", reason="r")
    assert store.record_review("L01", "week_0", "vs").lock_level == "form"  # still locked itself
    store.unlock_record("L01", "week_0", "vs", "done", expected_version=2, actor="admin")
    assert _vs(store) == (3, "complete")


def test_a_bulk_lock_is_one_transaction(
    open_study: OpenStudy, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _study(open_study, db_url)
    store.save_record("L02", "week_6", "vs", VS, actor="c")
    events = audit_events(db_url)
    with pytest.raises(NotFoundError, match="subject L09: not enrolled"):
        store.lock(LockSelection(subjects=("L01", "L09")), level="form", actor="monitor")
    import clestudy.store._status as status

    real, calls = status.change_status_in, []

    def fail_on_second(*args: object, **kwargs: object) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(status, "change_status_in", fail_on_second)
    with pytest.raises(RuntimeError, match="disk is full"):
        store.lock(LockSelection(forms=("vs",)), level="form", actor="monitor")
    monkeypatch.undo()
    assert audit_events(db_url) == events
    assert {r.status for r in store.records()} == {"complete"}
    change = store.lock(LockSelection(forms=("vs",)), level="form", actor="monitor")
    assert change.changed == ("L01/week_0/vs", "L02/week_0/vs", "L02/week_6/vs")
    again = store.lock(LockSelection(forms=("vs",), visits=("week_0",)), level="form", actor="m")
    assert again.changed == () and again.skipped == (
        ("L01/week_0/vs", "already locked"), ("L02/week_0/vs", "already locked"),
    )  # fmt: skip
    with pytest.raises(InputError, match="a visit lock needs the visit"):
        store.lock(LockSelection(), level="visit", actor="m")
    with pytest.raises(InputError, match="a subject lock applies to whole subjects"):
        store.lock(LockSelection(forms=("vs",)), level="subject", actor="m")
    assert verify_audit(db_url).ok


def test_an_import_into_a_locked_record_fails_naming_it_and_writes_nothing(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _study(open_study, db_url)
    store.lock_record("L02", "week_0", "vs", expected_version=1, actor="monitor")
    store.lock(LockSelection(subjects=("L01",), visits=("week_6",)), level="visit", actor="m")
    events = audit_events(db_url)
    new = SubjectInput("L03", "lenalidomide", "site01")
    with pytest.raises(RecordLockedError, match="record L02/week_0/vs is locked: an edit is "
                       "refused until it is unlocked"):  # fmt: skip
        save_import(
            store, subjects=[new],
            records=[RecordInput("L03", "week_0", "vs", VS),
                     RecordInput("L02", "week_0", "vs", {"weight": "1"}, 1, 1)],
            actor="importer", reason="redcap.csv sha256 ab12",
        )  # fmt: skip
    with pytest.raises(RecordLockedError, match=r"record L01/week_6/vs is locked \(visit week_6 "
                       r"of L01 is locked\): a new record is refused"):  # fmt: skip
        save_import(store, records=[RecordInput("L01", "week_6", "vs", VS)], actor="importer",
                    reason="odm.xml")  # fmt: skip
    assert audit_events(db_url) == events
    assert store.subject("L03") is None


def test_the_listing_filters_and_counts_verified_fields(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url)
    store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=1, actor="monitor")
    rows = store.lock_status(subjects=("L01",), visits=("week_0",))
    visit = store.protocol.visit("week_0")
    assert visit is not None
    sizes = {f.id: len(f.fields) for f in store.protocol.forms}  # every field counts
    assert [(r.form_id, r.status, r.verified_fields, r.total_fields) for r in rows] == [
        (form, "complete" if form == "vs" else "not started", int(form == "vs"), sizes[form])
        for form in visit.forms
    ]
    assert sizes["vs"] == 3
    assert [r.subject_id for r in store.lock_status(forms=("vs",), statuses=("complete",))] == [
        "L01", "L02",
    ]  # fmt: skip
    assert store.lock_status(sites=("site02",)) == []
    with pytest.raises(InputError, match="status 'done': use one of"):
        store.lock_status(statuses=("done",))
    text_csv = as_csv(store.lock_status(forms=("vs",), visits=("week_0",)))
    assert text_csv.splitlines() == [
        "subject_id,site,visit_id,form_id,instance,status,record_status,version,"
        "verified_fields,total_fields,lock_level,locked_by,locked_at",
        "L01,site01,week_0,vs,1,complete,complete,1,1,3,,,",
        "L02,site01,week_0,vs,1,complete,complete,1,0,3,,,",
    ]


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        ('UPDATE field_verification SET fields_json = \'["height","weight"]\'', "verification"),
        ("UPDATE data_lock SET locked = false", "lock"),
        ("DELETE FROM data_lock", "lock"),
    ],
)
def test_verify_detects_marks_and_locks_changed_behind_the_store(
    open_study: OpenStudy, db_url: str, tamper: str, kind: str
) -> None:
    store = _study(open_study, db_url)
    store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=1, actor="monitor")
    store.lock(LockSelection(subjects=("L02",)), level="subject", actor="monitor")
    assert verify_audit(db_url).ok
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(tamper))
    finally:
        engine.dispose()
    result = verify_audit(db_url)
    assert not result.ok
    assert result.mismatched_kind == kind
    assert "outside clestudy" in (result.problem or "")
    assert json.dumps(result.mismatched_record).startswith(f'"{STUDY}/L0')


@pytest.mark.postgres
def test_the_app_role_may_verify_lock_and_unlock_but_not_delete_the_rows() -> None:
    """PostgreSQL least privilege: ``clestudy_app`` updates marks and locks, never deletes them."""

    for owner in _postgres_url():
        app = owner + quote(" -crole=clestudy_app")
        with open_store(owner, STUDY) as store:  # the owner migrates
            store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
        with open_store(app, STUDY) as store:
            store.save_record("L01", "week_0", "vs", VS, actor="c")
            store.verify_fields("L01", "week_0", "vs", ["weight"], expected_version=1, actor="m")
            store.save_record("L01", "week_0", "vs", {"weight": "71"}, actor="c", reason="scale",
                              expected_version=1)  # fmt: skip
            selection = LockSelection(subjects=("L01",))
            store.lock(selection, level="subject", actor="monitor")
            store.unlock(selection, level="subject", actor="admin", reason="correction")
            assert store.record_review("L01", "week_0", "vs").verified == ()
        engine = make_engine(app)
        try:
            for table in ("field_verification", "data_lock"):
                with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
                    conn.execute(text(f"DELETE FROM {table}"))
        finally:
            engine.dispose()
        assert verify_audit(owner).ok
