"""CTCAE v5.0 clinical terms graded from form anchors.

Provenance: each expected grade is the CTCAE v5.0 criterion quoted in the comment, from
reference/ctcae_v5_selected_terms.json (oncohub/CTCAE5 @ d46f46c).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import CTCAE_CLINICAL_TERMS, InstrumentInputError, ctcae_clinical_grade


@pytest.mark.parametrize(
    ("term", "anchors", "grade"),
    [
        # Peripheral sensory neuropathy: 1 asymptomatic; 2 moderate, instrumental ADL; 3 severe,
        # self-care ADL; 4 life-threatening.
        ("Peripheral sensory neuropathy", {"symptoms": "asymptomatic"}, 1),
        (
            "Peripheral sensory neuropathy",
            {"symptoms": "asymptomatic", "adl_limitation": "instrumental"},
            2,
        ),
        (
            "Peripheral sensory neuropathy",
            {"symptoms": "moderate", "adl_limitation": "self-care"},
            3,
        ),
        ("Peripheral sensory neuropathy", {"life_threatening": True}, 4),
        ("Peripheral motor neuropathy", {"death": True}, 5),
        # Thromboembolic event: 1 not indicated; 2 medical; 3 urgent (e.g. PE); 4 instability.
        ("Thromboembolic event", {"intervention": "not indicated"}, 1),
        ("Thromboembolic event", {"intervention": "medical"}, 2),
        ("Thromboembolic event", {"intervention": "urgent"}, 3),
        ("Thromboembolic event", {"intervention": "urgent", "life_threatening": True}, 4),
        # Infections: UTI/kidney 2 oral, 3 IV or invasive; skin 1 local; lung 2 moderate symptoms.
        ("Urinary tract infection", {"treatment": "oral"}, 2),
        ("Urinary tract infection", {"treatment": "invasive"}, 3),
        ("Kidney infection", {"treatment": "iv"}, 3),
        ("Kidney infection", {"treatment": "oral", "death": True}, 5),
        ("Lung infection", {"symptoms": "moderate", "treatment": "none"}, 2),
        ("Lung infection", {"treatment": "iv", "life_threatening": True}, 4),
        ("Skin infection", {"treatment": "local"}, 1),
        ("Skin infection", {"treatment": "oral"}, 2),
        # Shingles (herpes zoster): 1 local; 2 oral or instrumental ADL; 3 IV, hospitalisation or
        # self-care ADL.
        ("Shingles", {"treatment": "local"}, 1),
        ("Shingles", {"treatment": "local", "adl_limitation": "instrumental"}, 2),
        ("Shingles", {"treatment": "oral", "hospitalized": True}, 3),
        ("Shingles", {"treatment": "iv"}, 3),
    ],
)
def test_anchor_grades(term: str, anchors: dict[str, object], grade: int) -> None:
    result = ctcae_clinical_grade(term, **anchors)
    assert (result.grade, result.gradable) == (grade, True)


@pytest.mark.parametrize(
    ("bsa", "symptoms", "adl", "grade"),
    [
        (9.9, "severe", "none", 1),  # <10 % with or without symptoms
        (10, "none", "none", 2),  # 10-30 %
        (30, "severe", "none", 2),  # 30 is within 10-30
        (30.1, "mild", "none", 2),  # >30 % with or without mild symptoms
        (30.1, "moderate", "none", 3),  # >30 % with moderate or severe symptoms
        (5, "none", "instrumental", 2),  # limiting instrumental ADL
        (5, "none", "self-care", 3),  # limiting self-care ADL
    ],
)
def test_rash_maculo_papular_bsa_boundaries(
    bsa: float, symptoms: str, adl: str, grade: int
) -> None:
    result = ctcae_clinical_grade(
        "Rash maculo-papular", bsa_percent=bsa, symptoms=symptoms, adl_limitation=adl
    )
    assert result.grade == grade


def test_no_grade_defined_is_not_gradable() -> None:
    # UTI, kidney and lung infection have no grade 1: an untreated or locally treated infection
    # reaches no grade; it is reported as not gradable, not as grade 1.
    for term in ("Urinary tract infection", "Kidney infection", "Lung infection"):
        result = ctcae_clinical_grade(term, treatment="local")
        assert (result.grade, result.gradable) == (None, False)


def test_anchors_that_set_the_grade_are_reported() -> None:
    result = ctcae_clinical_grade(
        "Shingles", treatment="iv", hospitalized=True, symptoms="moderate"
    )
    assert result.anchors == ("treatment=iv", "hospitalized=True")


def test_bad_anchors() -> None:
    # Sensory neuropathy has no grade 5: death is not one of its anchors.
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: Peripheral sensory neuropathy\.death: not an anchor of this term; allowed: "
        r"symptoms, adl_limitation or life_threatening$",
    ):
        ctcae_clinical_grade("Peripheral sensory neuropathy", death=True)
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: Shingles\.treatment: got 'invasive'; allowed: none, local, oral or iv$",
    ):
        ctcae_clinical_grade("Shingles", treatment="invasive")
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: Rash maculo-papular\.bsa_percent: missing"
    ):
        ctcae_clinical_grade("Rash maculo-papular", symptoms="mild")
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: Rash maculo-papular\.bsa_percent: got 120; allowed: a number > 0 and <= 100 %$",
    ):
        ctcae_clinical_grade("Rash maculo-papular", bsa_percent=120)
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: Thromboembolic event\.life_threatening: got 'yes'"
    ):
        ctcae_clinical_grade("Thromboembolic event", life_threatening="yes")
    with pytest.raises(InstrumentInputError, match=r"^ctcae: term: got 'Herpes zoster'; allowed: "):
        ctcae_clinical_grade("Herpes zoster", treatment="oral")


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    st.floats(min_value=0.01, max_value=100),
    st.floats(min_value=0.01, max_value=100),
    st.sampled_from(["none", "mild", "moderate", "severe"]),
)
def test_rash_grade_never_falls_with_more_bsa(a: float, b: float, symptoms: str) -> None:
    low, high = sorted((a, b))
    g_low = ctcae_clinical_grade("Rash maculo-papular", bsa_percent=low, symptoms=symptoms).grade
    g_high = ctcae_clinical_grade("Rash maculo-papular", bsa_percent=high, symptoms=symptoms).grade
    assert g_low is not None and g_high is not None
    assert 1 <= g_low <= g_high <= 3


def test_terms_listed() -> None:
    assert "Shingles" in CTCAE_CLINICAL_TERMS and len(CTCAE_CLINICAL_TERMS) == 14
    for term in ("Febrile neutropenia", "Chronic kidney disease", "Sepsis", "Acute kidney injury",
                 "Upper respiratory infection"):  # fmt: skip
        assert term in CTCAE_CLINICAL_TERMS


FN = "Febrile neutropenia"
CKD = "Chronic kidney disease"


@pytest.mark.parametrize(
    ("anchors", "grade"),
    [
        # grade 3: "ANC <1000/mm3 with a single temperature of >38.3 degrees C ... or a sustained
        # temperature of >=38 degrees C ... for more than one hour"; no grades 1-2.
        ({"anc": 999, "anc_unit": "/mm3", "max_temperature_c": 38.4}, 3),
        ({"anc": 999, "anc_unit": "/mm3", "max_temperature_c": 38.3}, None),  # not > 38.3
        ({"anc": 1000, "anc_unit": "/mm3", "max_temperature_c": 39.5}, None),  # not < 1000
        ({"anc": 0.99, "max_temperature_c": 38.31}, 3),  # default unit 10^9/L
        ({"anc": 0.5, "anc_unit": "10^9/L", "sustained_fever_1h": True}, 3),
        ({"anc": 0.5, "anc_unit": "10^9/L", "sustained_fever_1h": False}, None),
        ({"anc": 0.5}, None),  # neutropenia without fever is not febrile neutropenia
        # 4 "Life-threatening consequences; urgent intervention indicated"; 5 death
        ({"anc": 0.2, "max_temperature_c": 39, "life_threatening": True}, 4),
        ({"death": True}, 5),
    ],
)
def test_febrile_neutropenia(anchors: dict[str, object], grade: int | None) -> None:
    result = ctcae_clinical_grade(FN, **anchors)
    assert (result.grade, result.gradable) == (grade, grade is not None)


@pytest.mark.parametrize(
    ("anchors", "grade"),
    [
        # 1 "eGFR or CrCl <LLN - 60 ml/min/1.73 m2 or proteinuria 2+ present; urine
        # protein/creatinine >0.5"; 2 "59 - 30"; 3 "29 - 15"; 4 "<15; dialysis or renal
        # transplant indicated"; half-open on a continuous eGFR.
        ({"egfr": 60, "egfr_lln": 90}, 1),
        ({"egfr": 89.9, "egfr_lln": 90}, 1),
        ({"egfr": 90, "egfr_lln": 90}, None),
        ({"egfr": 75}, None),  # no LLN: grade 1 cannot be decided, never a guessed 0
        ({"egfr": 59.9}, 2),
        ({"egfr": 30}, 2),
        ({"egfr": 29.9}, 3),
        ({"egfr": 15}, 3),
        ({"egfr": 14.9}, 4),
        ({"egfr": 45, "dialysis_or_transplant_indicated": True}, 4),
        ({"proteinuria_dipstick": "1+"}, None),
        ({"proteinuria_dipstick": "2+"}, 1),
        ({"proteinuria_dipstick": "3+"}, 1),
        ({"upcr": 0.5}, None),
        ({"upcr": 0.51}, 1),
        ({"egfr": 95, "egfr_lln": 90, "upcr": 0.8}, 1),
        ({"death": True}, 5),
    ],
)
def test_chronic_kidney_disease(anchors: dict[str, object], grade: int | None) -> None:
    assert ctcae_clinical_grade(CKD, **anchors).grade == grade


@pytest.mark.parametrize(
    ("term", "anchors", "grade"),
    [
        # Sepsis: 3 "Blood culture positive with signs or symptoms; treatment indicated"; 4; 5.
        ("Sepsis", {"blood_culture_positive_with_symptoms": True}, 3),
        ("Sepsis", {"blood_culture_positive_with_symptoms": False}, None),
        ("Sepsis", {"life_threatening": True}, 4),
        # Acute kidney injury: 3 "Hospitalization indicated"; 4 "Life-threatening consequences;
        # dialysis indicated"; 5 death.
        ("Acute kidney injury", {"hospitalization_indicated": True}, 3),
        ("Acute kidney injury", {"dialysis_indicated": True}, 4),
        ("Acute kidney injury", {"death": True}, 5),
        # Upper respiratory infection: 2 "Moderate symptoms; oral intervention"; 3 IV; no grade 1.
        ("Upper respiratory infection", {"treatment": "oral"}, 2),
        ("Upper respiratory infection", {"symptoms": "moderate"}, 2),
        ("Upper respiratory infection", {"treatment": "iv"}, 3),
        ("Upper respiratory infection", {"symptoms": "mild"}, None),
    ],
)
def test_sepsis_aki_and_upper_respiratory_infection(
    term: str, anchors: dict[str, object], grade: int | None
) -> None:
    assert ctcae_clinical_grade(term, **anchors).grade == grade


def test_measured_terms_name_the_bad_anchor() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: Febrile neutropenia.temperature: not an anchor of this term; allowed: anc,",
    ):
        ctcae_clinical_grade(FN, anc=0.5, temperature=39)
    with pytest.raises(InstrumentInputError, match=r"^ctcae: unit: got 'g/L' for 'Febrile neutropenia'"):  # fmt: skip
        ctcae_clinical_grade(FN, anc=0.5, anc_unit="g/L", max_temperature_c=39)
    with pytest.raises(InstrumentInputError, match=r"^ctcae: Chronic kidney disease.proteinuria_dipstick: got '2'; allowed: negative, trace, 1\+, 2\+, 3\+ or 4\+$"):  # fmt: skip
        ctcae_clinical_grade(CKD, proteinuria_dipstick="2")
    with pytest.raises(InstrumentInputError, match=r"^ctcae: Chronic kidney disease.egfr: got -1; allowed: a number >= 0"):  # fmt: skip
        ctcae_clinical_grade(CKD, egfr=-1)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 200, allow_subnormal=False), st.floats(0, 200, allow_subnormal=False))
def test_ckd_grade_never_improves_as_egfr_falls(a: float, b: float) -> None:
    low, high = sorted((a, b))
    g_low = ctcae_clinical_grade(CKD, egfr=low, egfr_lln=90).grade or 0
    g_high = ctcae_clinical_grade(CKD, egfr=high, egfr_lln=90).grade or 0
    assert g_low >= g_high
