"""SELENA-SLEDAI Flare Index: each criterion at its boundary.

Provenance: criteria as listed in reference/instruments.md 2.3 (Petri 2005 NEJM 353:2550; Buyon
2005 Ann Intern Med 142:953). Body weight 60 kg throughout, so 0.5 mg/kg/day = 30 mg/day.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    SFI_MILD_MANIFESTATIONS,
    SFI_SEVERE_MANIFESTATIONS,
    InstrumentInputError,
    NewMedication,
    SelenaVisit,
    selena_flare,
)

STABLE = SelenaVisit(selena_sledai=4, pga=1.0, prednisone_mg_day=10)


def flare(
    current: SelenaVisit, previous: SelenaVisit = STABLE, **kwargs: object
) -> tuple[str, tuple[str, ...]]:
    result = selena_flare(previous, current, weight_kg=60, **kwargs)  # type: ignore[arg-type]
    return result.category, result.criteria


def test_no_change_is_no_flare() -> None:
    assert flare(STABLE) == ("none", ())


@pytest.mark.parametrize(
    ("score", "category"),
    [(6, "none"), (7, "mild/moderate"), (12, "mild/moderate"), (13, "severe")],
)
def test_sledai_change_boundaries(score: int, category: str) -> None:
    # 4 -> 6 is +2 (none); 4 -> 7 is +3 (mild); 4 -> 12 mild (not > 12); 4 -> 13 severe (> 12).
    assert flare(SelenaVisit(score, 1.0, 10))[0] == category


def test_sledai_above_12_without_increase_is_not_severe() -> None:
    high = SelenaVisit(14, 1.0, 10)
    assert flare(high, previous=high) == ("none", ())


@pytest.mark.parametrize(
    ("prednisone", "category", "criterion"),
    [
        (30, "mild/moderate", "mild: prednisone increased, not to > 0.5 mg/kg/day"),  # 30/60 = 0.5
        (30.5, "severe", "severe: prednisone increased to > 0.5 mg/kg/day"),
    ],
)
def test_prednisone_mg_per_kg_boundary(prednisone: float, category: str, criterion: str) -> None:
    got_category, criteria = flare(SelenaVisit(4, 1.0, prednisone))
    assert got_category == category
    assert criterion in criteria


@pytest.mark.parametrize(
    ("pga", "category"),
    [(1.9, "none"), (2.0, "mild/moderate"), (2.5, "mild/moderate"), (2.6, "severe")],
)
def test_pga_boundaries(pga: float, category: str) -> None:
    # From 1.0: +0.9 none; +1.0 mild; 2.5 is not > 2.5 (mild); 2.6 > 2.5 severe.
    assert flare(SelenaVisit(4, pga, 10))[0] == category


def test_mild_manifestations_and_medications() -> None:
    category, criteria = flare(
        STABLE,
        new_or_worse=["discoid", "arthritis"],
        new_medications=[NewMedication("Hydroxychloroquine", True), NewMedication("nsaid", False)],
    )
    assert category == "mild/moderate"
    assert criteria == (
        "mild: new or worse discoid",
        "mild: new or worse arthritis",
        "mild: hydroxychloroquine added for SLE activity",
    )


def test_severe_organ_needs_steroid_doubling_high_dose_or_hospital() -> None:
    # Nephritis with prednisone unchanged: not a severe criterion on its own.
    assert flare(STABLE, new_or_worse=["nephritis"]) == ("none", ())
    # Prednisone 10 -> 20 (doubled, 0.33 mg/kg): severe by the organ criterion.
    category, criteria = flare(SelenaVisit(4, 1.0, 20), new_or_worse=["nephritis"])
    assert category == "severe"
    assert "severe: new or worse nephritis" in criteria
    # 10 -> 19 is not a doubling: only the mild prednisone criterion.
    assert flare(SelenaVisit(4, 1.0, 19), new_or_worse=["nephritis"])[0] == "mild/moderate"
    assert flare(STABLE, new_or_worse=["hemolytic_anemia"], hospitalized_for_sle=True)[1] == (
        "severe: new or worse hemolytic_anemia",
        "severe: hospitalisation for SLE",
    )


def test_severe_medications_and_reason() -> None:
    assert flare(STABLE, new_medications=[NewMedication("azathioprine", True)]) == (
        "severe",
        ("severe: new azathioprine for SLE activity",),
    )
    # Started for another reason: does not count.
    assert flare(STABLE, new_medications=[NewMedication("methotrexate", False)])[0] == "none"
    mmf = [NewMedication("mycophenolate", True)]
    assert flare(STABLE, new_medications=mmf)[0] == "severe"
    assert flare(STABLE, new_medications=mmf, include_mycophenolate=False)[0] == "none"


def test_bad_inputs() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^selena_flare: new_or_worse: got 'rash'; allowed: discoid, "
    ):
        flare(STABLE, new_or_worse=["rash"])
    with pytest.raises(
        InstrumentInputError,
        match=r"^selena_flare: current\.pga: got 3.5; allowed: a number >= 0 and <= 3$",
    ):
        flare(SelenaVisit(4, 3.5, 10))
    with pytest.raises(
        InstrumentInputError, match=r"^selena_flare: weight_kg: got 0; allowed: a number > 0 kg$"
    ):
        selena_flare(STABLE, STABLE, weight_kg=0)
    with pytest.raises(
        InstrumentInputError,
        match=r"^selena_flare: new_medications\[0\]\.for_sle_activity: got 'yes'; allowed: true or false$",
    ):
        flare(STABLE, new_medications=[NewMedication("azathioprine", "yes")])  # type: ignore[arg-type]


visits = st.builds(
    SelenaVisit,
    st.integers(0, 105),
    st.sampled_from([0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]),
    st.sampled_from([0, 5, 7.5, 10, 20, 30, 40, 60]),
)


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    visits,
    visits,
    st.lists(st.sampled_from(SFI_MILD_MANIFESTATIONS + SFI_SEVERE_MANIFESTATIONS), max_size=3),
)
def test_category_follows_the_fired_criteria(
    previous: SelenaVisit, current: SelenaVisit, worse: list[str]
) -> None:
    result = selena_flare(previous, current, weight_kg=60, new_or_worse=worse)
    severe = any(c.startswith("severe:") for c in result.criteria)
    expected = "severe" if severe else ("mild/moderate" if result.criteria else "none")
    assert result.category == expected
    # Identical assessments with nothing new never flare.
    assert selena_flare(current, current, weight_kg=60).category == "none"
