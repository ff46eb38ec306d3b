"""CLASI scoring: hand calculations, every boundary, and the section 8 bugs as regression tests.

Provenance: the formula and allowed values are reference/instruments.md section 1.2 (Albrecht
2005, J Invest Dermatol 125:889, doi:10.1111/j.0022-202X.2005.23889.x); the severity bands are
section 1.3 (Klein 2011, Arch Dermatol 147:203). Each expected number is a hand calculation
written out in the test.
"""

from __future__ import annotations

import pytest

from clestudy.instruments import (
    CLASI_AREAS,
    CLASI_FIELDS,
    InstrumentInputError,
    clasi_activity_severity,
    clasi_from_fields,
    clasi_score,
)


def _maximal_areas() -> dict[str, dict[str, object]]:
    areas: dict[str, dict[str, object]] = {}
    for area in CLASI_AREAS:
        areas[area] = {"erythema": 3, "scale": 2, "dyspigmentation": 1}
        if area != "scalp":
            areas[area]["scarring"] = 2
    return areas


def test_empty_form_scores_zero() -> None:
    score = clasi_score()
    assert (score.activity, score.damage, score.activity_severity) == (0, 0, "mild")


def test_published_maxima_70_and_56() -> None:
    # Activity: 13 x (3 + 2) + 1 + 1 + 3 = 70. Damage: 13 x 1 x 2 + 12 x 2 + 6 = 56
    # (instruments.md 1.2 arithmetic check).
    score = clasi_score(
        _maximal_areas(),
        mucous_membrane=1,
        recent_hair_loss=1,
        nonscarring_alopecia=3,
        scalp_scarring=6,
        dyspigmentation_12_months=True,
    )
    assert (score.activity, score.damage) == (70, 56)
    assert score.dyspigmentation_subtotal == 26


def test_maximum_damage_without_doubling_is_43() -> None:
    # 13 x 1 + 12 x 2 + 6 = 43
    score = clasi_score(_maximal_areas(), scalp_scarring=6, dyspigmentation_12_months=False)
    assert score.damage == 43
    assert score.dyspigmentation_doubled is False


def test_hand_calculated_mixed_case() -> None:
    # Activity: nose 2+1, chest 1+0, arms 3+2 = 9; + mucosa 1 + hair loss 0 + alopecia 2 = 12.
    # Damage: dyspigmentation nose 1 + arms 1 = 2, doubled = 4; scarring nose 1 + arms 2 = 3;
    # scalp scarring 4 -> 4 + 3 + 4 = 11.
    score = clasi_score(
        {
            "nose": {"erythema": 2, "scale": 1, "dyspigmentation": 1, "scarring": 1},
            "chest": {"erythema": 1},
            "arms": {"erythema": 3, "scale": 2, "dyspigmentation": 1, "scarring": 2},
        },
        mucous_membrane=1,
        recent_hair_loss=0,
        nonscarring_alopecia=2,
        scalp_scarring=4,
        dyspigmentation_12_months=True,
    )
    assert (score.activity, score.damage, score.activity_severity) == (12, 11, "moderate")


def test_doubling_applies_to_whole_dyspigmentation_subtotal_only() -> None:
    # 3 areas dyspigmented (3) doubled = 6; scarring 2 and scalp scarring 5 are not doubled: 13.
    areas = {
        "scalp": {"dyspigmentation": 1},
        "ears": {"dyspigmentation": 1, "scarring": 2},
        "feet": {"dyspigmentation": 1},
    }
    assert clasi_score(areas, scalp_scarring=5, dyspigmentation_12_months=True).damage == 13
    assert clasi_score(areas, scalp_scarring=5, dyspigmentation_12_months=False).damage == 10


def test_scalp_dyspigmentation_counts_but_scalp_has_no_area_scarring() -> None:
    assert clasi_score({"scalp": {"dyspigmentation": 1}}).damage == 1
    assert "scalp_scarring" in CLASI_FIELDS
    # 12 per-area scarring items (no scalp row) plus the separate scalp_scarring item.
    assert sum(f.endswith("_scarring") for f in CLASI_FIELDS) == 13


@pytest.mark.parametrize(
    ("activity", "band"),
    [(0, "mild"), (9, "mild"), (10, "moderate"), (20, "moderate"), (21, "severe"), (70, "severe")],
)
def test_severity_band_boundaries(activity: int, band: str) -> None:
    # Klein 2011: mild 0-9, moderate 10-20, severe 21-70.
    assert clasi_activity_severity(activity) == band


@pytest.mark.parametrize("activity", [-1, 71, 9.5, True, "10"])
def test_severity_rejects_impossible_activity(activity: object) -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: activity: got .*; allowed: an integer 0-70$"
    ):
        clasi_activity_severity(activity)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, 3, 4, 5, 6])
def test_scalp_scarring_accepts_only_0_3_4_5_6(value: int) -> None:
    assert clasi_score(scalp_scarring=value).damage == value


@pytest.mark.parametrize("value", [1, 2, 7, -3, 3.0, True])
def test_scalp_scarring_rejects_other_values(value: object) -> None:
    # Bug 8 (sakuraderma) clamps scalp scarring to a continuous 0-6; bug 9 uses 0/1.
    with pytest.raises(
        InstrumentInputError,
        match=r"^clasi: scalp_scarring: got .+; allowed: 0, 3, 4, 5 or 6$",
    ):
        clasi_score(scalp_scarring=value)


def test_scalp_area_scarring_is_an_error() -> None:
    # Bug 8: the scalp row was not excluded from per-area scarring (maximum above 56).
    with pytest.raises(
        InstrumentInputError,
        match=r"^clasi: areas\.scalp\.scarring: got 2; the scalp has no per-area scarring item, "
        r"use scalp_scarring \(0, 3, 4, 5 or 6\)$",
    ):
        clasi_score({"scalp": {"scarring": 2}})


def test_mucous_membrane_two_is_rejected_not_clamped() -> None:
    # Bug 8 (sakuraderma): mucosa allowed 0-2; the instrument allows 0 or 1.
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: mucous_membrane: got 2; allowed: 0 or 1$"
    ):
        clasi_score(mucous_membrane=2)


def test_scale_three_is_rejected() -> None:
    # Bug 9 (TS clasiTool): scale scored 0-3; CLASI scale is 0-2.
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: areas\.arms\.scale: got 3; allowed: 0, 1 or 2$"
    ):
        clasi_score({"arms": {"scale": 3}})


def test_global_items_are_not_per_area() -> None:
    # Bug 9: mucous membrane and hair loss scored per region (13x).
    with pytest.raises(
        InstrumentInputError,
        match=r"^clasi: areas\.arms\.mucous_membrane: unknown item; allowed: erythema, scale, "
        r"dyspigmentation or scarring$",
    ):
        clasi_score({"arms": {"mucous_membrane": 1}})


def test_unknown_area_is_rejected() -> None:
    # Bug 8: number/identity of regions not enforced.
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: areas\.neck: unknown area; allowed: scalp, "
    ):
        clasi_score({"neck": {"erythema": 1}})


def test_area_must_be_an_object() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: areas\.arms: got 3; allowed: an object"
    ):
        clasi_score({"arms": 3})  # type: ignore[dict-item]


def test_doubling_flag_must_be_boolean() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^clasi: dyspigmentation_12_months: got 1; allowed: true or false$",
    ):
        clasi_score(dyspigmentation_12_months=1)


def test_no_total_clasi_is_reported() -> None:
    # Bug 9 adds A + D into an "overall CLASI"; no validated total exists (instruments.md 1.2).
    assert not hasattr(clasi_score(), "total")


def test_flat_fields_ignore_other_form_fields_and_name_the_field() -> None:
    # chest 3 + 2 = 5 activity; the date field is not a CLASI item.
    assert (
        clasi_from_fields({"rsdat": "2026-01-05", "chest_erythema": 3, "chest_scale": 2}).activity
        == 5
    )
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: chest_erythema: got 4; allowed: 0, 1, 2 or 3$"
    ):
        clasi_from_fields({"chest_erythema": 4})


def test_flat_none_counts_zero() -> None:
    assert (
        clasi_from_fields({"chest_erythema": None, "dyspigmentation_12_months": None}).activity == 0
    )
