"""Exact conditional two-sample tests that SciPy computes only by resampling.

* The Wilcoxon-Mann-Whitney rank-sum test with tied values: the permutation distribution of the
  rank sum given the mid-ranks, by dynamic programming over (subset size, doubled rank sum).
  Two-sided p = P(|W - E W| >= |w - E W|), the definition of R's ``coin::wilcox_test`` and of
  StatXact (Hothorn et al. 2006, Am. Stat. 60:257-263, doi:10.1198/000313006X118430). SciPy's
  ``PermutationMethod`` doubles the smaller tail instead, which differs when the tied
  distribution is asymmetric.
* Fisher's exact test for 2 x c tables (Freeman & Halton 1951, Biometrika 38:141-149,
  doi:10.2307/2332323): every table with the observed margins, p = total probability of tables no
  more probable than the observed one (relative tolerance 1e-7, as R's ``fisher.test``). SciPy's
  default for tables larger than 2 x 2 is a Monte Carlo p, different on every run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from scipy import special, stats

__all__ = ["MAX_FISHER_TABLES", "MAX_RANK_SUM_N", "fisher_2xc_exact_p", "rank_sum_exact_p"]

#: Largest pooled sample for the exact rank-sum distribution with ties (cost ~ N^4 / 4).
MAX_RANK_SUM_N = 200
#: Largest number of 2 x c tables enumerated by :func:`fisher_2xc_exact_p`.
MAX_FISHER_TABLES = 2_000_000
_RELATIVE_TOLERANCE = 1 + 1e-7


def rank_sum_exact_p(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Exact two-sided rank-sum p, conditional on the (possibly tied) mid-ranks.

    Examples
    --------
    >>> round(rank_sum_exact_p([3, 5, 5, 7, 9], [1, 3, 3, 5, 6, 2]), 6)
    0.125541
    """
    first = np.asarray(x, dtype=np.float64)
    pooled = np.concatenate([first, np.asarray(y, dtype=np.float64)])
    n, m = pooled.size, first.size
    doubled = np.rint(2 * stats.rankdata(pooled)).astype(np.int64)
    total = int(doubled.sum())
    # counts[k, s]: subsets of size k with doubled rank sum s (at most C(200, 100) ~ 1e59).
    counts = np.zeros((m + 1, total + 1))
    counts[0, 0] = 1.0
    for weight in doubled.tolist():
        previous = counts[:-1, : total + 1 - weight].copy()  # each item used at most once
        counts[1:, weight:] += previous
    distribution = counts[m] / special.comb(n, m, exact=False)
    observed = int(doubled[:m].sum())
    centre = m * (n + 1)  # twice the expected rank sum
    sums = np.arange(total + 1)
    extreme = np.abs(sums - centre) >= abs(observed - centre) - 1e-9
    return float(min(1.0, distribution[extreme].sum()))


def _first_rows(columns: list[int], row_total: int) -> Iterator[tuple[int, ...]]:
    if len(columns) == 1:
        if 0 <= row_total <= columns[0]:
            yield (row_total,)
        return
    rest = sum(columns[1:])
    for a in range(max(0, row_total - rest), min(columns[0], row_total) + 1):
        for tail in _first_rows(columns[1:], row_total - a):
            yield (a, *tail)


def fisher_2xc_exact_p(table: npt.ArrayLike) -> float:
    """Exact Fisher-Freeman-Halton p for a 2 x c table of counts.

    Raises ``ValueError`` when more than :data:`MAX_FISHER_TABLES` tables would be enumerated.

    Examples
    --------
    >>> round(fisher_2xc_exact_p([[3, 0, 1], [1, 2, 4]]), 6)
    0.272727
    """
    counts = np.asarray(table, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != 2:
        raise ValueError(f"fisher_2xc_exact_p needs a 2 x c table, got shape {counts.shape}")
    columns = counts.sum(axis=0).tolist()
    first = int(counts[0].sum())
    if math.prod(c + 1 for c in columns) > MAX_FISHER_TABLES:
        raise ValueError("too many tables to enumerate")
    log_norm = (
        math.lgamma(sum(columns) + 1)
        - math.lgamma(first + 1)
        - math.lgamma(sum(columns) - first + 1)
    )

    def log_probability(row: tuple[int, ...]) -> float:
        return (
            sum(
                math.lgamma(c + 1) - math.lgamma(a + 1) - math.lgamma(c - a + 1)
                for a, c in zip(row, columns, strict=True)
            )
            - log_norm
        )

    observed = log_probability(tuple(counts[0].tolist()))
    threshold = observed + math.log(_RELATIVE_TOLERANCE)
    total = sum(
        math.exp(lp)
        for lp in (log_probability(row) for row in _first_rows(columns, first))
        if lp <= threshold
    )
    return min(1.0, total)
