"""CLASI response rules between two visits (Klein 2011; CLASI-50 from TULIP/LILAC).

Provenance: thresholds are reference/instruments.md section 1.3 ("≥ 4-point decrease", "≥ 20 %
decrease", "≥ 50 % reduction"); each expected status is the hand arithmetic shown.
"""

from __future__ import annotations

import pytest

from clestudy.instruments import (
    CLASI_RESPONSE_RULES,
    DEFAULT_CLASI_RESPONSE_RULE,
    InstrumentInputError,
    ResponseResult,
    clasi_response,
    clasi_response_rule_setting,
)


@pytest.mark.parametrize(
    ("baseline", "followup", "rule", "status"),
    [
        (10, 6, "4-point", "responder"),  # decrease 4: boundary included
        (10, 7, "4-point", "non-responder"),  # decrease 3
        (10, 8, "20-percent", "responder"),  # 2/10 = 20 %: boundary included
        (11, 9, "20-percent", "non-responder"),  # 2/11 = 18.2 %
        (10, 5, "50-percent", "responder"),  # 5/10 = 50 %: boundary included
        (11, 6, "50-percent", "non-responder"),  # 5/11 = 45.5 %
        (11, 5, "50-percent", "responder"),  # 6/11 = 54.5 %
        (5, 4, "4-point", "non-responder"),  # 20 % but only 1 point
        (5, 4, "20-percent", "responder"),
        (5, 4, "4-point-or-20-percent", "responder"),
        (40, 36, "20-percent", "non-responder"),  # 4 points but 10 %
        (40, 36, "4-point-or-20-percent", "responder"),
        (3, 8, "4-point", "non-responder"),  # worsening
    ],
)
def test_rule_boundaries(baseline: int, followup: int, rule: str, status: str) -> None:
    assert clasi_response(baseline, followup, rule).status == status


def test_result_fields() -> None:
    # change 6 - 12 = -6; percent -6 / 12 = -50 %.
    assert clasi_response(12, 6, "50-percent") == ResponseResult(
        "responder", "50-percent", -6, -50.0
    )


@pytest.mark.parametrize("rule", CLASI_RESPONSE_RULES)
def test_baseline_zero_is_not_evaluable_for_every_rule(rule: str) -> None:
    result = clasi_response(0, 3, rule)
    assert result.status == "not evaluable"
    assert result.percent_change is None
    assert result.change == 3


def test_default_rule_is_4_point() -> None:
    assert DEFAULT_CLASI_RESPONSE_RULE == "4-point"
    assert clasi_response_rule_setting({}) == "4-point"
    assert clasi_response_rule_setting({"clasi_response_rule": "50-percent"}) == "50-percent"


def test_unknown_rule_and_impossible_scores_are_rejected() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^clasi: rule: got '30-percent'; allowed: 4-point, 20-percent, 50-percent or "
        r"4-point-or-20-percent$",
    ):
        clasi_response(10, 5, "30-percent")
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: baseline_activity: got 71; allowed: an integer 0-70$"
    ):
        clasi_response(71, 5, "4-point")
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: followup_activity: got -1; allowed: an integer 0-70$"
    ):
        clasi_response(10, -1, "4-point")
    with pytest.raises(
        InstrumentInputError, match=r"^clasi: clasi_response_rule: got 'half'; allowed: 4-point, "
    ):
        clasi_response_rule_setting({"clasi_response_rule": "half"})
