"""An import's store path: values checked once (``checked_values``) and saved as they are, and
subjects enrolled together by the body of ``Store.add_subject``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.store.test_query_counts import _statements

from clestudy.errors import InputError, RecordValidationError
from clestudy.store import (
    CheckedValues,
    RecordInput,
    Store,
    SubjectInput,
    audit_events,
    checked_values,
    save_import,
    verify_audit,
)

OpenStudy = Callable[..., Store]
STUDY = "pediatric-cle-chart-review"
#: a labs record as entered (text, padding) and as the store keeps it (protocol ranges: esr 0-200)
LABS_ENTERED = {"lbdat": "2011-03-01", "esr": " 26", "wbc": "1.50"}


def _labs(store: Store) -> Any:
    form = store.protocol.form("labs")
    assert form is not None
    return form


def _subjects(n: int) -> list[SubjectInput]:
    return [SubjectInput(f"P{i:03d}", "lenalidomide", "site01") for i in range(n)]


def test_checked_values_are_what_the_store_would_store(open_study: OpenStudy, db_url: str) -> None:
    """The same record imported as checked values and as entered text gives the same row and the
    same audit event (the store's own check returns checked values unchanged)."""
    store = open_study(db_url, STUDY)
    checked, problems = checked_values(_labs(store), LABS_ENTERED, where="P000/labs")
    assert problems == [] and isinstance(checked, CheckedValues)
    save_import(
        store, subjects=_subjects(2),
        records=[RecordInput("P000", "initiation", "labs", checked),
                 RecordInput("P001", "initiation", "labs", dict(LABS_ENTERED))],
        actor="importer", reason="labs.csv (sha256 ab12)",
    )  # fmt: skip
    one, other = store.records()
    assert one.values == other.values == {"lbdat": "2011-03-01", "esr": 26, "wbc": "1.50"}
    assert (one.status, one.version) == (other.status, other.version)
    afters = [e["after"] for e in audit_events(db_url) if e["entity_type"] == "form_record"]
    assert len(afters) == 2 and afters[0] == afters[1]
    assert verify_audit(db_url).ok


def test_checked_values_of_another_form_are_checked_again(
    open_study: OpenStudy, db_url: str
) -> None:
    """Only values checked against the very form saved to are trusted: others are checked, and
    refused when they do not fit."""
    store = open_study(db_url, STUDY)
    steroids = store.protocol.form("steroids")
    assert steroids is not None
    foreign = CheckedValues(steroids, {"esr": 900})  # claims a check it never had
    with pytest.raises(RecordValidationError, match=r"P000/initiation/labs: field 'esr': 900 is "
                       "out of range; allowed 0 to 200 mm/h"):  # fmt: skip
        save_import(store, subjects=_subjects(1),
                    records=[RecordInput("P000", "initiation", "labs", foreign)],
                    actor="importer", reason="labs.csv")  # fmt: skip
    assert store.subjects() == [] and audit_events(db_url)[-1]["entity_type"] == "protocol"


def test_checked_values_with_problems_are_not_marked_and_cannot_change() -> None:
    from clestudy.protocol import load_protocol

    form = load_protocol(STUDY).form("labs")
    assert form is not None
    values, problems = checked_values(form, {"esr": "fast"}, where="data.csv: line 2")
    assert type(values) is dict
    assert problems == [
        "data.csv: line 2: field 'lbdat' is required",
        "data.csv: line 2: field 'esr': 'fast' is not an integer",
    ]
    checked, _ = checked_values(form, LABS_ENTERED, where="data.csv: line 3")
    assert isinstance(checked, CheckedValues)
    with pytest.raises(TypeError, match="checked values are read-only"):
        checked["esr"] = 900
    with pytest.raises(TypeError, match="checked values are read-only"):
        checked.update(esr=900)
    assert dict(checked) == {"lbdat": "2011-03-01", "esr": 26, "wbc": "1.50"}


def test_an_update_with_checked_values_is_checked_as_any_edit(
    open_study: OpenStudy, db_url: str
) -> None:
    """An edit of a stored record merges with what is stored, so the store checks it itself."""
    store = open_study(db_url, STUDY)
    checked, _ = checked_values(_labs(store), LABS_ENTERED, where="x")
    save_import(store, subjects=_subjects(1),
                records=[RecordInput("P000", "initiation", "labs", checked)],
                actor="importer", reason="first.csv")  # fmt: skip
    again, _ = checked_values(_labs(store), {"lbdat": "2011-03-01", "esr": "30"}, where="x")
    [saved] = save_import(store, records=[RecordInput("P000", "initiation", "labs", again, 1, 1)],
                          actor="importer", reason="second.csv")  # fmt: skip
    assert saved.version == 2 and saved.values == {"lbdat": "2011-03-01", "esr": 30, "wbc": "1.50"}


def test_an_import_enrols_every_subject_with_a_fixed_number_of_statements(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, STUDY)
    counts = []
    for first, n in ((0, 3), (3, 60)):
        subjects = [SubjectInput(f"P{i:03d}", "lenalidomide", "site01")
                    for i in range(first, first + n)]  # fmt: skip
        with _statements(store) as seen:
            save_import(store, subjects=subjects, actor="importer", reason="subjects.csv")
        counts.append(len(seen))
    assert counts[0] == counts[1]
    assert [s.subject_id for s in store.subjects()] == [f"P{i:03d}" for i in range(63)]
    enrolments = [e for e in audit_events(db_url) if e["action"] == "enroll"]
    assert len(enrolments) == 63
    assert enrolments[0]["after"] == {"arm": "lenalidomide", "site": "site01", "status": "enrolled"}
    assert {e["reason"] for e in enrolments} == {"subjects.csv"}
    assert verify_audit(db_url).ok


@pytest.mark.parametrize(
    ("subjects", "message"),
    [
        ([SubjectInput("P001", "lenalidomide", "site01")] * 2,
         "subject P001 is enrolled twice by one change"),
        ([SubjectInput("P002", "lenalidomide", "site01"),
          SubjectInput("P000", "lenalidomide", "site01")],
         "subject P000 is already enrolled in pediatric-cle-chart-review"),
        ([SubjectInput("P002", "placebo", "site01")],
         r"subject P002: arm 'placebo' is not one of \['lenalidomide'\]"),
        ([SubjectInput("P 2", "lenalidomide", "site01")],
         r"subject id 'P 2': use letters, digits, '-' and '_'"),
    ],
)  # fmt: skip
def test_a_refused_enrolment_writes_nothing(
    open_study: OpenStudy, db_url: str, subjects: list[SubjectInput], message: str
) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("P000", arm="lenalidomide", site="site01", actor="coordinator")
    events = audit_events(db_url)
    with pytest.raises(InputError, match=message):
        save_import(store, subjects=subjects, actor="importer", reason="subjects.csv")
    assert [s.subject_id for s in store.subjects()] == ["P000"]
    assert audit_events(db_url) == events


def test_an_import_pauses_the_cyclic_collector_and_resumes_it() -> None:
    import gc

    from clestudy.store._import_batch import collection_paused

    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():  # nested: the outer pause resumes it
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="boom"), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


def test_an_import_without_states_stores_the_same(open_study: OpenStudy, db_url: str) -> None:
    """``states=False`` builds no record state (an empty list) and writes what the default does:
    the same records, versions, statuses and audit states, creates and edits alike."""
    store = open_study(db_url, STUDY)
    subjects = [SubjectInput(f"{p}{i:03d}", "lenalidomide", "site01") for p in "AB"
                for i in range(3)]  # fmt: skip

    def records(prefix: str, esr: int, version: int | None) -> list[RecordInput]:
        return [RecordInput(f"{prefix}{i:03d}", "initiation", "labs",
                            {"lbdat": "2011-03-01", "esr": str(esr + i)}, 1, version)
                for i in range(3)]  # fmt: skip

    states = save_import(store, subjects=subjects, records=records("A", 10, None),
                         actor="importer", reason="r")  # fmt: skip
    assert [s.values["esr"] for s in states] == [10, 11, 12]
    assert save_import(store, records=records("B", 10, None), actor="importer", reason="r",
                       states=False) == []  # fmt: skip
    save_import(store, records=records("A", 20, 1), actor="importer", reason="fix")
    assert save_import(store, records=records("B", 20, 1), actor="importer", reason="fix",
                       states=False) == []  # fmt: skip

    def kept(prefix: str) -> list[tuple[Any, ...]]:
        return sorted((r.subject_id[1:], r.values["esr"], r.status, r.version)
                      for r in store.records() if r.subject_id.startswith(prefix))  # fmt: skip

    assert kept("A") == kept("B") == [("000", 20, "complete", 2), ("001", 21, "complete", 2),
                                      ("002", 22, "complete", 2)]  # fmt: skip
    afters: dict[str, list[Any]] = {"A": [], "B": []}
    for event in audit_events(db_url):
        if event["entity_type"] == "form_record":
            afters[str(event["entity_key"]).split("/")[1][0]].append(event["after"])
    assert afters["A"] == afters["B"] and len(afters["A"]) == 6
    assert verify_audit(db_url).ok


def test_record_input_new_is_the_dataclass() -> None:
    """``RecordInput.new`` (an importer's, without the frozen ``__init__``) makes the same, as
    frozen, record input as the constructor."""
    import dataclasses

    made = RecordInput.new("P01", "week_0", "labs", {"esr": 26}, 2)
    assert made == RecordInput("P01", "week_0", "labs", {"esr": 26}, 2)
    assert dataclasses.asdict(made) == dataclasses.asdict(RecordInput("P01", "week_0", "labs",
                                                                      {"esr": 26}, 2))  # fmt: skip
    assert repr(made) == repr(RecordInput("P01", "week_0", "labs", {"esr": 26}, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.instance = 3  # type: ignore[misc]
