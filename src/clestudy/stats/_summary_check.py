"""Check a published paired summary (n, means, SDs, a p-value and the test named) for consistency.

Three questions, each answered over the whole rounding interval of the printed numbers:

* GRIM (Brown & Heathers 2017, Soc. Psychol. Personal. Sci. 8:363-369,
  doi:10.1177/1948550616673876): can a mean of n values on a grid of step g round to the printed
  mean? The sum must be a multiple of g, so the mean is a multiple of g/n.
* The SD of the differences and the pre/post correlation the p-value implies (Cochrane Handbook
  5.1, §7.7.3.3 and §16.1.3.2; Follmann et al. 1992, J. Clin. Epidemiol. 45:769-773,
  doi:10.1016/0895-4356(92)90054-Q): t = t^-1(1 - p/2; n - 1), SD_diff = |mean_diff| sqrt(n) / t,
  r = (SD_1^2 + SD_2^2 - SD_diff^2) / (2 SD_1 SD_2). |r| > 1 everywhere in the box is impossible.
* Whether the named test can reach the printed p at this n: an exact two-sided signed-rank or sign
  test cannot give p < 2^(1-n) (0.0625 at n = 5). The normal approximation of the signed-rank test
  cannot go below 2 Phi(-sqrt(n)) (all |differences| tied), and with distinct differences not below
  2 Phi(-sqrt(3n(n+1)/(2(2n+1)))) (0.0431 at n = 5; docs/references.md [SciPy wilcoxon]).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from clestudy.errors import InputError
from clestudy.stats._signed_rank import min_attainable_p_signed_rank

__all__ = ["SUMMARY_TESTS", "Reported", "SummaryTest", "check_published_summary", "parse_reported"]

SummaryTest = Literal["paired-t", "wilcoxon-exact", "wilcoxon-asymptotic", "sign"]
SUMMARY_TESTS: tuple[str, ...] = get_args(SummaryTest)
_NUMBER = re.compile(r"^\s*(?P<op><=|≤|<|=)?\s*(?P<num>[+-]?(\d+\.?\d*|\.\d+))\s*$")
_GRID_POINTS = 41


@dataclass(frozen=True)
class Reported:
    """A printed number and the interval of true values that round to it."""

    text: str
    value: float
    low: float
    high: float
    decimals: int


def parse_reported(text: str, *, name: str, bounded_below: float | None = None) -> Reported:
    """Parse a printed number ("26.2", ".013", "<0.05") into its rounding interval.

    "x" with d decimals covers [x - 5*10^-(d+1), x + 5*10^-(d+1)] (both ends kept, so either
    rounding direction of a half is allowed); "<x" covers [bounded_below, x].

    Examples
    --------
    >>> r = parse_reported("26.2", name="mean")
    >>> r.decimals, round(r.low, 10), round(r.high, 10)
    (1, 26.15, 26.25)
    >>> parse_reported("<0.05", name="p", bounded_below=0.0).low
    0.0
    """
    match = _NUMBER.match(str(text))
    if match is None:
        raise InputError(f"{name}: {text!r} is not a printed number (examples: 26.2, .013, <0.05)")
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise InputError(f"{name}: {text!r} is not a number") from exc
    exponent = number.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    value = float(number)
    if not math.isfinite(value):
        raise InputError(f"{name}: {text!r} is too large for floating point")
    half = 0.5 * 10.0**-decimals
    if match["op"] in ("<", "<=", "≤"):
        if bounded_below is None:
            raise InputError(f"{name}: {text!r}: only a p-value may be printed as '<x'")
        return Reported(str(text), value, bounded_below, value, decimals)
    return Reported(str(text), value, value - half, value + half, decimals)


def _p_text(p: Reported) -> str:
    text = p.text.strip().lstrip("=").strip()
    if text[0] in "<≤":
        operator = "<=" if text.startswith(("<=", "≤")) else "<"
        return f"p {operator} {text.lstrip('<=≤').strip()}"
    return f"p = {text}"


def _row(check: str, status: str, low: float, high: float, message: str) -> dict[str, Any]:
    return {"check": check, "status": status, "low": low, "high": high, "message": message}


def _grim(label: str, mean: Reported, n: int, granularity: float) -> dict[str, Any]:
    step = granularity / n
    k_low, k_high = math.ceil(mean.low / step - 1e-9), math.floor(mean.high / step + 1e-9)
    informative = step > 10.0**-mean.decimals
    if k_low <= k_high:
        # the multiple of step nearest the printed mean, clamped into the interval: O(1), so a
        # huge n (a fine grid of millions of candidates) takes no longer than a small one
        nearest = min(max(round(mean.value / step), k_low), k_high) * step
        note = "" if informative else " (not informative: the grid is finer than the rounding)"
        return _row(
            f"grim_{label}",
            "consistent",
            nearest,
            nearest,
            f"mean {mean.text} is possible for {n} values in steps of {granularity:g}: "
            f"e.g. {nearest:.6g}{note}",
        )
    below, above = math.floor(mean.value / step) * step, math.ceil(mean.value / step) * step
    return _row(
        f"grim_{label}",
        "inconsistent",
        below,
        above,
        f"mean {mean.text} is impossible for {n} values in steps of {granularity:g}: "
        f"means must be multiples of {step:.6g}, the nearest are {below:.6g} and {above:.6g}",
    )


def _implied_sd_and_r(
    n: int, means: tuple[Reported, Reported], sds: tuple[Reported, Reported], p: Reported
) -> list[dict[str, Any]]:
    diff_low, diff_high = means[1].low - means[0].high, means[1].high - means[0].low
    abs_low = 0.0 if diff_low <= 0 <= diff_high else min(abs(diff_low), abs(diff_high))
    abs_high = max(abs(diff_low), abs(diff_high))
    p_low, p_high = max(p.low, 1e-300), min(p.high, 1.0)
    t_high, t_low = (float(stats.t.isf(q / 2, n - 1)) for q in (p_low, p_high))
    sd_low = abs_low * math.sqrt(n) / t_high
    sd_high = abs_high * math.sqrt(n) / t_low if t_low > 0 else math.inf
    sd_row = _row(
        "implied_sd_difference",
        "consistent",
        sd_low,
        sd_high,
        f"the paired t {_p_text(p)} with n = {n} implies an SD of the differences between "
        f"{sd_low:.4g} and {_upper(sd_high)}",
    )
    grid = [np.linspace(r.low, r.high, _GRID_POINTS) for r in sds]
    with np.errstate(all="ignore"):
        sd_grid = np.linspace(sd_low, min(sd_high, sds[0].high + sds[1].high + 1.0), _GRID_POINTS)
        s1, s2, sd = np.meshgrid(grid[0], grid[1], sd_grid, indexing="ij")
        r = (s1**2 + s2**2 - sd**2) / (2 * s1 * s2)
    if not (math.isfinite(sd_low) and np.isfinite(r).all()):
        raise InputError(
            "mean_before, mean_after, sd_before, sd_after: printed values this large overflow "
            "floating point in the back-calculation; rescale them (e.g. to other units)"
        )
    r_low, r_high = float(r.min()), float(r.max())
    if r_low > 1 or r_high < -1:
        status = "inconsistent"
        verdict = "impossible: a correlation must lie in [-1, 1]"
    else:
        status = "consistent"
        verdict = "possible"
    r_row = _row(
        "implied_correlation",
        status,
        r_low,
        r_high,
        f"implied pre/post correlation between {r_low:.4g} and {r_high:.4g}: {verdict}",
    )
    return [sd_row, r_row]


def _upper(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "no upper bound"


def _reach(n: int, p: Reported, test: str, alpha: float) -> dict[str, Any]:
    if test == "paired-t":
        return _row(
            "test_can_reach_p",
            "consistent",
            0.0,
            1.0,
            f"a paired t-test with n = {n} can give any p in (0, 1]",
        )
    if test in ("wilcoxon-exact", "sign"):
        floor = min_attainable_p_signed_rank(n)
        name = "exact two-sided signed-rank" if test == "wilcoxon-exact" else "exact sign"
        how = "only the normal approximation or a one-sided test can go lower"
    else:
        floor = 2 * float(stats.norm.cdf(-math.sqrt(n)))
        distinct = 2 * float(stats.norm.cdf(-math.sqrt(3 * n * (n + 1) / (2 * (2 * n + 1)))))
        name = "normal-approximation signed-rank (no continuity correction)"
        how = f"with distinct differences it cannot go below {distinct:.4g}; ties lower the floor"
    status = "inconsistent" if p.high < floor else "consistent"
    reach = "cannot" if status == "inconsistent" else "can"
    significance = f"; it cannot reach p < alpha = {alpha:g} at all" if floor >= alpha else ""
    return _row(
        "test_can_reach_p",
        status,
        floor,
        1.0,
        f"the {name} test with n = {n} {reach} give {_p_text(p)}: its smallest two-sided p is "
        f"{floor:.4g} ({how}){significance}",
    )


def check_published_summary(
    *,
    n: int,
    mean_before: str,
    sd_before: str,
    mean_after: str,
    sd_after: str,
    p_value: str,
    test: SummaryTest,
    granularity: float = 1.0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Check a printed paired summary: GRIM, implied SD of differences and correlation, reach.

    The numbers are passed as printed (text), because their rounding matters: "23" covers
    22.5-23.5 and "26.2" covers 26.15-26.25. ``p_value`` may be "<0.05".

    Parameters
    ----------
    n : int
        Number of pairs (>= 2).
    mean_before, sd_before, mean_after, sd_after : str
        The printed means and SDs at the two visits.
    p_value : str
        The printed two-sided p-value ("0.005", ".013", "<0.05").
    test : {"paired-t", "wilcoxon-exact", "wilcoxon-asymptotic", "sign"}
        The test the paper names. The SD and correlation back-calculation needs "paired-t".
    granularity : float
        Step of the raw data for GRIM (1 for integers, 2.5 for doses in 2.5 mg steps).
    alpha : float
        Significance level the paper used.

    Returns
    -------
    pandas.DataFrame
        One row per check: ``check``, ``status`` ("consistent", "inconsistent" or
        "not_applicable"), ``low``, ``high`` (the range or value found) and ``message``.

    Examples
    --------
    Seed 003: "ESR decreased from 26.2 (SD 8.9) to 19.2 (SD 7.5), P = 0.015", n = 5, and "the
    results remained statistically significant with Wilcoxon's signed rank test":

    >>> out = check_published_summary(n=5, mean_before="26.2", sd_before="8.9",
    ...     mean_after="19.2", sd_after="7.5", p_value="<0.05", test="wilcoxon-exact")
    >>> out.set_index("check")["status"].to_dict()["test_can_reach_p"]
    'inconsistent'
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise InputError(f"check_published_summary: n = {n!r}; allowed: an integer >= 2")
    if test not in SUMMARY_TESTS:
        raise InputError(
            f"check_published_summary: test = {test!r}; allowed: {', '.join(SUMMARY_TESTS)}"
        )
    if not granularity > 0:
        raise InputError(f"check_published_summary: granularity = {granularity!r}; allowed: > 0")
    if not 0 < alpha < 1:
        raise InputError(f"check_published_summary: alpha = {alpha!r}; allowed: 0 < alpha < 1")
    means = (
        parse_reported(mean_before, name="mean_before"),
        parse_reported(mean_after, name="mean_after"),
    )
    sds = (
        parse_reported(sd_before, name="sd_before"),
        parse_reported(sd_after, name="sd_after"),
    )
    for label, sd in zip(("sd_before", "sd_after"), sds, strict=True):
        if sd.value <= 0:
            raise InputError(f"{label}: {sd.text!r}; allowed: a positive SD")
    p = parse_reported(p_value, name="p_value", bounded_below=0.0)
    if not 0 < p.value <= 1:
        raise InputError(f"p_value: {p.text!r}; allowed: 0 < p <= 1")
    rows = [
        _grim("mean_before", means[0], int(n), granularity),
        _grim("mean_after", means[1], int(n), granularity),
    ]
    if test == "paired-t":
        rows.extend(_implied_sd_and_r(int(n), means, sds, p))
    else:
        for check in ("implied_sd_difference", "implied_correlation"):
            rows.append(
                _row(
                    check,
                    "not_applicable",
                    math.nan,
                    math.nan,
                    f"the back-calculation needs a paired t p-value, not {test}",
                )
            )
    rows.append(_reach(int(n), p, test, alpha))
    return pd.DataFrame(rows)
