"""A batch decides every record in memory: each record sees the ones saved before it in the batch,
exactly as if they had been saved one at a time, and the audit trail says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clestudy.errors import InputError, RecordValidationError, StaleVersionError
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
