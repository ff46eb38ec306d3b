"""The report finds its forms and fields by CDASH tags: a protocol that renames every form and
every tagged field gets the same report, and a missing part is left out with a note."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clestudy.demo._open_label import populate_open_label
from clestudy.demo._run import DEMO_SEED
from clestudy.protocol import Protocol, load_protocol
from clestudy.report import StudySection, build_study_section
from clestudy.store import RecordInput, open_store

BASE = "lenalidomide-cle-open-label"
#: Forms whose fields an instrument reads by id (CLASI items): only the form itself is renamed.
KEEP_FIELDS = {"clasi"}


def _renamed(base: Protocol) -> tuple[Protocol, dict[str, str], dict[tuple[str, str], str]]:
    """Every form id gets a new name, and every field of the other forms too; edit checks
    (written against field ids) are dropped."""
    forms = {f.id: f"crf_{i}" for i, f in enumerate(base.forms)}
    fields = {
        (f.id, spec.id): spec.id if f.id in KEEP_FIELDS else f"item_{i}_{j}"
        for i, f in enumerate(base.forms)
        for j, spec in enumerate(f.fields)
    }
    raw: dict[str, Any] = base.model_dump(mode="json")
    raw["id"] = "renamed-study"
    for form in raw["forms"]:
        old = form["id"]
        form["id"] = forms[old]
        for spec in form["fields"]:
            spec["id"] = fields[old, spec["id"]]
        if form.get("visit_date"):
            form["visit_date"] = fields[old, form["visit_date"]]
    for visit in raw["visits"]:
        visit["forms"] = [forms[f] for f in visit["forms"]]
    for score in raw["derived_scores"]:
        score["form"] = forms[score["form"]]
    endpoints = {e["id"]: f"outcome_{i}" for i, e in enumerate(raw["endpoints"])}
    for endpoint in raw["endpoints"]:
        endpoint["item"] = fields.get((endpoint["form"], endpoint["item"]), endpoint["item"])
        endpoint["form"] = forms[endpoint["form"]]
        endpoint["id"] = endpoints[endpoint["id"]]
    for analysis in raw["analysis_plan"]:
        analysis["endpoint"] = endpoints[analysis["endpoint"]]
    for reference in raw["reference_ranges"]:
        reference["field"] = fields[reference["form"], reference["field"]]
        reference["form"] = forms[reference["form"]]
    raw["edit_checks"] = []
    return Protocol.model_validate(raw), forms, fields


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudySection, StudySection]:
    tmp = tmp_path_factory.mktemp("renamed")
    base = load_protocol(BASE)
    renamed, forms, fields = _renamed(base)
    with open_store(f"sqlite:///{tmp / 'base.db'}", base, actor="test") as store:
        populate_open_label(store, np.random.default_rng(DEMO_SEED))
        original = build_study_section(store)
        subjects = store.subjects()
        records = store.records()
    with open_store(f"sqlite:///{tmp / 'renamed.db'}", renamed, actor="test") as store:
        for s in subjects:
            store.add_subject(s.subject_id, arm=s.arm, site=s.site, actor="test")
        store.save_records(
            [
                RecordInput(r.subject_id, r.visit_id, forms[r.form_id],
                            {fields[r.form_id, k]: v for k, v in r.values.items()}, r.instance)
                for r in records
            ],
            actor="test",
        )  # fmt: skip
        copy = build_study_section(store)
    return original, copy


def _strip(text: str) -> str:
    """Text without form and field ids (the renamed study's ids differ by design)."""
    return re.sub(r"\b(crf|item|outcome)_[0-9_]+\b", "", text)


def test_every_section_is_filled_under_other_form_and_field_names(
    both: tuple[StudySection, StudySection],
) -> None:
    original, copy = both
    assert copy.table_one == original.table_one
    assert len(copy.table_one) > 20  # demographics, vital signs, drug, labs, baseline endpoints
    assert copy.disposition == original.disposition
    assert [o["n"] for o in copy.outcomes] == [o["n"] for o in original.outcomes]
    assert all(o["n"] > 0 for o in copy.outcomes)
    assert copy.responders == original.responders and copy.responders
    assert copy.biomarkers == original.biomarkers and len(copy.biomarkers) >= 11
    assert copy.safety == original.safety and copy.safety
    tables, expected = copy.safety_tables, original.safety_tables
    assert tables.by_grade == expected.by_grade and tables.by_grade
    assert tables.by_relatedness == expected.by_relatedness and tables.by_relatedness
    assert tables.serious == expected.serious and tables.serious
    assert tables.dose_change == expected.dose_change and tables.dose_change
    assert tables.shifts == expected.shifts and tables.shifts
    assert copy.by_visit == original.by_visit and copy.by_visit
    assert copy.biomarker_panels == original.biomarker_panels and copy.biomarker_panels
    # a spaghetti plot per endpoint (CLASI activity and damage, the exploratory interferon
    # score), a waterfall, the swimmer plot, the heatmap and the biomarker figure
    assert len(copy.figures) == len(original.figures) == 7
    assert any("Interferon score" in caption for _, caption in original.figures)
    assert copy.notes == original.notes


def test_a_protocol_without_a_part_gets_a_note_not_an_empty_table(
    both: tuple[StudySection, StudySection],
) -> None:
    original, _ = both
    # the open-label protocol has no concomitant-medication form and no systemic-flare score
    assert original.safety_tables.steroid_course == []
    assert "no concomitant-medication dose field" in original.notes["steroids"]
    assert original.flare == []
    assert "no systemic-flare form" in original.notes["flare"]
    # nor a diagnosis date: Table 1 says "not collected" and the note says why
    assert set(original.notes) == {"steroids", "flare", "disease_history"}
    assert "no diagnosis date" in original.notes["disease_history"]
    shown = {r["label"]: r["value"] for r in original.table_one}
    assert shown["Age at diagnosis (years)"] == "not collected"
    assert shown["Disease duration at the first dose (years)"] == "not collected"


def test_a_protocol_without_an_ae_form_omits_the_safety_tables(tmp_path: Path) -> None:
    base = load_protocol("pediatric-cle-chart-review")
    visits = [v.model_copy(update={"forms": tuple(f for f in v.forms if f != "ae")})
              for v in base.visits]  # fmt: skip
    protocol = base.model_copy(
        update={"forms": tuple(f for f in base.forms if f.domain != "AE"), "visits": tuple(visits)}
    )
    with open_store(f"sqlite:///{tmp_path / 'no-ae.db'}", protocol) as store:
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="test")
        section = build_study_section(store)
    assert section.safety == [] and not section.safety_tables.has_ae_form
    assert section.notes["ae"] == "The protocol has no adverse-event form (CDASH domain AE)."


def test_per_subject_figures_are_left_out_with_a_note_above_the_limit(tmp_path: Path) -> None:
    from clestudy.report._study import PER_SUBJECT_FIGURE_LIMIT

    with open_store(f"sqlite:///{tmp_path / 'many.db'}", BASE) as store:
        for i in range(PER_SUBJECT_FIGURE_LIMIT + 1):
            store.add_subject(f"S{i:03d}", arm="lenalidomide", site="site01", actor="test")
        store.save_record("S000", "week_0", "ex", {"extrt": "LENALIDOMIDE", "exdose": 10},
                          actor="test")  # fmt: skip
        section = build_study_section(store)
    assert section.notes["figures"] == (
        f"The swimmer plot and the per-subject heatmap are drawn for at most "
        f"{PER_SUBJECT_FIGURE_LIMIT} subjects (one row each would be unreadable for "
        f"{PER_SUBJECT_FIGURE_LIMIT + 1})."
    )
    assert section.figures == []
