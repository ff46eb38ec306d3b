"""Edit checks on save, from the API: errors refuse the save (all at once), warnings open
discrepancies that are resolved with a reason, or by themselves when the warning stops firing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import text

from clestudy.errors import InputError, NotFoundError, RecordValidationError
from clestudy.store import Store, audit_events, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
AE = {"aeterm": "Rash", "aestdat": "2025-03-10", "aetoxgr": 2, "aeser": False}


def _store(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, STUDY)
    # a fixed clock (a date-free check result) that never runs behind the registration event
    today = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    store.clock = lambda: today
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("L01", "week_0", "vs", {"vsdat": "2025-01-06", "weight": "70"}, actor="c")
    return store


def test_errors_refuse_the_save_and_are_reported_together(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    bad = {**AE, "aeendat": "2025-03-01", "aetoxgr": 9, "aeterm": None}
    with pytest.raises(RecordValidationError) as caught:
        store.save_record("L01", "week_12", "ae", bad, actor="c", instance="next")
    lines = str(caught.value).splitlines()
    assert lines[0] == "L01/week_12/ae: field 'aetoxgr': 9 is out of range; allowed 1 to 5"
    assert lines[1].startswith("L01/week_12/ae: aestdat, aeendat: ")
    assert lines[1].endswith("[builtin.end_not_before_start]")
    assert len(lines) == 2  # the blank term only makes the record incomplete
    with pytest.raises(RecordValidationError, match=r"lbdat: .*\[builtin.date_not_in_future\]"):
        store.save_record("L01", "week_12", "labs", {"lbdat": "2099-01-01"}, actor="c")
    fatal = {**AE, "aetoxgr": 5, "aeout": "RECOVERED/RESOLVED", "aeendat": "2025-03-20"}
    with pytest.raises(RecordValidationError, match=r"\[builtin.grade5_fatal_serious\]"):
        store.save_record("L01", "week_12", "ae", fatal, actor="c")
    assert [r.form_id for r in store.records()] == ["vs"]


def test_a_warning_opens_a_discrepancy_resolved_with_a_reason(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    # week 12 is day 84 +/- 7 of the baseline 2025-01-06; dated before the baseline instead
    saved = store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-01"}, actor="c")
    assert saved.status == "complete"
    (found,) = store.discrepancies()
    assert (found.record, found.check_id, found.fields, found.status) == (
        "L01/week_12/vs", "builtin.visit_window", ("vsdat",), "open",
    )  # fmt: skip
    event = audit_events(db_url)[-1]
    assert (event["action"], event["entity_type"], event["entity_key"]) == (
        "open", "discrepancy", f"{STUDY}/L01/week_12/vs/builtin.visit_window",
    )  # fmt: skip
    assert event["after"] == {
        "check": "builtin.visit_window",
        "severity": "warning",
        "fields": ["vsdat"],
        "message": found.message,
        "status": "open",
        "resolution": None,
    }
    with pytest.raises(InputError, match=r"resolving needs a reason"):
        store.resolve_discrepancy("L01", "week_12", "vs", "builtin.visit_window", reason=" ",
                                  actor="dm")  # fmt: skip
    resolved = store.resolve_discrepancy(
        "L01", "week_12", "vs", "builtin.visit_window", reason="visit moved, confirmed",
        actor="dm",
    )  # fmt: skip
    assert (resolved.status, resolved.resolution) == ("resolved", "visit moved, confirmed")
    assert store.discrepancies(status="open") == []
    with pytest.raises(InputError, match=r"already resolved"):
        store.resolve_discrepancy("L01", "week_12", "vs", "builtin.visit_window", reason="x",
                                  actor="dm")  # fmt: skip
    with pytest.raises(NotFoundError, match=r"no discrepancy builtin.x on record L01/week_0/vs"):
        store.resolve_discrepancy("L01", "week_0", "vs", "builtin.x", reason="x", actor="dm")
    # an edit of another field does not reopen it; a new out-of-window date does
    store.save_record("L01", "week_12", "vs", {"weight": "71"}, actor="c", reason="r",
                      expected_version=1)  # fmt: skip
    assert store.discrepancies(status="open") == []
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-02"}, actor="c", reason="r",
                      expected_version=2)  # fmt: skip
    assert [d.status for d in store.discrepancies()] == ["open"]
    assert audit_events(db_url)[-1]["action"] == "reopen"
    assert verify_audit(db_url).ok


def test_a_resave_where_the_warning_no_longer_fires_resolves_it(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-01"}, actor="c")
    fixed = store.save_record(
        "L01", "week_12", "vs", {"vsdat": "2025-03-31"}, actor="c", reason="date typo",
        expected_version=1,
    )  # fmt: skip
    (found,) = store.discrepancies()
    assert found.status == "resolved"
    assert found.resolution == f"the check no longer fires (record version {fixed.version})"
    record_event, discrepancy_event = audit_events(db_url)[-2:]
    assert (record_event["action"], discrepancy_event["action"]) == ("update", "resolve")
    assert discrepancy_event["reason"] == found.resolution
    with pytest.raises(InputError, match=r"discrepancy status 'closed' is not"):
        store.discrepancies(status="closed")


def test_verify_names_a_discrepancy_edited_behind_the_store(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    store.save_record("L01", "week_12", "vs", {"vsdat": "2025-01-01"}, actor="c")
    assert verify_audit(db_url).ok
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE discrepancy SET status = 'resolved'"))
    result = verify_audit(db_url)
    assert (result.mismatched_kind, result.mismatched_record) == (
        "discrepancy", f"{STUDY}/L01/week_12/vs/builtin.visit_window",
    )  # fmt: skip
    assert result.problem is not None and "edited outside clestudy" in result.problem
