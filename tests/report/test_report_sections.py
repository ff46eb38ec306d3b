"""Report sections built from a small store: defaults the report must take from the instruments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from clestudy.instruments._sledai import SLEDAI2K_DESCRIPTORS
from clestudy.protocol import Protocol, load_protocol
from clestudy.report import build_study_section
from clestudy.report._data import endpoints_from_tidy
from clestudy.store import endpoint_table, open_store, tidy_table


def _clasi_blank() -> dict[str, object]:
    """Every CLASI item entered as 0 (or 'no'): a blank item would leave the form incomplete."""
    form = load_protocol("lenalidomide-cle-open-label").form("clasi")
    assert form is not None
    return {f.id: (False if f.type == "boolean" else 0) for f in form.fields if f.id != "rsdat"}


ZEROS = _clasi_blank()

# CLASI activity 20 -> 16: a 4-point decrease (responder by the default rule, Klein 2011) that is
# only a 20 % fall (non-responder by CLASI-50). Erythema counts 1-3, scale 1-2 per area.
WEEK_0 = ZEROS | {
    "nose_erythema": 3,
    "nose_scale": 2,
    "ears_erythema": 3,
    "ears_scale": 2,
    "rest_of_face_erythema": 3,
    "rest_of_face_scale": 2,
    "chest_erythema": 3,
    "chest_scale": 2,
}
WEEK_12 = ZEROS | {"nose_erythema": 3, "nose_scale": 2, "ears_erythema": 3, "ears_scale": 2,
           "rest_of_face_erythema": 3, "rest_of_face_scale": 2, "chest_erythema": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "expected_rule", "expected_status"),
    [
        ({}, "4-point", "responder"),  # no setting: the documented default, never CLASI-50
        ({"clasi_response_rule": "50-percent"}, "50-percent", "non-responder"),
    ],
)
def test_responder_table_uses_the_study_rule_or_the_documented_default(
    tmp_path: Path, settings: dict[str, str], expected_rule: str, expected_status: str
) -> None:
    base = load_protocol("lenalidomide-cle-open-label")
    protocol = base.model_copy(
        update={"settings": {"reason_for_change_required": True, **settings}}
    )
    with open_store(f"sqlite:///{tmp_path / 'study.db'}", protocol) as store:
        store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("L01", "week_0", "clasi", WEEK_0, actor="investigator")
        store.save_record("L01", "week_12", "clasi", WEEK_12, actor="investigator")
        section = build_study_section(store)
    assert section.responder_rule is not None and f"'{expected_rule}'" in section.responder_rule
    assert section.responders[0]["week_0"] == "20 (moderate)"
    assert section.responders[0]["week_12"] == "16 (moderate)"
    assert section.responders[0]["response"] == expected_status


def test_an_incomplete_clasi_is_missing_in_table_one_and_responders(tmp_path: Path) -> None:
    """Issue repro: ``{}`` saved as CLASI is not scored 0 "mild" nor averaged into Table 1."""
    with open_store(f"sqlite:///{tmp_path / 'study.db'}", "lenalidomide-cle-open-label") as store:
        for subject in ("L01", "L02"):
            store.add_subject(subject, arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("L01", "week_0", "clasi", WEEK_0, actor="investigator")
        store.save_record("L02", "week_0", "clasi", {}, actor="investigator")
        section = build_study_section(store)
    baseline = [r for r in section.table_one if r["label"].startswith("CLASI activity")]
    assert baseline == [
        {
            "label": "CLASI activity at Week 0 (baseline) (points)",
            "value": "20.0 (—); median 20.0 [20.0, 20.0]; missing 1",
            "indent": "",
        }
    ]
    l02 = section.responders[1]
    assert (l02["subject"], l02["week_0"], l02["response"]) == ("L02", "—", "missing visit")


def _flare_protocol() -> Protocol:
    """A study whose flare form derives SLEDAI-2K on save and has a free-text narrative."""
    descriptors = [{"id": d, "label": d.replace("_", " "), "type": "boolean"}
                   for d in SLEDAI2K_DESCRIPTORS]  # fmt: skip
    return Protocol.model_validate({
        "id": "flare-study", "title": "Flare", "version": "1",
        "arms": [{"id": "a", "name": "Arm A"}], "sites": [{"id": "s1", "name": "Site 1"}],
        "visits": [{"id": "day_0", "name": "Day 0", "day": 0, "forms": ["systemic"]},
                   {"id": "month_6", "name": "Month 6", "day": 182, "forms": ["systemic"]}],
        "forms": [{"id": "systemic", "name": "Systemic disease", "domain": "RS",
                   "fields": [*descriptors,
                              {"id": "story", "label": "Narrative", "type": "text"}]}],
        "derived_scores": [{"id": "sledai", "instrument": "sledai2k", "form": "systemic"}],
    })  # fmt: skip


def test_flare_rows_are_each_stored_sledai_score_and_narrative(tmp_path: Path) -> None:
    none: dict[str, object] = dict.fromkeys(SLEDAI2K_DESCRIPTORS, False)
    entered = {
        ("P1", "day_0"): none,
        # seed 000's responder who developed systemic lupus: arthritis 4 + rash 2 + low
        # complement 2 = 8 (Gladman 2002 weights)
        ("P1", "month_6"): none | {"arthritis": True, "rash": True, "low_complement": True,
                                   "story": "new arthritis and malar rash; ANA rising"},
        ("P2", "month_6"): none | {"proteinuria": True},  # 4
    }  # fmt: skip
    with open_store(f"sqlite:///{tmp_path / 'flare.db'}", _flare_protocol()) as store:
        for subject in ("P1", "P2"):
            store.add_subject(subject, arm="a", site="s1", actor="test")
        for (subject, visit), values in entered.items():
            store.save_record(subject, visit, "systemic", values, actor="test")
        section = build_study_section(store)
    assert "flare" not in section.notes
    rows = [(r["subject"], r["visit"], r["scores"], r["narrative"]) for r in section.flare]
    assert rows == [
        ("P1", "day_0", "sledai2k_clinical_score 0; sledai2k_score 0; sledai2k_window_days 10",
         ""),
        ("P1", "month_6", "sledai2k_clinical_score 6; sledai2k_score 8; sledai2k_window_days 10",
         "new arthritis and malar rash; ANA rising"),
        ("P2", "month_6", "sledai2k_clinical_score 4; sledai2k_score 4; sledai2k_window_days 10",
         ""),
    ]  # fmt: skip


def test_the_endpoint_table_from_the_tidy_table_is_the_stores(tmp_path: Path) -> None:
    """The report builds the endpoint table from its one tidy table: the same frame as
    :func:`clestudy.store.endpoint_table`, which reads the store again."""
    with open_store(f"sqlite:///{tmp_path / 'study.db'}", "lenalidomide-cle-open-label") as store:
        for subject in ("L01", "L02"):
            store.add_subject(subject, arm="lenalidomide", site="site01", actor="test")
        store.save_record("L01", "week_0", "clasi", WEEK_0, actor="test")
        store.save_record("L01", "week_12", "clasi", WEEK_12, actor="test")
        store.save_record("L02", "week_0", "clasi", WEEK_12, actor="test")
        store.save_record("L02", "week_0", "immune_profile", {"ifn_score": "3.5"}, actor="test")
        expected = endpoint_table(store, [e.id for e in store.protocol.endpoints])
        built = endpoints_from_tidy(store.protocol, tidy_table(store))
    assert len(expected) == 3  # L01 at two visits, L02 with CLASI and IFN at one
    pd.testing.assert_frame_equal(built, expected)
