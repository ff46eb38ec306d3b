"""``derive``: the store's entry point, its field lists and versions."""

from __future__ import annotations

import pytest

import clestudy.instruments as instruments
from clestudy.errors import InputError
from clestudy.instruments import (
    CLASI_AREAS,
    INSTRUMENT_FIELDS,
    INSTRUMENT_VERSIONS,
    DerivedScore,
    InstrumentInputError,
    derive,
)


def _isort_key(name: str) -> tuple[int, str]:
    # ruff RUF022 order: SCREAMING_CASE constants, then CamelCase classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_exported() -> None:
    assert list(instruments.__all__) == sorted(instruments.__all__, key=_isort_key)
    for name in instruments.__all__:
        assert hasattr(instruments, name)


def test_instrument_error_is_an_input_error() -> None:
    assert issubclass(InstrumentInputError, InputError)


def test_clasi_fields_match_the_contract() -> None:
    expected = set()
    for area in CLASI_AREAS:
        expected |= {f"{area}_erythema", f"{area}_scale", f"{area}_dyspigmentation"}
        if area != "scalp":
            expected.add(f"{area}_scarring")
    expected |= {
        "scalp_scarring",
        "mucous_membrane",
        "recent_hair_loss",
        "nonscarring_alopecia",
        "dyspigmentation_12_months",
    }
    assert set(INSTRUMENT_FIELDS["clasi"]) == expected
    assert len(INSTRUMENT_FIELDS["clasi"]) == len(expected) == 13 * 3 + 12 + 5


def test_versions_cover_every_instrument() -> None:
    assert set(INSTRUMENT_VERSIONS) == set(INSTRUMENT_FIELDS)
    assert INSTRUMENT_VERSIONS["clasi"] == "clasi-2005/1"


def test_derive_clasi_record() -> None:
    # Activity: nose 2 + 1 + rest_of_face 3 + 2 + chest 2 + 0 = 10 -> moderate (Klein 2011 10-20).
    # Damage: nose dyspigmentation 1 doubled = 2, ears scarring 1 -> 3.
    record = {
        "rsdat": "2026-02-01",
        "nose_erythema": 2,
        "nose_scale": 1,
        "rest_of_face_erythema": 3,
        "rest_of_face_scale": 2,
        "chest_erythema": 2,
        "nose_dyspigmentation": 1,
        "ears_scarring": 1,
        "dyspigmentation_12_months": True,
        "scalp_scarring": None,
    }
    result = derive("clasi", record, {"clasi_response_rule": "4-point", "other": 1})
    assert result == DerivedScore(
        "clasi",
        "clasi-2005/1",
        {"clasi_activity": 10, "clasi_damage": 3, "clasi_activity_severity": "moderate"},
    )


def test_derive_names_the_bad_item() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^scalp_scarring: got 1; allowed: 0, 3, 4, 5 or 6$"
    ):
        derive("clasi", {"scalp_scarring": 1})


def test_unknown_instrument_lists_known_ones() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^unknown instrument .pasi.; known: clasi, ctcaelabs or sledai2k$",
    ):
        derive("pasi", {})


def test_sledai2k_reads_the_joint_count_with_the_study_rule() -> None:
    """Gladman 2002 prints ">= 2 joints"; a study may set the older SLEDAI ">2" wording
    (instruments.md §2.2): the joint count is stored, the rule decides the descriptor."""
    assert "arthritis_joint_count" in INSTRUMENT_FIELDS["sledai2k"]
    record = {"arthritis_joint_count": 2, "fever": True}  # fever 1 (Gladman 2002)
    assert derive("sledai2k", record).values["sledai2k_score"] == 4 + 1
    strict = derive("sledai2k", record, {"sledai2k_arthritis_rule": ">2"})
    assert strict.values["sledai2k_score"] == 1
    assert derive("sledai2k", {**record, "arthritis_joint_count": 3}, {"sledai2k_arthritis_rule": ">2"}).values["sledai2k_score"] == 5  # fmt: skip
    assert derive("sledai2k", {"arthritis_joint_count": None}).values["sledai2k_score"] == 0


def test_sledai2k_joint_count_that_contradicts_the_descriptor_is_refused() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^arthritis: got False but arthritis_joint_count 3"
    ):
        derive("sledai2k", {"arthritis": False, "arthritis_joint_count": 3})  # fmt: skip
    with pytest.raises(InstrumentInputError, match=r"^arthritis_joint_count: got -1"):
        derive("sledai2k", {"arthritis_joint_count": -1})
