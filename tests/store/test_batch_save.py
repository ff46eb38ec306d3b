"""A batch decides every record in memory: each record sees the ones saved before it in the batch,
exactly as if they had been saved one at a time, and the audit trail says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clestudy.errors import InputError, NotFoundError, RecordValidationError, StaleVersionError
from clestudy.store import RecordInput, Store, audit_events, verify_audit

OpenStudy = Callable[..., Store]
AE = {"aeterm": "rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}
STUDY = "lenalidomide-cle-open-label"


def _study(open_study: OpenStudy, url: str, *subjects: str) -> Store:
    store = open_study(url, STUDY)
    for subject in subjects:
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="a")
    return store


def _record_events(url: str, subject: str) -> list[tuple[Any, ...]]:
    return [
        (e["action"], e["entity_key"], e["after"]["version"])  # type: ignore[index]
        for e in audit_events(url, entity_prefix=f"{STUDY}/{subject}/")
        if e["entity_type"] == "form_record"
    ]


def test_a_record_created_and_edited_in_one_batch(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1")
    created, edited, again = store.save_records(
        [
            RecordInput("P1", "week_6", "ae", AE),
            RecordInput("P1", "week_6", "ae", {"aetoxgr": 2}, expected_version=1),
            RecordInput("P1", "week_6", "ae", {"aetoxgr": 2}, expected_version=2),
        ],
        actor="a",
        reason="graded again",
    )
    assert (created.version, created.values["aetoxgr"]) == (1, 1)
    assert (edited.version, edited.values["aetoxgr"]) == (2, 2)
    assert again == edited  # no change: nothing written, the state returned
    (stored,) = store.records(form_id="ae")
    assert (stored.version, stored.values) == (2, AE | {"aetoxgr": 2})
    key = f"{STUDY}/P1/week_6/ae"
    assert _record_events(db_url, "P1") == [("create", key, 1), ("update", key, 2)]
    assert verify_audit(db_url).ok


def test_next_instances_count_the_batch(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1", "P2")
    store.save_record("P1", "week_6", "ae", AE, actor="a", instance=3)
    saved = store.save_records(
        [RecordInput(s, "week_6", "ae", AE, instance="next") for s in ("P1", "P2", "P1", "P2")],
        actor="a",
    )
    assert [(r.subject_id, r.instance) for r in saved] == [
        ("P1", 4), ("P2", 1), ("P1", 5), ("P2", 2),
    ]  # fmt: skip
    assert verify_audit(db_url).ok


def test_a_stale_edit_in_a_batch_saves_nothing(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1")
    store.save_record("P1", "week_6", "ae", AE, actor="a")
    before = store.audit_count()
    with pytest.raises(StaleVersionError, match="week_6/ae: the edit was made on version 1 but"):
        store.save_records(
            [
                RecordInput("P1", "week_6", "ae", AE, instance=2),
                RecordInput("P1", "week_6", "ae", {"aetoxgr": 2}, expected_version=1),
                RecordInput("P1", "week_6", "ae", {"aetoxgr": 3}, expected_version=1),
            ],
            actor="a",
            reason="regraded",
        )
    assert [r.instance for r in store.records(form_id="ae")] == [1]
    assert store.audit_count() == before


def test_the_first_invalid_record_names_itself(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1")
    items = [RecordInput("P1", "week_6", "ae", AE, instance=n) for n in range(1, 4)]
    items.append(RecordInput("P1", "week_6", "ae", AE | {"aetoxgr": 9}, instance=4))
    with pytest.raises(RecordValidationError, match=r"P1/week_6/ae#4: field 'aetoxgr'"):
        store.save_records(items, actor="a")
    assert store.records() == []


def test_an_edit_needs_a_reason_also_in_a_batch(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1")
    with pytest.raises(InputError, match="P1/week_6/ae: a reason for change is required"):
        store.save_records(
            [
                RecordInput("P1", "week_6", "ae", AE),
                RecordInput("P1", "week_6", "ae", {"aetoxgr": 2}, expected_version=1),
            ],
            actor="a",
        )
    assert store.records() == []


def test_a_batch_saving_to_a_deleted_record_is_refused(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1")
    store.save_record("P1", "week_6", "ae", AE, actor="a", instance=2)
    store.delete_record("P1", "week_6", "ae", actor="a", reason="entered twice", instance=2)
    with pytest.raises(InputError, match=r"record P1/week_6/ae#2 is deleted; restore it"):
        store.save_records(
            [
                RecordInput("P1", "week_6", "ae", AE),
                RecordInput("P1", "week_6", "ae", AE | {"aetoxgr": 2}, 2, expected_version=2),
            ],
            actor="a",
            reason="regraded",
        )
    assert store.records() == []


def test_preview_decides_as_a_save_would_and_writes_nothing(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _study(open_study, db_url, "P1")
    events = store.audit_count()
    bad = store.preview_record(RecordInput("P1", "week_6", "ae", AE | {"aetoxgr": 9}))
    assert any("aetoxgr" in problem for problem in bad.problems), bad.problems
    assert bad.derived == {}
    good = store.preview_record(RecordInput("P1", "week_6", "ae", AE))
    assert (good.problems, good.missing) == ([], [])
    assert store.audit_count() == events and store.records(form_id="ae") == []
    saved = store.save_record("P1", "week_6", "ae", AE, actor="a")
    assert good.values == saved.values
    assert good.derived == saved.derived


def test_preview_of_an_unknown_subject_is_not_found(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, "P1")
    with pytest.raises(NotFoundError, match="subject 'P9' is not enrolled"):
        store.preview_record(RecordInput("P9", "week_6", "ae", AE))


def test_a_slots_state_is_the_state_its_init_makes() -> None:
    """``RecordSlot.state`` sets the frozen state's fields at once: equal to the state
    ``RecordState(...)`` makes, field for field, and as frozen."""
    import dataclasses

    from clestudy.store._rows import RecordSlot, RecordState

    slot = RecordSlot(7, 1, "P1", "week_6", "ae", 2, '{"aeterm":"rash"}', "complete", 3, False,
                      "2026-01-01T00:00:00.000000Z", "a", "1.0", 3, {"s": {"values": {}}})  # fmt: skip
    made = RecordState("P1", "week_6", "ae", 2, {"aeterm": "rash"}, {"s": {"values": {}}}, 3,
                       "complete", "2026-01-01T00:00:00.000000Z", "a", "1.0")  # fmt: skip
    for state in (slot.state(), slot.state({"aeterm": "rash"})):
        assert state == made and dataclasses.astuple(state) == dataclasses.astuple(made)
        assert vars(state) == vars(made) and state.key == "P1/week_6/ae#2"
        with pytest.raises(dataclasses.FrozenInstanceError):
            state.version = 4  # type: ignore[misc]
