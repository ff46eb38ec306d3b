"""Hypothesis properties of CLASI, CLASI response and SLEDAI-2K (fixed seed, no retries).

Properties (issue 3 acceptance): every valid CLASI input stays in 0-70 / 0-56; raising any single
item never lowers a score; every out-of-range value is rejected.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    CLASI_FIELDS,
    CLASI_RESPONSE_RULES,
    SLEDAI2K_DESCRIPTORS,
    InstrumentInputError,
    clasi_from_fields,
    clasi_response,
    sledai2k_score,
)

_FIXED = settings(derandomize=True, database=None, max_examples=300, deadline=None)


def _allowed(field: str) -> tuple[Any, ...]:
    if field == "dyspigmentation_12_months":
        return (False, True)
    if field == "scalp_scarring":
        return (0, 3, 4, 5, 6)
    if field in ("mucous_membrane", "recent_hair_loss") or field.endswith("_dyspigmentation"):
        return (0, 1)
    if field.endswith("_erythema") or field == "nonscarring_alopecia":
        return (0, 1, 2, 3)
    return (0, 1, 2)  # scale, per-area scarring


_ALLOWED = {field: _allowed(field) for field in CLASI_FIELDS}

clasi_records = st.fixed_dictionaries(
    {},
    optional={field: st.sampled_from(values) for field, values in _ALLOWED.items()},
)


@_FIXED
@given(clasi_records)
def test_clasi_stays_within_published_ranges(record: dict[str, Any]) -> None:
    score = clasi_from_fields(record)
    assert 0 <= score.activity <= 70
    assert 0 <= score.damage <= 56


@_FIXED
@given(clasi_records, st.sampled_from(CLASI_FIELDS))
def test_raising_one_clasi_item_never_lowers_a_score(record: dict[str, Any], field: str) -> None:
    allowed = _ALLOWED[field]
    current = record.get(field, allowed[0])
    position = allowed.index(current)
    if position == len(allowed) - 1:
        return
    raised = {**record, field: allowed[position + 1]}
    before, after = clasi_from_fields(record), clasi_from_fields(raised)
    assert after.activity >= before.activity
    assert after.damage >= before.damage
    assert (after.activity, after.damage) != (before.activity, before.damage) or (
        field == "dyspigmentation_12_months"  # doubling 0 leaves 0
    )


@_FIXED
@given(st.sampled_from(CLASI_FIELDS), st.integers(min_value=-1000, max_value=1000))
def test_every_out_of_range_clasi_value_is_rejected(field: str, value: int) -> None:
    if value in _ALLOWED[field] and field != "dyspigmentation_12_months":
        return
    with pytest.raises(InstrumentInputError, match=rf"^clasi: {field}: got {value}; allowed: "):
        clasi_from_fields({field: value})


@_FIXED
@given(st.sampled_from(CLASI_FIELDS), st.one_of(st.floats(), st.text(max_size=3), st.booleans()))
def test_non_integer_clasi_values_are_rejected(field: str, value: object) -> None:
    if field == "dyspigmentation_12_months" and isinstance(value, bool):
        return
    with pytest.raises(InstrumentInputError, match=rf"^clasi: {field}: got "):
        clasi_from_fields({field: value})


@_FIXED
@given(
    st.integers(min_value=0, max_value=70),
    st.integers(min_value=0, max_value=70),
    st.sampled_from(CLASI_RESPONSE_RULES),
)
def test_clasi_response_is_consistent(baseline: int, followup: int, rule: str) -> None:
    result = clasi_response(baseline, followup, rule)
    assert result.change == followup - baseline
    if baseline == 0:
        assert (result.status, result.percent_change) == ("not evaluable", None)
        return
    assert result.percent_change is not None
    assert result.status in ("responder", "non-responder")
    if followup >= baseline:
        assert result.status == "non-responder"
    # A lower follow-up never turns a responder into a non-responder.
    if result.status == "responder" and followup > 0:
        assert clasi_response(baseline, followup - 1, rule).status == "responder"


sledai_records = st.dictionaries(st.sampled_from(list(SLEDAI2K_DESCRIPTORS)), st.booleans())


@_FIXED
@given(sledai_records, st.sampled_from(list(SLEDAI2K_DESCRIPTORS)))
def test_sledai2k_bounds_and_monotonicity(record: dict[str, bool], name: str) -> None:
    score = sledai2k_score(record)
    assert 0 <= score.clinical_score <= score.score <= 105
    assert score.score - score.clinical_score in (0, 2, 4)
    raised = sledai2k_score({**record, name: True})
    assert raised.score >= score.score
    assert raised.clinical_score >= score.clinical_score


@_FIXED
@given(
    st.sampled_from(list(SLEDAI2K_DESCRIPTORS)),
    st.one_of(st.integers(), st.floats(), st.text(max_size=3)),
)
def test_sledai2k_rejects_non_booleans(name: str, value: object) -> None:
    with pytest.raises(InstrumentInputError, match=rf"^sledai2k: {name}: got "):
        sledai2k_score({name: value})
