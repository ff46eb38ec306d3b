"""Hypothesis properties of CTCAE lab grading (fixed seed, no retries)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import InstrumentInputError, ctcae_lab_grade
from clestudy.instruments._ctcae_units import normalise_unit

_FIXED = settings(derandomize=True, database=None, max_examples=300, deadline=None)
_DECREASED = [
    "Lymphocyte count decreased",
    "Neutrophil count decreased",
    "Platelet count decreased",
    "White blood cell decreased",
]
_INCREASED = [
    "Alanine aminotransferase increased",
    "Aspartate aminotransferase increased",
    "Alkaline phosphatase increased",
    "GGT increased",
    "Blood bilirubin increased",
    "Creatinine increased",
]
_UNITS = {
    "Alanine aminotransferase increased": "U/L",
    "Aspartate aminotransferase increased": "U/L",
    "Alkaline phosphatase increased": "U/L",
    "GGT increased": "U/L",
    "Blood bilirubin increased": "mg/dL",
    "Creatinine increased": "mg/dL",
}
values = st.floats(
    min_value=0, max_value=1000, allow_nan=False, allow_infinity=False, allow_subnormal=False
)
limits = st.floats(min_value=0.01, max_value=500, allow_nan=False, allow_infinity=False)


@_FIXED
@given(st.sampled_from(_DECREASED), values, values, limits)
def test_lower_count_never_lowers_the_grade(term: str, a: float, b: float, lln: float) -> None:
    low, high = sorted((a, b))
    g_low = ctcae_lab_grade(term, low, "10^9/L", lln=lln).grade
    g_high = ctcae_lab_grade(term, high, "10^9/L", lln=lln).grade
    assert g_low is not None and g_high is not None
    assert 0 <= g_high <= g_low <= 4


@_FIXED
@given(st.sampled_from(_INCREASED), values, values, limits, st.one_of(st.none(), limits))
def test_higher_value_never_lowers_the_grade(
    term: str, a: float, b: float, uln: float, baseline: float | None
) -> None:
    low, high = sorted((a, b))
    unit = _UNITS[term]
    g_low = ctcae_lab_grade(term, low, unit, uln=uln, baseline=baseline).grade
    g_high = ctcae_lab_grade(term, high, unit, uln=uln, baseline=baseline).grade
    assert g_low is not None and g_high is not None
    assert 0 <= g_low <= g_high <= 4


@_FIXED
@given(st.sampled_from(_DECREASED), st.integers(0, 500_000), st.integers(1, 500_000))
def test_per_microlitre_and_si_units_agree(term: str, count: int, lln: int) -> None:
    per_ul = ctcae_lab_grade(term, count, "/uL", lln=lln)
    si = ctcae_lab_grade(term, count / 1000, "10^9/L", lln=lln / 1000)
    assert per_ul.grade == si.grade


@_FIXED
@given(values, values)
def test_anemia_never_exceeds_lab_grade_3(value: float, lln: float) -> None:
    result = ctcae_lab_grade("Anemia", value, "g/dL", lln=lln + 0.01)
    assert result.grade is not None and 0 <= result.grade <= 3


@_FIXED
@given(st.sampled_from(_DECREASED + _INCREASED), st.floats(max_value=-1e-9))
def test_negative_values_are_rejected(term: str, value: float) -> None:
    unit = _UNITS.get(term, "10^9/L")
    with pytest.raises(InstrumentInputError, match=r"^ctcae: value: got "):
        ctcae_lab_grade(term, value, unit, lln=1.0, uln=1.0)


@_FIXED
@given(st.text(max_size=8))
def test_unknown_units_are_rejected(unit: str) -> None:
    if normalise_unit(unit) in ("10^9/L", "10^3/uL", "/uL", "/mm3"):
        return
    with pytest.raises(InstrumentInputError, match=r"^ctcae: unit: got "):
        ctcae_lab_grade("Neutrophil count decreased", 1.0, unit, lln=2.0)
