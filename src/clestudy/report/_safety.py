"""Safety tables: adverse events by term and worst CTCAE grade, by relatedness, serious events,
events that changed the dose, the AE listing, lab toxicity shift tables and the steroid course.

Every table counts the stored records (complete ones; incomplete records are missing, never
zero). Grades are the ones entered on the AE form (``AETOXGR``) and the lab grades the store
derived on save (``ctcaelabs``); nothing is re-graded here.

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017.
CDISC SDTM Controlled Terminology: AEOUT (C66768), AEACN (C66767), AEREL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from clestudy.instruments._ctcae_labs import LAB_TESTCD_TERMS
from clestudy.report._data import StudyData
from clestudy.report._format import fmt_num

__all__ = ["SafetyTables", "build_safety", "is_ongoing"]

#: AEOUT codes that say the event has ended, whether or not an end date was entered.
_ENDED = frozenset({"RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE", "FATAL"})
#: AEACN codes that are a change of the study drug.
_DOSE_CHANGE = frozenset({"DOSE REDUCED", "DOSE INCREASED", "DRUG INTERRUPTED", "DRUG WITHDRAWN"})
GRADES = (1, 2, 3, 4, 5)


def is_ongoing(end_date: object, outcome: object) -> bool:
    """Whether an AE is ongoing: no end date and an outcome that does not say it ended.

    >>> is_ongoing(None, "RECOVERED/RESOLVED"), is_ongoing(None, "RECOVERING/RESOLVING")
    (False, True)
    >>> is_ongoing("2010-01-02", None)
    False
    """
    if end_date not in (None, ""):
        return False
    return str(outcome or "").upper() not in _ENDED


@dataclass
class SafetyTables:
    """Display rows of every safety table; ``notes`` say why a table is missing."""

    listing: list[dict[str, str]] = field(default_factory=list)
    by_grade: list[dict[str, Any]] = field(default_factory=list)
    by_relatedness: list[dict[str, Any]] = field(default_factory=list)
    relatedness_levels: list[str] = field(default_factory=list)
    serious: list[dict[str, str]] = field(default_factory=list)
    dose_change: list[dict[str, str]] = field(default_factory=list)
    shifts: list[dict[str, Any]] = field(default_factory=list)
    steroid_course: list[dict[str, str]] = field(default_factory=list)
    steroid_visits: list[str] = field(default_factory=list)
    has_ae_form: bool = False
    notes: dict[str, str] = field(default_factory=dict)


def _ae_rows(data: StudyData) -> list[dict[str, Any]]:
    role = data.roles.adverse_events
    assert role is not None

    def get(values: dict[str, Any], variable: str) -> Any:
        field_id = role.field_id(variable)
        return values.get(field_id) if field_id else None

    rows = []
    for record in data.form_records(role.id, complete_only=False):
        v = record.values
        grade = get(v, "AETOXGR")
        rows.append(
            {
                "subject": record.subject_id,
                "visit": record.visit_id,
                "term": str(get(v, "AETERM") or ""),
                "start": str(get(v, "AESTDAT") or ""),
                "end_date": get(v, "AEENDAT"),
                "grade": int(grade) if grade not in (None, "") else None,
                "serious": bool(get(v, "AESER")),
                "relationship": str(get(v, "AEREL") or ""),
                "outcome": str(get(v, "AEOUT") or ""),
                "action": str(get(v, "AEACN") or ""),
            }
        )
    return rows


def _listing_row(ae: dict[str, Any]) -> dict[str, str]:
    end = ae["end_date"]
    if end not in (None, ""):
        shown = str(end)
    elif is_ongoing(end, ae["outcome"]):
        shown = "ongoing"
    else:
        shown = "not recorded"
    return {
        "subject": ae["subject"],
        "visit": ae["visit"],
        "term": ae["term"],
        "start": ae["start"],
        "end": shown,
        "grade": "" if ae["grade"] is None else str(ae["grade"]),
        "serious": "yes" if ae["serious"] else "no",
        "relationship": ae["relationship"].lower(),
        "outcome": ae["outcome"].lower(),
        "action": ae["action"].lower(),
    }


def _by_grade(aes: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Subjects per term by their worst grade of that term, and subjects with any grade."""
    worst: dict[str, dict[str, int]] = defaultdict(dict)
    for ae in aes:
        if ae["grade"] is None:
            continue
        mine = worst[ae["term"]]
        mine[ae["subject"]] = max(mine.get(ae["subject"], 0), ae["grade"])
    rows = []
    for term in sorted(worst, key=lambda t: (-len(worst[t]), t)):
        counts = [sum(1 for g in worst[term].values() if g == grade) for grade in GRADES]
        total = len(worst[term])
        rows.append({"term": term, "grades": counts, "any": f"{total} ({100 * total / n:.0f} %)"})
    return rows


def _by_relatedness(aes: list[dict[str, Any]], levels: list[str]) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for ae in aes:
        counts[ae["term"]][ae["relationship"] or "not recorded"].add(ae["subject"])
    return [
        {"term": term, "counts": [len(counts[term].get(level, ())) for level in levels]}
        for term in sorted(counts)
    ]


def _shifts(data: StudyData) -> list[dict[str, Any]]:
    """Per graded lab: subjects by baseline grade x worst on-treatment grade."""
    out = []
    visits = [v.id for v in data.protocol.visits]
    for role in data.roles.labs:
        score = data.roles.graded_labs.get(role.id)
        if score is None:
            continue
        collected = [v.id for v in data.protocol.visits if role.id in v.forms]
        if not collected:
            continue
        baseline_visit = collected[0]
        grades: dict[str, dict[str, tuple[int | None, int | None]]] = defaultdict(dict)
        for record in data.form_records(role.id):
            derived = record.derived.get(score)
            if not derived:
                continue
            for code in LAB_TESTCD_TERMS:
                grade = derived["values"].get(f"{code}_grade")
                if grade is None:
                    continue
                base, worst = grades[code].get(record.subject_id, (None, None))
                if record.visit_id == baseline_visit:
                    base = int(grade)
                elif visits.index(record.visit_id) > visits.index(baseline_visit):
                    worst = int(grade) if worst is None else max(worst, int(grade))
                grades[code][record.subject_id] = (base, worst)
        for code in LAB_TESTCD_TERMS:
            if code not in grades:
                continue
            matrix = [[0] * 5 for _ in range(5)]  # baseline 0-4 x worst 0-4
            for base, worst in grades[code].values():
                if base is not None and worst is not None:
                    matrix[base][worst] += 1
            field_id = role.field_id(code.upper())
            spec = role.form.field(field_id) if field_id else None
            out.append(
                {
                    "form": role.form.name,
                    "lab": spec.label if spec else code,
                    "term": LAB_TESTCD_TERMS[code][0],
                    "matrix": matrix,
                    "n": sum(map(sum, matrix)),
                }
            )
    return out


def _steroid_course(data: StudyData) -> tuple[list[dict[str, str]], list[str]]:
    """Each concomitant-medication dose field per visit: n, median [Q1, Q3]."""
    rows: list[dict[str, str]] = []
    visits: list[str] = []
    for role in data.roles.conmeds:
        collected = [v for v in data.protocol.visits if role.id in v.forms]
        visits = [v.name for v in collected]
        for spec in role.numeric():
            row = {"label": spec.label + (f" ({spec.unit})" if spec.unit else "")}
            for visit in collected:
                values = data.item(role.id, spec.id, visit.id)["value"].astype(float)
                row[visit.name] = (
                    f"{fmt_num(values.median())} [{fmt_num(values.quantile(0.25))}, "
                    f"{fmt_num(values.quantile(0.75))}]; n = {len(values)}"
                    if len(values)
                    else "—"
                )
            rows.append(row)
    return rows, visits


def build_safety(data: StudyData) -> SafetyTables:
    """Every safety table of one study (see the module docstring)."""
    tables = SafetyTables()
    n = max(len(data.subjects), 1)
    if data.roles.adverse_events is None:
        tables.notes["ae"] = "The protocol has no adverse-event form (CDASH domain AE)."
    else:
        tables.has_ae_form = True
        aes = _ae_rows(data)
        tables.listing = [_listing_row(ae) for ae in aes]
        complete = [ae for ae in aes if ae["grade"] is not None and ae["term"]]
        tables.by_grade = _by_grade(complete, n)
        seen = sorted({ae["relationship"] or "not recorded" for ae in complete})
        tables.relatedness_levels = seen
        tables.by_relatedness = _by_relatedness(complete, seen)
        tables.serious = [_listing_row(ae) for ae in aes if ae["serious"]]
        tables.dose_change = [
            _listing_row(ae) for ae in aes if ae["action"].upper() in _DOSE_CHANGE
        ]
    tables.shifts = _shifts(data)
    if not tables.shifts:
        tables.notes["shift"] = (
            "No lab form of the protocol has CTCAE grades derived on save (a ctcaelabs score "
            "with reference ranges), so there is no lab toxicity shift table."
        )
    tables.steroid_course, tables.steroid_visits = _steroid_course(data)
    if not tables.steroid_course:
        tables.notes["steroids"] = (
            "The protocol has no concomitant-medication dose field (CDASH domain CM)."
        )
    return tables
