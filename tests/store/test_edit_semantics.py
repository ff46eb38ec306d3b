"""Edit semantics from the API: a save patches by default, replaces only when told, and says so."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clestudy.errors import RecordValidationError
from clestudy.store import RecordInput, Store, audit_events, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "pediatric-cle-chart-review"
VITALS = {"vsdat": "2011-03-01", "weight": "70.5", "height": "172"}


def _store(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, STUDY)
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    return store


def _last_event(url: str) -> dict[str, object]:
    return audit_events(url)[-1]


def test_partial_edit_keeps_the_other_fields(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "vs", VITALS, actor="c")
    v2 = store.save_record(
        "P01", "initiation", "vs", {"height": "173"}, actor="c", reason="typo",
        expected_version=1,
    )  # fmt: skip
    # the repro: {"weight": 72.0} with expected version 2 must not delete the others
    v3 = store.save_record(
        "P01", "initiation", "vs", {"weight": 72.0}, actor="c", reason="re-weighed",
        expected_version=v2.version,
    )  # fmt: skip
    assert v3.version == 3
    assert v3.values == {"vsdat": "2011-03-01", "weight": "72.0", "height": "173"}
    event = _last_event(db_url)
    assert event["action"] == "update"
    assert event["after"] == {
        "version": 3,
        "status": "complete",
        "values": {"vsdat": "2011-03-01", "weight": "72.0", "height": "173"},
        "derived": {},
    }
    assert verify_audit(db_url).ok


def test_null_clears_a_field_explicitly_and_the_event_lists_it(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "vs", VITALS, actor="c")
    state = store.save_record(
        "P01", "initiation", "vs", {"height": None}, actor="c", reason="not measured",
        expected_version=1,
    )  # fmt: skip
    assert state.values == {"vsdat": "2011-03-01", "weight": "70.5"}
    after = _last_event(db_url)["after"]
    assert isinstance(after, dict) and after["cleared"] == ["height"]


def test_replace_clears_every_absent_field_and_lists_them(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "vs", VITALS, actor="c")
    state = store.save_record(
        "P01", "initiation", "vs", {"weight": "71"}, actor="c", reason="re-entered",
        expected_version=1, mode="replace",
    )  # fmt: skip
    assert state.values == {"weight": "71"}
    event = _last_event(db_url)
    assert event["after"] == {
        "version": 2,
        "status": "complete",
        "values": {"weight": "71"},
        "derived": {},
        "cleared": ["vsdat", "height"],
    }
    assert event["before"] == {"version": 1, "status": "complete", "values": VITALS, "derived": {}}


def test_a_save_without_value_changes_writes_nothing(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "vs", VITALS, actor="c")
    events = store.audit_count()
    same = store.save_record(
        "P01", "initiation", "vs", {"weight": "70.5"}, actor="c", expected_version=1
    )
    replaced = store.save_record(
        "P01", "initiation", "vs", dict(VITALS), actor="c", expected_version=1, mode="replace"
    )
    assert (same.version, replaced.version, store.audit_count()) == (1, 1, events)


def test_unknown_save_mode_is_refused(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    with pytest.raises(Exception, match=r"P01/initiation/vs: save mode 'merge' is not"):
        store.save_record("P01", "initiation", "vs", VITALS, actor="c", mode="merge")  # type: ignore[arg-type]


def test_next_instance_of_a_repeating_form(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    ae = {"aeterm": "rash", "aestdat": "2011-04-01", "aetoxgr": 1, "aeser": False}
    first = store.save_record("P01", "month_6", "ae", ae, actor="c", instance="next")
    second, third = store.save_records(
        [
            RecordInput("P01", "month_6", "ae", {**ae, "aeterm": "fatigue"}, instance="next"),
            RecordInput("P01", "month_6", "ae", {**ae, "aeterm": "nausea"}, instance="next"),
        ],
        actor="c",
    )
    assert (first.instance, second.instance, third.instance) == (1, 2, 3)
    assert third.key == "P01/month_6/ae#3"
    with pytest.raises(
        RecordValidationError, match=r"P01/initiation/vs: instance 'next' is not allowed"
    ):
        store.save_record("P01", "initiation", "vs", VITALS, actor="c", instance="next")
