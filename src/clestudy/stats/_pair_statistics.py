"""Descriptives, tests and effect sizes for one set of complete pairs (no plan rule, no warnings).

Every SciPy call names its ``method`` explicitly: SciPy's ``method='auto'`` for ``wilcoxon`` changed
in 1.15 (docs/references.md [SciPy wilcoxon]), and a report must not depend on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from clestudy.stats._descriptive import quartiles
from clestudy.stats._signed_rank import (
    EXACT_CI_MAX_N,
    hodges_lehmann,
    min_attainable_p_signed_rank,
    signed_rank_exact_p,
)

__all__ = [
    "METHOD_SIGN",
    "METHOD_T",
    "METHOD_WILCOXON_ASYMPTOTIC",
    "METHOD_WILCOXON_EXACT",
    "METHOD_WILCOXON_LARGE_N",
    "METHOD_WILCOXON_PERMUTATION",
    "ZERO_METHOD",
    "pair_statistics",
]

FloatArray = npt.NDArray[np.float64]

ZERO_METHOD = "wilcox"
METHOD_T = "paired Student t-test (scipy.stats.ttest_rel)"
METHOD_WILCOXON_EXACT = (
    "Wilcoxon signed-rank, exact null distribution (scipy.stats.wilcoxon, method='exact'); "
    "zero differences dropped (zero_method='wilcox'); differences rounded to 12 significant "
    "digits before ranking; two-sided"
)
METHOD_WILCOXON_PERMUTATION = (
    "Wilcoxon signed-rank, exact permutation distribution of W+ given the tied mid-ranks "
    "(all 2^n sign assignments; clestudy.stats.signed_rank_exact_p); zero differences dropped "
    "(Wilcoxon's rule); differences rounded to 12 significant digits before ranking; two-sided"
)
METHOD_WILCOXON_ASYMPTOTIC = (
    "Wilcoxon signed-rank, normal approximation without continuity correction, tie-corrected "
    "variance (scipy.stats.wilcoxon, method='asymptotic', correction=False); zero differences "
    "dropped (zero_method='wilcox'); two-sided"
)
METHOD_WILCOXON_LARGE_N = (
    "Wilcoxon signed-rank, normal approximation without continuity correction, tie-corrected "
    "variance (scipy.stats.wilcoxon, method='asymptotic', correction=False), in place of the "
    f"exact p above {EXACT_CI_MAX_N} non-zero differences (the exact distribution costs O(n^3) "
    "to build; the Hodges-Lehmann interval switches at the same n); zero differences dropped "
    "(zero_method='wilcox'); two-sided"
)
METHOD_SIGN = (
    "exact sign test (scipy.stats.binomtest, p = 0.5); zero differences dropped; two-sided"
)


#: Significant digits the differences keep before the rank-based tests (Wilcoxon, sign test,
#: Hodges-Lehmann) look at them. Values entered as decimals (1.3 - 1.1 and 2.3 - 2.1) differ in
#: binary floating point by ~1e-16; rounding makes them the tie they are, and a difference of
#: 1e-17 the zero it is. R offers the same as ``wilcox.test(..., digits.rank = 12)``.
RANK_DIGITS = 12


def signif(values: FloatArray, digits: int = RANK_DIGITS) -> FloatArray:
    """``values`` rounded to ``digits`` significant digits (R's ``signif``), vectorised.

    >>> d = np.array([1.3, 2.3, 5.0]) - np.array([1.1, 2.1, 5.0])
    >>> bool(d[0] == d[1]), signif(d).tolist()
    (False, [0.2, 0.2, 0.0])
    """
    out = np.zeros_like(values)
    nonzero = values != 0
    exponent = np.floor(np.log10(np.abs(values[nonzero])))
    scale = 10.0 ** (digits - 1 - exponent)
    out[nonzero] = np.round(values[nonzero] * scale) / scale
    return out


def _describe(values: FloatArray, suffix: str) -> dict[str, float]:
    n = values.size
    if n == 0:
        nan = math.nan
        return {f"{k}_{suffix}": nan for k in ("mean", "sd", "median", "q1", "q3")}
    q1, median, q3 = quartiles(values)
    return {
        f"mean_{suffix}": float(values.mean()),
        f"sd_{suffix}": float(values.std(ddof=1)) if n > 1 else math.nan,
        f"median_{suffix}": median,
        f"q1_{suffix}": q1,
        f"q3_{suffix}": q3,
    }


def _t_test(before: FloatArray, after: FloatArray, confidence_level: float) -> dict[str, float]:
    d = signif(after - before)
    if d.size < 2 or float(np.ptp(d)) == 0.0:
        # n < 2 or constant differences (6.8 - 4.9 and 2.9 - 1.0 are both 1.9 as entered, not in
        # binary): t is undefined (0/0) or infinite; report nothing.
        return {
            "t_statistic": math.nan,
            "t_df": math.nan,
            "p_t": math.nan,
            "ci_mean_difference_low": math.nan,
            "ci_mean_difference_high": math.nan,
        }
    result = stats.ttest_rel(after, before, alternative="two-sided")
    interval = result.confidence_interval(confidence_level=confidence_level)
    return {
        "t_statistic": float(result.statistic),
        "t_df": float(result.df),
        "p_t": float(result.pvalue),
        "ci_mean_difference_low": float(interval.low),
        "ci_mean_difference_high": float(interval.high),
    }


def _wilcoxon(d: FloatArray) -> dict[str, Any]:
    nonzero = d[d != 0]
    n_nonzero = int(nonzero.size)
    magnitude = np.abs(nonzero)
    order = np.argsort(magnitude, kind="stable")
    ties = bool(np.any(np.diff(magnitude[order]) == 0))
    out: dict[str, Any] = {
        "n_nonzero_differences": n_nonzero,
        "has_ties": ties,
        "min_attainable_p_wilcoxon": min_attainable_p_signed_rank(n_nonzero),
    }
    if n_nonzero == 0:
        out.update(
            wilcoxon_w_plus=math.nan,
            p_wilcoxon_exact=math.nan,
            method_wilcoxon_exact="not computed: no non-zero difference",
            wilcoxon_z=math.nan,
            p_wilcoxon_asymptotic=math.nan,
        )
        return out
    if ties:
        ranks = stats.rankdata(magnitude, method="average")
    else:
        ranks = np.empty(n_nonzero)
        ranks[order] = np.arange(1, n_nonzero + 1)
    out["wilcoxon_w_plus"] = float(ranks[nonzero > 0].sum())
    asymptotic = stats.wilcoxon(
        d, zero_method=ZERO_METHOD, correction=False, alternative="two-sided", method="asymptotic"
    )
    if n_nonzero > EXACT_CI_MAX_N:  # the exact distribution is cubic in n: not enumerated
        out["p_wilcoxon_exact"] = float(asymptotic.pvalue)
        out["method_wilcoxon_exact"] = METHOD_WILCOXON_LARGE_N
    elif ties:
        out["p_wilcoxon_exact"] = signed_rank_exact_p(nonzero)
        out["method_wilcoxon_exact"] = METHOD_WILCOXON_PERMUTATION
    else:
        exact = stats.wilcoxon(d, zero_method=ZERO_METHOD, alternative="two-sided", method="exact")
        out["p_wilcoxon_exact"] = float(exact.pvalue)
        out["method_wilcoxon_exact"] = METHOD_WILCOXON_EXACT
    out["wilcoxon_z"] = float(asymptotic.zstatistic)
    out["p_wilcoxon_asymptotic"] = float(asymptotic.pvalue)
    return out


def pair_statistics(
    before: FloatArray, after: FloatArray, *, confidence_level: float
) -> dict[str, Any]:
    """Everything the paired engine computes from complete pairs; differences are after - before.

    Examples
    --------
    >>> row = pair_statistics(np.array([20.0, 15, 30, 25, 10]), np.array([10.0, 7.5, 25, 12.5,
    ...                       7.5]), confidence_level=0.95)
    >>> row["p_wilcoxon_exact"], round(row["p_wilcoxon_asymptotic"], 6)
    (0.0625, 0.043114)
    """
    d = after - before
    n = int(d.size)
    sd_d = float(np.std(d, ddof=1)) if n > 1 else math.nan
    mean_d = float(np.mean(d)) if n else math.nan
    row: dict[str, Any] = {"n_pairs": n}
    row.update(_describe(before, "before"))
    row.update(_describe(after, "after"))
    row.update(
        mean_difference=mean_d,
        sd_difference=sd_d,
        median_difference=quartiles(d)[1] if n else math.nan,
    )
    row.update(_t_test(before, after, confidence_level))
    row["method_t"] = METHOD_T
    d = signif(d)  # the rank-based tests below see decimal ties as ties (RANK_DIGITS)
    row.update(
        n_increased=int(np.count_nonzero(d > 0)),
        n_decreased=int(np.count_nonzero(d < 0)),
        n_unchanged=int(np.count_nonzero(d == 0)),
    )
    row.update(_wilcoxon(d))
    row["method_wilcoxon_asymptotic"] = METHOD_WILCOXON_ASYMPTOTIC
    row["zero_method"] = ZERO_METHOD
    trials = row["n_increased"] + row["n_decreased"]
    row["p_sign"] = (
        float(stats.binomtest(row["n_increased"], trials, 0.5, alternative="two-sided").pvalue)
        if trials
        else math.nan
    )
    row["method_sign"] = METHOD_SIGN
    hl = hodges_lehmann(d, confidence_level=confidence_level)
    row.update(
        hodges_lehmann=hl.estimate,
        hl_ci_low=hl.ci_low,
        hl_ci_high=hl.ci_high,
        hl_ci_achieved_level=hl.achieved_level,
        method_hodges_lehmann=(
            f"Hodges-Lehmann median of Walsh averages; {hl.method}; zero differences dropped"
        ),
        # constant differences (after rounding away float noise) have no standardised effect
        cohen_dz=mean_d / sd_d if n > 1 and float(np.ptp(d)) > 0 else math.nan,
    )
    return row
