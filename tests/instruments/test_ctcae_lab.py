"""CTCAE lab grading: every printed boundary, units, v6.0, and the section 8 bugs.

Provenance: criteria are reference/ctcae_v5_selected_terms.json (CTCAE v5.0 via oncohub/CTCAE5
@ d46f46c) and reference/instruments.md 4.2-4.3 (v6.0 neutrophils, removed/renamed terms). Each
boundary value is chosen on the printed limit (hand arithmetic in the comments); the bug cases are
the numbers listed in reference/instruments.md section 8 with the grade CTCAE gives.
"""

from __future__ import annotations

import pytest

from clestudy.instruments import InstrumentInputError, ctcae_lab_grade, ctcae_settings

ANC = "Neutrophil count decreased"
LYM = "Lymphocyte count decreased"
PLT = "Platelet count decreased"
WBC = "White blood cell decreased"
ALT = "Alanine aminotransferase increased"
AST = "Aspartate aminotransferase increased"
BILI = "Blood bilirubin increased"
CREAT = "Creatinine increased"


def grade(term: str, value: float, unit: str, **kwargs: object) -> int | None:
    return ctcae_lab_grade(term, value, unit, **kwargs).grade  # type: ignore[arg-type]


# --- decreased counts: "<X - Y" is Y <= value < X -------------------------------------------


@pytest.mark.parametrize(
    ("term", "lln", "cases"),
    [
        (
            ANC,
            2.0,
            [(2.0, 0), (1.99, 1), (1.5, 1), (1.49, 2), (1.0, 2), (0.99, 3), (0.5, 3), (0.49, 4)],
        ),
        (LYM, 1.0, [(1.0, 0), (0.8, 1), (0.79, 2), (0.5, 2), (0.49, 3), (0.2, 3), (0.19, 4)]),
        (PLT, 150.0, [(150, 0), (75, 1), (74.9, 2), (50, 2), (49.9, 3), (25, 3), (24.9, 4)]),
        (WBC, 4.0, [(4.0, 0), (3.0, 1), (2.99, 2), (2.0, 2), (1.99, 3), (1.0, 3), (0.99, 4)]),
    ],
)
def test_decreased_count_boundaries(term: str, lln: float, cases: list[tuple[float, int]]) -> None:
    for value, expected in cases:
        assert grade(term, value, "10^9/L", lln=lln) == expected, value


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1200, 2), (700, 3), (300, 4), (999.5, 3)],
)
def test_nobra_neutrophil_bugs(value: float, expected: int) -> None:
    # Bug 4 (nobra_calculator): ANC 1200 -> 1, 700 -> 2, 300 -> 3, 999.5 -> 0 (integer-range gap).
    assert grade(ANC, value, "/mm3", lln=1500) == expected


def test_nobra_platelet_gap() -> None:
    # Bug 4: platelets 74 999.5/mm3 graded 0; it is < 75 000 and >= 50 000: grade 2.
    assert grade(PLT, 74999.5, "/mm3", lln=150000) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.0, 0),
        (11.95, 1),
        (10.0, 1),
        (9.99, 2),
        (8.0, 2),
        (7.99, 3),
        (7.5, 3),
        (6.0, 3),
        (3.0, 3),
    ],
)
def test_anemia_g_dl_boundaries_and_no_numeric_grade_4(value: float, expected: int) -> None:
    # Bug 4: Hb 7.5 -> 2 (should be 3), Hb 6.0 -> 4 (no numeric grade 4), Hb 11.95 (LLN 12) -> 4.
    assert grade("Anemia", value, "g/dL", lln=12.0) == expected


@pytest.mark.parametrize(
    ("unit", "lln", "cases"),
    [
        ("g/L", 120, [(100, 1), (99, 2), (80, 2), (79, 3)]),
        ("mmol/L", 7.4, [(6.2, 1), (6.19, 2), (4.9, 2), (4.89, 3)]),
    ],
)
def test_anemia_other_units_use_printed_thresholds(
    unit: str, lln: float, cases: list[tuple[float, int]]
) -> None:
    for value, expected in cases:
        assert grade("Anemia", value, unit, lln=lln) == expected, value


def test_anemia_transfusion_indicated_is_grade_3() -> None:
    assert grade("Anemia", 9.0, "g/dL", lln=12.0, transfusion_indicated=True) == 3
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: transfusion_indicated: got True for 'Alanine aminotransferase increased'",
    ):
        ctcae_lab_grade(ALT, 50, "U/L", uln=40, transfusion_indicated=True)


def test_missing_lln_is_not_gradable_never_zero() -> None:
    result = ctcae_lab_grade(ANC, 5.0, "10^9/L")
    assert (result.grade, result.gradable) == (None, False)
    assert result.reason.startswith("LLN missing")
    assert ctcae_lab_grade("Anemia", 13.0, "g/dL").gradable is False
    # Grades 2-4 are absolute: no LLN needed.
    assert ctcae_lab_grade(ANC, 0.4, "10^9/L").grade == 4


def test_lab_lln_is_used_not_a_hard_coded_one() -> None:
    # Bugs 4 and 6 hard-code LLN (1500 or 2000/uL): the lab's LLN decides grade 1 vs 0.
    assert grade(ANC, 1800, "/uL", lln=1500) == 0
    assert grade(ANC, 1800, "/uL", lln=2000) == 1
    # clinPK returns NA for a normal value; with an LLN a normal value is grade 0.
    assert grade(ANC, 4000, "/uL", lln=2000) == 0


@pytest.mark.parametrize(
    "unit", ["10^9/L", "10^3/uL", "/uL", "/mm3", "x10^9/L", "cells/µL", "K/uL"]
)
def test_cell_units(unit: str) -> None:
    if unit == "K/uL":
        with pytest.raises(InstrumentInputError, match=r"^ctcae: unit: got 'K/uL' for "):
            ctcae_lab_grade(ANC, 1.2, unit)
        return
    per_ul = unit in ("/uL", "/mm3", "cells/µL")
    value, lln = (1200, 2000) if per_ul else (1.2, 2.0)
    # Bug 3 (PharmaForest): plain "/uL" was not recognised (only " /uL").
    assert grade(ANC, value, unit, lln=lln) == 2


def test_unknown_unit_is_an_error_never_grade_0() -> None:
    # Bug 3 (PharmaForest): an unrecognised unit silently became grade 0.
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: unit: got '%' for 'Neutrophil count decreased'; allowed: 10\^9/L, "
        r"10\^3/uL, /uL or /mm3$",
    ):
        ctcae_lab_grade(ANC, 55, "%")
    with pytest.raises(InstrumentInputError, match=r"^ctcae: unit: got 'mg/dL' for 'Anemia'"):
        ctcae_lab_grade("Anemia", 9, "mg/dL")


# --- increased terms ------------------------------------------------------------------------


@pytest.mark.parametrize("term", [ALT, AST])
def test_aminotransferase_uln_arm(term: str) -> None:
    # ULN 40: >ULN-3.0x (40 < v <= 120) 1; >3.0-5.0x (<= 200) 2; >5.0-20.0x (<= 800) 3; >20x 4.
    cases = [(40, 0), (40.1, 1), (120, 1), (120.1, 2), (200, 2), (200.1, 3), (800, 3), (800.1, 4)]
    for value, expected in cases:
        assert grade(term, value, "U/L", uln=40) == expected, value
    assert grade(term, 800.1, "U/L", uln=40, baseline=30) == 4  # normal baseline: ULN arm


@pytest.mark.parametrize("term", [ALT, AST])
def test_aminotransferase_abnormal_baseline_arm(term: str) -> None:
    # CTCAE v5.0 as printed (the default, baseline-only): baseline 60 > ULN 40: 1.5-3.0x baseline
    # (90 <= v <= 180) 1; >3.0-5.0x (<= 300) 2; >5-20x (<= 1200) 3; >20x 4.
    cases = [(89, 0), (90, 1), (180, 1), (181, 2), (300, 2), (301, 3), (1200, 3), (1201, 4)]
    for value, expected in cases:
        assert grade(term, value, "U/L", uln=40, baseline=60) == expected, value
        got = grade(term, value, "U/L", uln=40, baseline=60, abnormal_baseline_arm="baseline-only")
        assert got == expected, value


@pytest.mark.parametrize("term", [ALT, AST])
def test_abnormal_baseline_worse_of_both_setting_takes_the_worse_arm(term: str) -> None:
    # The documented setting worse-of-both: baseline 60, ULN 40.
    worse = "worse-of-both"
    # value 60: baseline arm 1.0x -> 0; ULN arm 1.5x ULN -> 1; worse -> 1 (default: 0).
    assert grade(term, 60, "U/L", uln=40, baseline=60, abnormal_baseline_arm=worse) == 1
    assert grade(term, 60, "U/L", uln=40, baseline=60) == 0
    # value 210: baseline arm 3.5x -> 2; ULN arm 5.25x -> 3; worse -> 3 (default: 2).
    assert grade(term, 210, "U/L", uln=40, baseline=60, abnormal_baseline_arm=worse) == 3
    assert grade(term, 210, "U/L", uln=40, baseline=60) == 2
    # value 1000: baseline arm 16.7x -> 3; ULN arm 25x -> 4; worse -> 4.
    assert grade(term, 1000, "U/L", uln=40, baseline=60, abnormal_baseline_arm=worse) == 4
    # value 301: baseline arm 5.02x -> 3; ULN arm 7.5x -> 3: both arms agree.
    assert grade(term, 301, "U/L", uln=40, baseline=60, abnormal_baseline_arm=worse) == 3


@pytest.mark.parametrize("term", ["Alkaline phosphatase increased", "GGT increased"])
def test_alkaline_phosphatase_and_ggt(term: str) -> None:
    # CTCAE v5.0, cases as in pharmaverse admiral's derive_var_atoxgr tests. Baseline normal,
    # ULN 40: >ULN - 2.5 x ULN (<= 100) 1; >2.5 - 5.0 (<= 200) 2; >5.0 - 20.0 (<= 800) 3; >20 4.
    uln_cases = [(40, 0), (41, 1), (100, 1), (101, 2), (200, 2), (201, 3), (800, 3), (801, 4)]
    for value, expected in uln_cases:
        assert grade(term, value, "U/L", uln=40) == expected, value
    # Baseline 40 > ULN 39, graded on the baseline (default): 2.0 - 2.5 x baseline (80 <= v <=
    # 100) 1, 2.0 included; >2.5 - 5.0 2; >5.0 - 20.0 3; >20.0 4.
    base_cases = [(79, 0), (80, 1), (100, 1), (101, 2), (200, 2), (201, 3), (800, 3), (801, 4)]
    for value, expected in base_cases:
        assert grade(term, value, "IU/L", uln=39, baseline=40) == expected, value
    # worse-of-both: 79 is 2.03 x ULN 39 (grade 1) though 1.98 x baseline (0) -> 1.
    assert grade(term, 79, "U/L", uln=39, baseline=40, abnormal_baseline_arm="worse-of-both") == 1


def test_baseline_record_is_graded_without_itself() -> None:
    # admiral #2512 graded the baseline record against itself (100 = 1.0x baseline -> 0);
    # the baseline visit is graded with baseline=None: 100 / 40 = 2.5x ULN -> grade 1.
    assert grade(ALT, 100, "U/L", uln=40) == 1


def test_bilirubin_arms() -> None:
    # ULN 1.2: >ULN-1.5x (<= 1.8) 1; >1.5-3.0x (<= 3.6) 2; >3.0-10.0x (<= 12) 3; >10x 4.
    uln_cases = [(1.2, 0), (1.8, 1), (1.81, 2), (3.6, 2), (3.61, 3), (12, 3), (12.01, 4)]
    for value, expected in uln_cases:
        assert grade(BILI, value, "mg/dL", uln=1.2) == expected, value
    # Baseline 2.0 > ULN, as printed (the default, baseline-only): >1.0-1.5x baseline
    # (2.0 < v <= 3.0) 1; >1.5-3.0x (<= 6.0) 2; >3.0x 3.
    base_cases = [(2.0, 0), (2.01, 1), (3.0, 1), (3.01, 2), (6.0, 2), (6.01, 3)]
    for value, expected in base_cases:
        assert grade(BILI, value, "mg/dL", uln=1.2, baseline=2.0) == expected, value
    # Setting worse-of-both: 2.0 is 1.67x ULN (grade 2) though 1.0x baseline (0) -> 2;
    # 3.01 is 2.5x ULN (2) and 1.5x baseline (2) -> 2; 6.01 is 5x ULN (3), 3.0x baseline (3) -> 3.
    for value, expected in [(2.0, 2), (3.01, 2), (6.01, 3)]:
        got = grade(
            BILI, value, "mg/dL", uln=1.2, baseline=2.0, abnormal_baseline_arm="worse-of-both"
        )
        assert got == expected, value


def test_creatinine_uln_arm() -> None:
    cases = [(1.0, 0), (1.5, 1), (1.51, 2), (3.0, 2), (3.01, 3), (6.0, 3), (6.01, 4)]
    for value, expected in cases:
        assert grade(CREAT, value, "mg/dL", uln=1.0) == expected, value


def test_creatinine_takes_the_worse_of_uln_and_baseline_arms() -> None:
    # Bug 3 (PharmaForest) ignores the baseline arms. Baseline 0.6, ULN 1.0:
    # 0.95 = 1.58x baseline -> 2 although below ULN; 1.8 = 3.0x baseline (not > 3.0) and 1.8x ULN
    # -> 2; 1.81 > 3.0x baseline -> 3; 6.5 > 6.0x ULN -> 4 (ULN arm worse).
    for value, expected in [(0.95, 2), (1.8, 2), (1.81, 3), (6.5, 4), (0.9, 0)]:
        assert grade(CREAT, value, "mg/dL", uln=1.0, baseline=0.6) == expected, value
    # umol/L: ULN 90, baseline 60, value 100 = 1.67x baseline -> 2.
    assert grade(CREAT, 100, "umol/L", uln=90, baseline=60) == 2
    # An abnormal baseline does not switch creatinine to its baseline arm (CTCAE v5.0 lists both
    # arms with no baseline condition): baseline 1.5 > ULN 1.0, value 3.1 = 3.1x ULN (3) and 2.07x
    # baseline (2) -> 3 under either setting.
    for arm in ("baseline-only", "worse-of-both"):
        got = grade(CREAT, 3.1, "mg/dL", uln=1.0, baseline=1.5, abnormal_baseline_arm=arm)
        assert got == 3, arm


def test_boundary_is_exact_not_floating_point() -> None:
    # 1.5 x 0.7 is 1.0499999999999998 in floats: 1.05 would wrongly exceed it (grade 2).
    assert grade(CREAT, 1.05, "mg/dL", uln=0.7) == 1


def test_missing_uln_is_not_gradable() -> None:
    result = ctcae_lab_grade(CREAT, 5.0, "mg/dL", baseline=1.0)
    assert (result.grade, result.gradable) == (None, False)


# --- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.5, 0), (1.49, 1), (1.0, 1), (0.99, 2), (0.5, 2), (0.49, 3), (0.1, 3), (0.09, 4)],
)
def test_v6_neutrophils(value: float, expected: int) -> None:
    # v6.0: grade 1 <1.5-1.0, 2 <1.0-0.5, 3 <0.5-0.1, 4 <0.1 x 10^9/L; no LLN arm.
    assert grade(ANC, value, "10^9/L", version="6.0") == expected


def test_v6_unavailable_terms_raise_clear_errors() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^ctcae: version: CTCAE v6.0 grading of 'Lymphocyte count decreased' is not "
        r"available \('Lymphocyte count decreased' was removed in CTCAE v6.0\)",
    ):
        ctcae_lab_grade(LYM, 0.5, "10^9/L", lln=1.0, version="6.0")
    with pytest.raises(InstrumentInputError, match=r"'Thrombocytopenia' in CTCAE v6.0"):
        ctcae_lab_grade(PLT, 40, "10^9/L", version="6.0")
    with pytest.raises(
        InstrumentInputError, match=r"grading of 'Creatinine increased' is not available"
    ):
        ctcae_lab_grade(CREAT, 2, "mg/dL", uln=1, version="6.0")


def test_bad_inputs_name_the_item() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: version: got '4.03'; allowed: 5.0 or 6.0$"
    ):
        ctcae_lab_grade(ANC, 1, "10^9/L", version="4.03")
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: term: got 'Neutropenia'; allowed: Lymphocyte"
    ):
        ctcae_lab_grade("Neutropenia", 1, "10^9/L")
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: value: got -1; allowed: a number >= 0 10\^9/L$"
    ):
        ctcae_lab_grade(ANC, -1, "10^9/L")
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: lln: got 0; allowed: a number > 0 10\^9/L$"
    ):
        ctcae_lab_grade(ANC, 1, "10^9/L", lln=0)
    with pytest.raises(InstrumentInputError, match=r"^ctcae: value: got '1.2'; allowed: a number"):
        ctcae_lab_grade(ANC, "1.2", "10^9/L")  # type: ignore[arg-type]


def test_settings() -> None:
    assert ctcae_settings({}) == ("5.0", "baseline-only")
    assert ctcae_settings({"ctcae_abnormal_baseline_arm": "worse-of-both"}) == (
        "5.0",
        "worse-of-both",
    )
    with pytest.raises(
        InstrumentInputError, match=r"^ctcae: ctcae_version: got '5'; allowed: 5.0 or 6.0$"
    ):
        ctcae_settings({"ctcae_version": "5"})
