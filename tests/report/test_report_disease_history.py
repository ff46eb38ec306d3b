"""Table 1's age at diagnosis and disease duration, from a diagnosis date on a medical-history
form (CDASH MH, MHSTDAT), checked against a hand computation from the entered dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.report._tables import summary

from clestudy.protocol import FieldSpec, FormSpec, Protocol, load_protocol
from clestudy.report import build_study_section
from clestudy.store import open_store

#: (subject, date of birth, date of diagnosis or None, first dose)
SUBJECTS = (
    ("L01", "1970-03-15", "2001-06-01", "2010-01-04"),
    ("L02", "1985-11-30", "2008-02-29", "2010-02-15"),
    ("L03", "1962-07-01", "1990-12-24", "2010-03-01"),
    ("L04", "1990-01-01", None, "2010-04-12"),
)


def _with_history() -> Protocol:
    base = load_protocol("lenalidomide-cle-open-label")
    history = FormSpec(
        id="cle_history",
        name="Cutaneous lupus history",
        domain="MH",
        fields=(
            FieldSpec(id="diagnosis", label="Diagnosis", type="text", cdash="MHTERM"),
            FieldSpec(id="diagnosed_on", label="Date of diagnosis", type="date",
                      cdash="MHSTDAT"),
        ),
    )  # fmt: skip
    visits = [v.model_copy(update={"forms": (*v.forms, "cle_history")}) if v.id == "week_0"
              else v for v in base.visits]  # fmt: skip
    return base.model_copy(update={"forms": (*base.forms, history), "visits": tuple(visits)})


def _years(since: str, until: str) -> float:
    return (dt.date.fromisoformat(until) - dt.date.fromisoformat(since)).days / 365.25


def test_age_at_diagnosis_and_disease_duration_from_the_dates(tmp_path: Path) -> None:
    protocol = _with_history()
    with open_store(f"sqlite:///{tmp_path / 'mh.db'}", protocol) as store:
        for subject, born, diagnosed, first_dose in SUBJECTS:
            store.add_subject(subject, arm="lenalidomide", site="site01", actor="test")
            store.save_record(subject, "week_0", "dm", {"brthdat": born, "age": 40, "sex": "F"},
                              actor="test")  # fmt: skip
            store.save_record(subject, "week_0", "ex", {"extrt": "LENALIDOMIDE", "exdose": 10,
                              "exstdat": first_dose}, actor="test")  # fmt: skip
            if diagnosed:
                store.save_record(subject, "week_0", "cle_history",
                                  {"diagnosis": "DLE", "diagnosed_on": diagnosed}, actor="test")  # fmt: skip
        section = build_study_section(store)
    rows = section.table_one
    shown = {r["label"]: r["value"] for r in rows}
    known = [s for s in SUBJECTS if s[2]]
    ages = [_years(born, str(diagnosed)) for _, born, diagnosed, _ in known]
    durations = [_years(str(diagnosed), first) for _, _, diagnosed, first in known]
    assert shown["Age at diagnosis (years)"] == summary(ages, 1)
    assert shown["Disease duration at the first dose (years)"] == summary(durations, 1)
    # hand check of one: L01 diagnosed 2001-06-01, first dose 2010-01-04: 3139 days
    assert round(durations[0], 4) == round(3139 / 365.25, 4)
    # the rows sit in the demographics group, and nothing says "not collected"
    group = next(i for i, r in enumerate(rows) if r["label"] == "Demographics and disease history")
    index = next(i for i, r in enumerate(rows) if r["label"] == "Age at diagnosis (years)")
    assert index > group and all(r["indent"] != "group" for r in rows[group + 1 : index])
    assert "not collected" not in shown.values() and "disease_history" not in section.notes


def test_a_repeating_medical_history_form_is_not_read_as_the_diagnosis() -> None:
    from clestudy.report._roles import study_roles

    protocol = _with_history()
    forms = tuple(f.model_copy(update={"repeating": True}) if f.id == "cle_history" else f
                  for f in protocol.forms)  # fmt: skip
    repeating = protocol.model_copy(update={"forms": forms})
    assert study_roles(protocol).diagnosis_date == ("cle_history", "diagnosed_on")
    assert study_roles(repeating).diagnosis_date is None
