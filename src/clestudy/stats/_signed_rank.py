"""The exact null distribution of Wilcoxon's signed-rank statistic and what follows from it.

Three things the paired engine needs and SciPy does not provide directly:

* the smallest two-sided p-value an exact signed-rank test can reach at a given n;
* the exact two-sided p-value when there are tied absolute differences (the permutation
  distribution of W+ given the mid-ranks, i.e. all 2^n equally likely sign assignments);
* the Hodges-Lehmann estimate with Tukey's distribution-free confidence interval and the
  confidence level that interval actually achieves.

The distributions are computed by subset-sum dynamic programming: with ranks r_1..r_n, the number
of sign assignments giving W+ = k obeys c_i(k) = c_{i-1}(k) + c_{i-1}(k - r_i). Mid-ranks of ties
are multiples of 1/2, so they are doubled to integers first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import stats

from clestudy.errors import InputError

__all__ = [
    "HodgesLehmannResult",
    "hodges_lehmann",
    "min_attainable_p_signed_rank",
    "signed_rank_exact_p",
    "signed_rank_null_pmf",
]

FloatArray = npt.NDArray[np.float64]

#: Above this many non-zero differences the Tukey interval's order statistics come from the
#: normal approximation of W+ (the exact distribution costs O(n^3) to build).
EXACT_CI_MAX_N = 1000


def _subset_sum_pmf(weights: npt.NDArray[np.int64]) -> FloatArray:
    """P(sum of a random subset of ``weights`` = k), each subset equally likely; k = 0..sum."""
    pmf = np.zeros(int(weights.sum()) + 1)
    pmf[0] = 1.0
    top = 0
    for weight in weights.tolist():
        # Halving at every step keeps the values dyadic rationals: exact in float64 for n <= 53.
        shifted = pmf[: top + 1].copy()
        pmf[: top + 1] *= 0.5
        pmf[weight : weight + top + 1] += 0.5 * shifted
        top += weight
    return pmf


@lru_cache(maxsize=256)
def _untied_pmf(n: int) -> FloatArray:
    pmf = _subset_sum_pmf(np.arange(1, n + 1, dtype=np.int64))
    pmf.setflags(write=False)
    return pmf


@lru_cache(maxsize=256)
def _untied_cdf(n: int) -> FloatArray:
    cdf = np.cumsum(_untied_pmf(n))
    cdf.setflags(write=False)
    return cdf


@lru_cache(maxsize=256)
def _walsh_pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    rows, cols = np.triu_indices(n)
    return rows, cols


def signed_rank_null_pmf(n: int) -> FloatArray:
    """Exact null distribution of W+ for ``n`` untied, non-zero differences.

    Parameters
    ----------
    n : int
        Number of non-zero differences (n >= 0).

    Returns
    -------
    numpy.ndarray
        ``pmf[k] = P(W+ = k)`` for k = 0 .. n(n+1)/2, where W+ is the sum of the ranks of the
        positive differences; every one of the 2^n sign assignments is equally likely under H0.

    Notes
    -----
    Validated against ``scipy.stats._wilcoxon.WilcoxonDistribution`` and R's ``dsignrank``
    (tests/stats/test_stats_signed_rank.py).

    Examples
    --------
    >>> signed_rank_null_pmf(3).tolist()
    [0.125, 0.125, 0.125, 0.25, 0.125, 0.125, 0.125]
    """
    if n < 0:
        raise InputError(f"signed_rank_null_pmf: n = {n} is negative; allowed: n >= 0")
    return _untied_pmf(int(n))


def min_attainable_p_signed_rank(n: int) -> float:
    """Smallest two-sided p-value the exact signed-rank test can give with ``n`` non-zero pairs.

    The most extreme outcome (all differences of one sign) has probability 1/2^n in each tail, so
    the two-sided minimum is min(1, 2/2^n) = 2^(1-n), with or without ties. The same bound holds for
    the exact sign test and the sign-flip permutation test. See
    docs/references.md [SciPy wilcoxon] (measured with SciPy 1.17.1 and R 4.2.2).

    Examples
    --------
    >>> min_attainable_p_signed_rank(5)
    0.0625
    >>> min_attainable_p_signed_rank(6)
    0.03125
    >>> min_attainable_p_signed_rank(0)
    1.0
    """
    if n < 0:
        raise InputError(f"min_attainable_p_signed_rank: n = {n} is negative; allowed: n >= 0")
    return min(1.0, 2.0 ** (1 - n))


def signed_rank_exact_p(differences: npt.ArrayLike) -> float:
    """Exact two-sided signed-rank p-value, valid with ties; zeros are dropped (Wilcoxon's rule).

    The absolute non-zero differences get mid-ranks; under H0 every sign assignment is equally
    likely, so the null distribution of W+ is the subset-sum distribution of the mid-ranks
    (Pratt & Gibbons 1981, *Concepts of Nonparametric Theory*, §5.6; this is the permutation
    distribution SciPy's ``wilcoxon(method=PermutationMethod())`` enumerates for n <= 13).
    p = min(1, 2 min(P(W+ <= w), P(W+ >= w))).

    Parameters
    ----------
    differences : array_like
        Paired differences (after - before); zeros are dropped.

    Returns
    -------
    float
        The p-value; NaN when no non-zero difference is left.

    Examples
    --------
    >>> signed_rank_exact_p([5, 5, 2.5, 10, 10])
    0.0625
    >>> signed_rank_exact_p([0, 2, 3, 4, 5])
    0.125
    """
    d = np.asarray(differences, dtype=np.float64)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return math.nan
    doubled = np.rint(2 * stats.rankdata(np.abs(nonzero), method="average")).astype(np.int64)
    pmf = _subset_sum_pmf(doubled)
    observed = int(doubled[nonzero > 0].sum())
    lower = float(pmf[: observed + 1].sum())
    upper = float(pmf[observed:].sum())
    return min(1.0, 2.0 * min(lower, upper))


@dataclass(frozen=True)
class HodgesLehmannResult:
    """The Hodges-Lehmann (pseudo)median of paired differences with its Tukey interval.

    Attributes
    ----------
    estimate : float
        Median of the Walsh averages (d_i + d_j)/2, i <= j.
    ci_low, ci_high : float
        Tukey's distribution-free interval: order statistics of the Walsh averages.
    achieved_level : float
        The interval's exact coverage for continuous data, 1 - 2 P(W+ <= q - 1), which is
        generally not the nominal level (0.9375 at n = 5 when 0.95 is asked for).
    n_used : int
        Non-zero differences used (zeros are dropped, as R's ``wilcox.test`` does).
    method : str
        How the interval was obtained.
    """

    estimate: float
    ci_low: float
    ci_high: float
    achieved_level: float
    n_used: int
    method: str


def hodges_lehmann(
    differences: npt.ArrayLike, *, confidence_level: float = 0.95
) -> HodgesLehmannResult:
    """Hodges-Lehmann estimate and Tukey's distribution-free CI of the paired shift.

    With the N = n(n+1)/2 sorted Walsh averages A_(1) <= ... <= A_(N) of the n non-zero
    differences, and q the smallest k with P(W+ <= k) >= (1 - level)/2 (raised to 1 if it is 0),
    the interval is [A_(q), A_(N+1-q)] and its achieved level is 1 - 2 P(W+ <= q - 1). This is the
    computation of R's ``wilcox.test(x, conf.int = TRUE)`` in its exact branch, except that the
    *achieved* level is reported instead of the requested one.

    Sources: Hodges & Lehmann (1963), Ann. Math. Statist. 34:598-611, doi:10.1214/aoms/1177704172;
    Tukey's interval as in Hollander, Wolfe & Chicken, *Nonparametric Statistical Methods*,
    3rd ed., §3.3. Validated against R 4.2.2 (tests/stats/data/r_reference.json). With ties the
    untied distribution is still used (R switches to a normal approximation there), so the achieved
    level is approximate; the paired engine warns about it. Above ``EXACT_CI_MAX_N`` non-zero
    differences, q comes from the normal approximation of W+.

    Parameters
    ----------
    differences : array_like
        Paired differences (after - before). Zeros are dropped.
    confidence_level : float
        Requested level, 0 < level < 1.

    Returns
    -------
    HodgesLehmannResult
        NaN estimate and bounds when no non-zero difference is left.

    Examples
    --------
    >>> hl = hodges_lehmann([10, 7.5, 5, 12.5, 2.5])
    >>> hl.estimate, hl.ci_low, hl.ci_high, hl.achieved_level
    (7.5, 2.5, 12.5, 0.9375)
    """
    if not 0 < confidence_level < 1:
        raise InputError(
            f"hodges_lehmann: confidence_level = {confidence_level!r}; allowed: 0 < level < 1"
        )
    d = np.asarray(differences, dtype=np.float64)
    nonzero = d[d != 0]
    n = int(nonzero.size)
    if n == 0:
        return HodgesLehmannResult(
            math.nan, math.nan, math.nan, math.nan, 0, "no non-zero differences"
        )
    rows, cols = _walsh_pairs(n)
    walsh = np.sort((nonzero[rows] + nonzero[cols]) / 2.0)
    total = walsh.size
    half_alpha = (1.0 - confidence_level) / 2.0
    if n <= EXACT_CI_MAX_N:
        cdf = _untied_cdf(n)
        # searchsorted gives R's qsignrank; the small tolerance absorbs float error in the cumsum.
        q = int(np.searchsorted(cdf, half_alpha * (1 - 1e-12), side="left"))
        q = max(q, 1)
        achieved_alpha = 2.0 * float(cdf[q - 1])
        method = "Tukey distribution-free interval, exact null distribution of W+"
    else:
        mean = n * (n + 1) / 4.0
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        q = max(1, math.floor(mean - float(stats.norm.ppf(1 - half_alpha)) * sd))
        achieved_alpha = 2.0 * float(stats.norm.cdf((q - 0.5 - mean) / sd))
        method = "Tukey distribution-free interval, normal approximation of W+"
    return HodgesLehmannResult(
        estimate=float(walsh[(total - 1) // 2] + walsh[total // 2]) / 2.0,
        ci_low=float(walsh[q - 1]),
        ci_high=float(walsh[total - q]),
        achieved_level=1.0 - achieved_alpha,
        n_used=n,
        method=method,
    )
