"""CLASI activity response between two visits: 4-point, 20 % and 50 % (CLASI-50) decreases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clestudy.instruments._checks import check_choice, check_int

__all__ = [
    "CLASI_RESPONSE_RULES",
    "DEFAULT_CLASI_RESPONSE_RULE",
    "ResponseResult",
    "clasi_response",
    "clasi_response_rule_setting",
]

CLASI_RESPONSE_RULES: tuple[str, ...] = (
    "4-point",
    "20-percent",
    "50-percent",
    "4-point-or-20-percent",
)
"""The response rules: a decrease in CLASI-A of >= 4 points, >= 20 %, >= 50 % (CLASI-50), or
either of the first two (the "or" of Klein 2011)."""

DEFAULT_CLASI_RESPONSE_RULE = "4-point"
"""Study-level default: a >= 4-point decrease in CLASI-A.

Klein 2011 (Arch Dermatol 147:203, doi:10.1001/archdermatol.2010.435) found a >= 4-point decrease
the most specific marker of physician-judged improvement (specificity 93 %, against 78 % for
>= 20 %). Trials that use CLASI-50 (TULIP, LILAC) set ``clasi_response_rule: 50-percent``.
"""


@dataclass(frozen=True)
class ResponseResult:
    """A responder classification between a baseline and a follow-up CLASI-A.

    Attributes
    ----------
    status : str
        ``"responder"``, ``"non-responder"`` or ``"not evaluable"`` (baseline CLASI-A of 0).
    rule : str
        The rule applied (one of :data:`CLASI_RESPONSE_RULES`).
    change : int
        Follow-up minus baseline (negative is improvement).
    percent_change : float or None
        ``100 * change / baseline``; ``None`` when the baseline is 0.
    """

    status: str
    rule: str
    change: int
    percent_change: float | None


def clasi_response_rule_setting(settings: Mapping[str, object]) -> str:
    """The study's ``clasi_response_rule`` setting, or the default ``"4-point"``.

    Examples
    --------
    >>> clasi_response_rule_setting({})
    '4-point'
    """
    rule = settings.get("clasi_response_rule", DEFAULT_CLASI_RESPONSE_RULE)
    return check_choice("clasi", "clasi_response_rule", rule, CLASI_RESPONSE_RULES)


def clasi_response(baseline_activity: int, followup_activity: int, rule: str) -> ResponseResult:
    """Classify the change in CLASI activity between two visits.

    With baseline :math:`b > 0` and follow-up :math:`f` (both CLASI-A, 0-70):

    * ``"4-point"``: responder if :math:`b - f \\ge 4`;
    * ``"20-percent"``: responder if :math:`100 (b - f) \\ge 20 b`;
    * ``"50-percent"`` (CLASI-50): responder if :math:`100 (b - f) \\ge 50 b`;
    * ``"4-point-or-20-percent"``: responder if either of the first two holds.

    The comparisons are done in integers, so a decrease of exactly 20 % or 50 % counts. A baseline
    of 0 leaves nothing to improve: every rule gives ``"not evaluable"`` and ``percent_change`` is
    ``None`` (trials require a minimum entry CLASI-A, e.g. >= 4 or >= 10).

    Parameters
    ----------
    baseline_activity, followup_activity : int
        CLASI-A at baseline and at follow-up, 0-70.
    rule : str
        One of :data:`CLASI_RESPONSE_RULES`; the study default is
        :data:`DEFAULT_CLASI_RESPONSE_RULE` (``"4-point"``, Klein 2011).

    Returns
    -------
    ResponseResult

    Raises
    ------
    InstrumentInputError
        A score outside 0-70 or an unknown rule.

    Notes
    -----
    Sources: Klein R, et al. Arch Dermatol 2011;147(2):203-208,
    doi:10.1001/archdermatol.2010.435 (>= 4 points or >= 20 %); CLASI-50 as in anifrolumab
    TULIP-1/2 and litifilimab LILAC (reference/instruments.md section 1.3).
    Validated against: hand arithmetic at each threshold (exactly 4 points, 20 %, 50 %) in
    tests/instruments/test_clasi_response.py.

    Examples
    --------
    >>> clasi_response(10, 5, "50-percent")
    ResponseResult(status='responder', rule='50-percent', change=-5, percent_change=-50.0)
    >>> clasi_response(0, 0, "4-point").status
    'not evaluable'
    """
    baseline = check_int("clasi", "baseline_activity", baseline_activity, range(0, 71))
    followup = check_int("clasi", "followup_activity", followup_activity, range(0, 71))
    checked_rule = check_choice("clasi", "rule", rule, CLASI_RESPONSE_RULES)
    change = followup - baseline
    if baseline == 0:
        return ResponseResult("not evaluable", checked_rule, change, None)
    decrease = baseline - followup
    four_point = decrease >= 4
    twenty = 100 * decrease >= 20 * baseline
    met = {
        "4-point": four_point,
        "20-percent": twenty,
        "50-percent": 100 * decrease >= 50 * baseline,
        "4-point-or-20-percent": four_point or twenty,
    }[checked_rule]
    return ResponseResult(
        "responder" if met else "non-responder",
        checked_rule,
        change,
        100.0 * change / baseline,
    )
