"""A lock refuses every data change, and only data changes: resolving a discrepancy (like raising,
answering or closing a query) records the review of a value and changes none, so it is allowed on
a locked record at every lock level, and the record stays exactly as locked
(docs/data-management.md, "Verification and locking").
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.store.test_store_edit_checks import _store

from clestudy.errors import RecordLockedError
from clestudy.store import LockSelection, Store, audit_events, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
CHECK = "builtin.visit_window"


def _store_with_a_discrepancy(open_study: OpenStudy, url: str) -> Store:
    store = _store(open_study, url)  # L01 with its baseline vital signs dated 2025-01-06
    # week 12 dated before the baseline: the visit-window warning opens a discrepancy
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-01"}, actor="c")
    assert [d.check_id for d in store.discrepancies(status="open")] == [CHECK]
    return store


def _lock(store: Store, level: str) -> None:
    if level == "form":
        store.lock_record("L01", "week_12", "vs", expected_version=1, actor="monitor")
    else:
        selection = LockSelection(
            subjects=("L01",), visits=("week_12",) if level == "visit" else None
        )
        store.lock(selection, level=level, actor="monitor")  # type: ignore[arg-type]


@pytest.mark.parametrize("level", ["form", "visit", "subject"])
def test_a_discrepancy_is_resolved_on_a_locked_record_which_stays_locked(
    open_study: OpenStudy, db_url: str, level: str
) -> None:
    store = _store_with_a_discrepancy(open_study, db_url)
    _lock(store, level)
    (record,) = store.records(subject_id="L01", visit_id="week_12")
    resolved = store.resolve_discrepancy(
        "L01", "week_12", "vs", CHECK, reason="visit moved by the sponsor", actor="coordinator"
    )
    assert (resolved.status, resolved.resolution) == ("resolved", "visit moved by the sponsor")
    assert store.records(subject_id="L01", visit_id="week_12") == [record]  # nothing changed
    assert store.record_review("L01", "week_12", "vs").lock_level == level
    with pytest.raises(RecordLockedError):  # the data themselves stay locked
        store.save_record(
            "L01", "week_12", "vs", {"vsdat": "2025-04-01"}, actor="c", reason="fix",
            expected_version=record.version,
        )  # fmt: skip
    events = audit_events(db_url, entity_prefix=f"{STUDY}/L01/week_12/vs/{CHECK}")
    assert [e["action"] for e in events] == ["open", "resolve"]
    assert verify_audit(db_url).ok


def test_a_data_quality_finding_of_a_locked_subject_is_excluded(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store_with_a_discrepancy(open_study, db_url)
    _lock(store, "subject")
    store.run_quality_rules(actor="monitor")
    key = store.data_quality(subject_id="L01", source="dq-rule", status="open")[0].key
    excluded = store.exclude_finding(key, reason="confirmed with the source", actor="monitor")
    assert excluded.status == "excluded"
    assert store.record_review("L01", "week_12", "vs").lock_level == "subject"
    assert verify_audit(db_url).ok
