"""Prednisone equivalents (BNF table, reference/instruments.md section 5).

Provenance: each expected value is dose x 5 / (BNF dose equivalent to 5 mg prednisone), written
out; the FDA prednisolone label line "15 mg prednisolone = 75 cortisone = 60 hydrocortisone =
12 methylprednisolone = 12 triamcinolone = 2.25 dexamethasone = 2.25 betamethasone" is checked too.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    STEROID_DRUGS,
    InstrumentInputError,
    SteroidDose,
    prednisone_equivalent,
    steroid_exposure,
    steroid_settings,
)


@pytest.mark.parametrize(
    ("drug", "dose", "expected"),
    [
        ("prednisone", 10, 10.0),
        ("prednisolone", 7.5, 7.5),
        ("methylprednisolone", 16, 20.0),  # 16 x 5/4
        ("hydrocortisone", 20, 5.0),  # 20 x 5/20
        ("cortisone", 25, 5.0),  # 25 x 5/25
        ("Cortisone acetate", 50, 10.0),
        ("triamcinolone", 4, 5.0),  # 4 x 5/4
        ("dexamethasone", 0.75, 5.0),  # 0.75 x 5/0.75
        ("betamethasone", 1.5, 10.0),  # 1.5 x 5/0.75 (BNF default)
        ("deflazacort", 6, 5.0),  # 6 x 5/6 (BNF default)
        ("prednisone", 0, 0.0),
    ],
)
def test_bnf_equivalents(drug: str, dose: float, expected: float) -> None:
    assert prednisone_equivalent(drug, dose) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("drug", "dose"),
    [
        ("cortisone", 75),
        ("hydrocortisone", 60),
        ("methylprednisolone", 12),
        ("triamcinolone", 12),
        ("dexamethasone", 2.25),
        ("betamethasone", 2.25),
    ],
)
def test_us_label_equivalence_line(drug: str, dose: float) -> None:
    # FDA prednisolone label: each dose is equivalent to 15 mg prednisolone.
    assert prednisone_equivalent(drug, dose) == pytest.approx(15.0, rel=1e-12)


def test_betamethasone_and_deflazacort_are_settings() -> None:
    # 0.6 mg betamethasone = 5 mg: 1.2 mg -> 10 mg. Deflazacort 7.5 mg = 5 mg: 15 mg -> 10 mg.
    assert prednisone_equivalent("betamethasone", 1.2, betamethasone_mg=0.6) == pytest.approx(10.0)
    assert prednisone_equivalent("deflazacort", 15, deflazacort_mg=7.5) == pytest.approx(10.0)
    assert steroid_settings({}) == (0.75, 6.0)
    with pytest.raises(
        InstrumentInputError,
        match=r"^steroids: deflazacort_mg_per_5mg_prednisone: got 0; allowed: a number > 0 mg$",
    ):
        steroid_settings({"deflazacort_mg_per_5mg_prednisone": 0})


def test_unknown_drug_and_bad_dose() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^steroids: drug: got 'budesonide'; allowed: prednisone, "
    ):
        prednisone_equivalent("budesonide", 9)
    with pytest.raises(
        InstrumentInputError, match=r"^steroids: dose_mg: got -5; allowed: a number >= 0 mg$"
    ):
        prednisone_equivalent("prednisone", -5)


def test_iv_pulses_are_kept_apart_from_the_daily_dose() -> None:
    # Daily: prednisone 5 + hydrocortisone 10 x 0.25 = 7.5. Pulse: methylprednisolone 500 x 1.25.
    exposure = steroid_exposure(
        [
            SteroidDose("prednisone", 5),
            SteroidDose("hydrocortisone", 10),
            SteroidDose("methylprednisolone", 500, pulse=True),
        ]
    )
    assert exposure.daily_prednisone_equivalent_mg == pytest.approx(7.5)
    assert exposure.pulse_prednisone_equivalent_mg == pytest.approx(625.0)
    assert exposure.pulse_count == 1


def test_exposure_names_the_bad_dose() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^steroids: doses\[1\]\.pulse: got 'yes'; allowed: true or false$",
    ):
        steroid_exposure([SteroidDose("prednisone", 5), SteroidDose("prednisone", 5, "yes")])  # type: ignore[arg-type]


@settings(derandomize=True, database=None, max_examples=200, deadline=None)
@given(
    st.sampled_from(STEROID_DRUGS),
    st.floats(0, 2000, allow_subnormal=False),
    st.floats(0, 2000, allow_subnormal=False),
)
def test_equivalent_is_linear_and_monotone(drug: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0 <= prednisone_equivalent(drug, low) <= prednisone_equivalent(drug, high)
