"""SLEDAI-2K: weights, clinical score, window, arthritis rule, and the openEHR pyuria bug.

Provenance: weights and descriptor names are reference/instruments.md section 2.2 (Gladman 2002,
J Rheumatol 29:288); 30-day window Touma 2010 (Lupus 19:49); arthritis rule ambiguity section 2.2.
Expected totals are hand sums of the weights, written out in each test.
"""

from __future__ import annotations

import pytest

from clestudy.instruments import (
    INSTRUMENT_FIELDS,
    SLEDAI2K_DESCRIPTORS,
    InstrumentInputError,
    derive,
    sledai2k_score,
)

_CONTRACT_NAMES = [
    "seizure",
    "psychosis",
    "organic_brain_syndrome",
    "visual_disturbance",
    "cranial_nerve_disorder",
    "lupus_headache",
    "cva",
    "vasculitis",
    "arthritis",
    "myositis",
    "urinary_casts",
    "hematuria",
    "proteinuria",
    "pyuria",
    "rash",
    "alopecia",
    "mucosal_ulcers",
    "pleurisy",
    "pericarditis",
    "low_complement",
    "increased_dna_binding",
    "fever",
    "thrombocytopenia",
    "leukopenia",
]


def test_descriptor_names_follow_the_contract() -> None:
    assert list(SLEDAI2K_DESCRIPTORS) == _CONTRACT_NAMES
    # the form fields the store reads: the 24 descriptors and the optional arthritis joint count
    assert INSTRUMENT_FIELDS["sledai2k"] == (*_CONTRACT_NAMES, "arthritis_joint_count")


def test_weights_sum_to_105() -> None:
    # 8 x 8 + 6 x 4 + 7 x 2 + 3 x 1 = 64 + 24 + 14 + 3 = 105.
    weights = list(SLEDAI2K_DESCRIPTORS.values())
    assert weights.count(8) == 8 and weights.count(4) == 6
    assert weights.count(2) == 7 and weights.count(1) == 3
    everything = sledai2k_score(dict.fromkeys(_CONTRACT_NAMES, True))
    assert (everything.score, everything.clinical_score) == (105, 101)


def test_empty_and_all_false_score_zero() -> None:
    assert sledai2k_score({}).score == 0
    assert sledai2k_score(dict.fromkeys(_CONTRACT_NAMES, False)).score == 0


def test_pyuria_weighs_4_not_2() -> None:
    # Bug 5 (gdl-lang openEHR archetype): pyuria weighted 2.
    assert sledai2k_score({"pyuria": True}).score == 4


@pytest.mark.parametrize(("name", "weight"), list(SLEDAI2K_DESCRIPTORS.items()))
def test_each_weight_alone(name: str, weight: int) -> None:
    assert sledai2k_score({name: True}).score == weight


def test_hand_calculated_case_and_clinical_score() -> None:
    # arthritis 4 + proteinuria 4 + rash 2 + low complement 2 + anti-DNA 2 + leukopenia 1 = 15;
    # clinical = 15 - 2 - 2 = 11.
    score = sledai2k_score(
        {
            "arthritis": True,
            "proteinuria": True,
            "rash": True,
            "low_complement": True,
            "increased_dna_binding": True,
            "leukopenia": True,
            "fever": False,
            "seizure": None,
        }
    )
    assert (score.score, score.clinical_score) == (15, 11)
    assert score.present == (
        "arthritis",
        "proteinuria",
        "rash",
        "low_complement",
        "increased_dna_binding",
        "leukopenia",
    )


@pytest.mark.parametrize(
    ("rule", "joints", "arthritis"),
    [(">=2", 1, False), (">=2", 2, True), (">2", 2, False), (">2", 3, True), (">=2", 0, False)],
)
def test_arthritis_joint_count_rule(rule: str, joints: int, arthritis: bool) -> None:
    score = sledai2k_score({}, arthritis_joint_count=joints, arthritis_rule=rule)
    assert score.score == (4 if arthritis else 0)


def test_joint_count_contradicting_descriptor_is_an_error() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^sledai2k: arthritis: got True but arthritis_joint_count 2 gives False under the "
        r"rule '>2 joints'",
    ):
        sledai2k_score({"arthritis": True}, arthritis_joint_count=2, arthritis_rule=">2")


def test_window_is_recorded_and_checked() -> None:
    assert sledai2k_score({}, window_days=30).window_days == 30
    with pytest.raises(
        InstrumentInputError, match=r"^sledai2k: window_days: got 28; allowed: 10 or 30$"
    ):
        sledai2k_score({}, window_days=28)


def test_unknown_descriptor_and_non_boolean_are_rejected() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^sledai2k: descriptors\.nephritis: unknown descriptor; allowed: seizure, ",
    ):
        sledai2k_score({"nephritis": True})
    with pytest.raises(
        InstrumentInputError, match=r"^sledai2k: fever: got 1; allowed: true or false$"
    ):
        sledai2k_score({"fever": 1})


def test_bad_rule_and_joint_count() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^sledai2k: arthritis_rule: got '>1'; allowed: >=2 or >2$"
    ):
        sledai2k_score({}, arthritis_rule=">1")
    with pytest.raises(
        InstrumentInputError,
        match=r"^sledai2k: arthritis_joint_count: got -1; allowed: an integer >= 0$",
    ):
        sledai2k_score({}, arthritis_joint_count=-1)


def test_derive_sledai2k_with_settings() -> None:
    # vasculitis 8 + hematuria 4 + increased DNA binding 2 = 14; clinical 12.
    result = derive(
        "sledai2k",
        {"vasculitis": True, "hematuria": True, "increased_dna_binding": True, "fever": False},
        {"sledai2k_window_days": 30, "clasi_response_rule": "4-point"},
    )
    assert result.version == "sledai2k-2002/1"
    assert result.values == {
        "sledai2k_score": 14,
        "sledai2k_clinical_score": 12,
        "sledai2k_window_days": 30,
    }
    assert derive("sledai2k", {}).values["sledai2k_window_days"] == 10


def test_derive_rejects_bad_setting() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^sledai2k_window_days: got 14; allowed: 10 or 30$"
    ):
        derive("sledai2k", {}, {"sledai2k_window_days": 14})
