"""The demo report's disposition, safety, immune-profile and steroid tables, each cell checked
against a direct count or computation from the stored records (never the report's own data)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import pytest
from tests.report._tables import STUDIES, Tables, table

from clestudy.report import build_study_section
from clestudy.report._safety import is_ongoing
from clestudy.store import open_store

OPEN_LABEL, CHART_REVIEW = STUDIES


@pytest.mark.parametrize("study", STUDIES)
def test_ae_grade_table_is_a_direct_count_of_worst_grades(
    demo: tuple[str, Tables], study: str
) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        records = store.records(form_id="ae")
        n = len(store.subjects())
    worst: dict[str, dict[str, int]] = defaultdict(dict)
    for r in records:
        term, subject, grade = str(r.values["aeterm"]), r.subject_id, int(str(r.values["aetoxgr"]))
        worst[term][subject] = max(worst[term].get(subject, 0), grade)
    expected = sorted(
        (
            [term, *(str(sum(g == k for g in by.values())) for k in range(1, 6)),
             f"{len(by)} ({100 * len(by) / n:.0f} %)"]
            for term, by in worst.items()
        ),
        key=lambda row: (-int(row[-1].split()[0]), row[0]),
    )  # fmt: skip
    header, *rows = table(tables, study, "Safety: subjects by term and worst CTCAE grade")
    assert header[1:6] == [f"Grade {k}" for k in range(1, 6)]
    assert records and rows == expected


@pytest.mark.parametrize("study", STUDIES)
def test_relatedness_serious_and_dose_change_tables_match_the_records(
    demo: tuple[str, Tables], study: str
) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        records = store.records(form_id="ae")
    header, *rows = table(tables, study, "Safety: subjects by term and relationship")
    for row in rows:
        for level, cell in zip(header[1:], row[1:], strict=True):
            subjects = {r.subject_id for r in records if r.values["aeterm"] == row[0]
                        and str(r.values["aerel"]).lower() == level}  # fmt: skip
            assert cell == str(len(subjects)), (row[0], level)
    assert sorted(row[0] for row in rows) == sorted({str(r.values["aeterm"]) for r in records})
    _, *serious = table(tables, study, "Safety: serious adverse events")
    assert [(row[0], row[1]) for row in serious] == [
        (r.subject_id, r.values["aeterm"]) for r in records if r.values["aeser"]
    ]
    changed = ("DOSE REDUCED", "DOSE INCREASED", "DRUG INTERRUPTED", "DRUG WITHDRAWN")
    _, *dose = table(tables, study, "Safety: adverse events leading to a change")
    assert [(row[0], row[-1]) for row in dose] == [
        (r.subject_id, str(r.values["aeacn"]).lower())
        for r in records
        if r.values["aeacn"] in changed
    ]
    assert serious and dose


def test_shift_table_is_the_stored_ctcae_grades_of_the_labs(demo: tuple[str, Tables]) -> None:
    url, tables = demo
    with open_store(url, OPEN_LABEL) as store:
        labs = store.records(form_id="labs")
        visits = [v.id for v in store.protocol.visits]
    baseline: dict[tuple[str, str], int] = {}
    worst: dict[tuple[str, str], int] = {}
    for r in labs:
        for key, grade in r.derived["ctcae_labs"]["values"].items():
            if grade is None or key == "worst_grade":
                continue
            code = key.removesuffix("_grade")
            if r.visit_id == visits[0]:
                baseline[code, r.subject_id] = grade
            else:
                worst[code, r.subject_id] = max(worst.get((code, r.subject_id), 0), grade)
    counts: dict[tuple[str, int, int], int] = defaultdict(int)
    for (code, subject), base in baseline.items():
        if (code, subject) in worst:
            counts[code, base, worst[code, subject]] += 1
    header, *rows = table(tables, OPEN_LABEL, "Safety: lab toxicity shift table")
    assert header[:2] == ["Lab (CTCAE term)", "Baseline grade"]
    shown: dict[tuple[str, int, int], int] = {}
    for row in rows:
        for grade, cell in enumerate(row[2:]):
            if cell != "0":
                shown[row[0], int(row[1]), grade] = int(cell)
    with open_store(url, OPEN_LABEL) as store:
        form = store.protocol.form("labs")
    assert form is not None
    label = {
        spec.cdash.split("=")[1].rstrip(")").lower(): spec.label
        for spec in form.fields
        if spec.cdash and "LBTESTCD=" in spec.cdash
    }
    expected = {
        (next(r[0] for r in rows if r[0].startswith(label[code] + " (")), base, w): n
        for (code, base, w), n in counts.items()
    }
    assert counts and shown == expected
    assert any(w > b for (_, b, w) in shown)  # the demo's neutropenia is a shift upwards


@pytest.mark.parametrize("study", STUDIES)
def test_disposition_counts_enrolled_treated_completed_and_withdrawn(
    demo: tuple[str, Tables], study: str
) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        subjects = {s.subject_id for s in store.subjects()}
        treated = {r.subject_id for r in store.records(form_id="ex")}
        final = store.protocol.visits[-1]
        completed = {r.subject_id for r in store.records() if r.visit_id == final.id
                     and r.status != "incomplete"}  # fmt: skip
        withdrawn = {r.subject_id for r in store.records(form_id="ae")
                     if r.values["aeacn"] == "DRUG WITHDRAWN"}  # fmt: skip
    _, *rows = table(tables, study, "Disposition")
    cells = {row[0]: row[1] for row in rows}
    assert cells["Enrolled"] == str(len(subjects))
    assert cells["Treated (study drug recorded)"] == str(len(treated))
    assert cells[f"With data at the final visit ({final.name})"] == str(len(completed))
    assert cells["Study drug withdrawn"] == str(len(withdrawn))


def test_immune_profile_medians_by_response_are_the_stored_values(
    demo: tuple[str, Tables],
) -> None:
    url, tables = demo
    with open_store(url, OPEN_LABEL) as store:
        clasi = {(r.subject_id, r.visit_id): r.derived["clasi"]["values"]["clasi_activity"]
                 for r in store.records(form_id="clasi")}  # fmt: skip
        immune = {(r.subject_id, r.visit_id): r.values
                  for r in store.records(form_id="immune_profile")}  # fmt: skip
        form = store.protocol.form("immune_profile")
    assert form is not None
    # the study's rule is the documented default: a fall of at least 4 points (Klein 2011)
    status = {s: "responder" if clasi[s, "week_0"] - clasi[s, "week_12"] >= 4 else "non"
              for s, v in clasi if v == "week_0"}  # fmt: skip
    header, *rows = table(tables, OPEN_LABEL, "Immune profile by response")
    assert header == ["Measurement", "Responders", "Non-responders", "p"]
    by_label = {row[0]: row for row in rows}
    numeric = [f for f in form.fields if f.type in ("integer", "decimal")]
    checked = 0
    for spec in numeric:
        label = f"{spec.label} ({spec.unit})" if spec.unit else spec.label
        pairs = {
            s: (float(str(immune[s, "week_0"][spec.id])), float(str(immune[s, "week_12"][spec.id])))
            for s in status
            if spec.id in immune.get((s, "week_0"), {})
            and spec.id in immune.get((s, "week_12"), {})
        }
        if not pairs:
            continue
        for group, column in (("responder", 1), ("non", 2)):
            mine = [p for s, p in pairs.items() if status[s] == group]
            before = statistics.median(b for b, _ in mine)
            after = statistics.median(a for _, a in mine)
            assert by_label[label][column] == f"{before:.2f} → {after:.2f} (n = {len(mine)})"
        checked += 1
    assert checked == 11  # pDC, Treg, HLA-DR (3), IFN score, skin IHC (5 counts and fractions)
    assert any(row[0].startswith("Interferon score") for row in rows)


def test_steroid_course_is_the_stored_prednisone_doses(demo: tuple[str, Tables]) -> None:
    url, tables = demo
    with open_store(url, CHART_REVIEW) as store:
        doses = defaultdict(list)
        for r in store.records(form_id="steroids"):
            doses[r.visit_id].append(float(str(r.values["prednisone_mg_day"])))
        names = {v.id: v.name for v in store.protocol.visits}
    header, *rows = table(tables, CHART_REVIEW, "Steroid-dose course")
    assert len(rows) == 1 and rows[0][0].startswith("Prednisone")
    for visit, values in doses.items():
        cell = rows[0][header.index(names[visit])]
        assert cell.startswith(f"{statistics.median(values):.1f} [")
        assert cell.endswith(f"n = {len(values)}")


def test_ongoing_means_ongoing(tmp_path: Path) -> None:
    """A recovered AE with a blank end date is not ongoing; a recovering one is."""
    assert not is_ongoing(None, "RECOVERED/RESOLVED")
    assert is_ongoing("", "RECOVERING/RESOLVING")
    assert not is_ongoing("2026-01-02", "NOT RECOVERED/NOT RESOLVED")
    base = {"aeterm": "Rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}
    with open_store(f"sqlite:///{tmp_path / 'ae.db'}", OPEN_LABEL) as store:
        store.add_subject("L01", arm="lenalidomide", site="site01", actor="test")
        store.save_record("L01", "week_6", "ae", base | {"aeout": "RECOVERED/RESOLVED"},
                          instance=1, actor="test")  # fmt: skip
        store.save_record("L01", "week_6", "ae", base | {"aeout": "RECOVERING/RESOLVING"},
                          instance=2, actor="test")  # fmt: skip
        section = build_study_section(store)
    assert [row["end"] for row in section.safety] == ["not recorded", "ongoing"]
