"""Responders versus non-responders: exact Mann-Whitney, Fisher's exact test, exact Spearman."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from clestudy.errors import InputError
from clestudy.stats._descriptive import quartiles
from clestudy.stats._exact_two_sample import (
    MAX_RANK_SUM_N,
    fisher_2xc_exact_p,
    rank_sum_exact_p,
)
from clestudy.stats._long_table import check_columns, numeric_column

__all__ = ["responder_comparison", "spearman_correlation"]

FloatArray = npt.NDArray[np.float64]

#: Largest n for which Spearman's p is enumerated over all n! pairings (9! = 362,880).
SPEARMAN_EXACT_MAX_N = 9

METHOD_MW_EXACT = "Mann-Whitney U, exact distribution (scipy.stats.mannwhitneyu, method='exact')"
METHOD_MW_PERMUTATION = (
    "Mann-Whitney U with tied values, exact permutation distribution of the rank sum given the "
    "mid-ranks, two-sided p = P(|W - E W| >= |w - E W|) (clestudy.stats rank_sum_exact_p)"
)
METHOD_MW_ASYMPTOTIC = (
    "Mann-Whitney U with tied values, pooled n above 200: normal approximation, tie-corrected, "
    "with continuity correction (scipy.stats.mannwhitneyu, method='asymptotic')"
)
METHOD_FISHER = "Fisher's exact test, 2 x 2 (scipy.stats.fisher_exact), two-sided"
METHOD_FISHER_RXC = (
    "Fisher-Freeman-Halton exact test over all 2 x c tables with the observed margins "
    "(clestudy.stats fisher_2xc_exact_p)"
)
MONTE_CARLO_RESAMPLES = 99_999
MONTE_CARLO_SEED = 20261122
METHOD_FISHER_MONTE_CARLO = (
    f"Fisher-Freeman-Halton test, too many tables to enumerate: Monte Carlo p from "
    f"{MONTE_CARLO_RESAMPLES} random tables with the observed margins (scipy.stats.fisher_exact, "
    f"MonteCarloMethod, seed {MONTE_CARLO_SEED})"
)
METHOD_SPEARMAN_EXACT = (
    "Spearman rank correlation, exact permutation p over all n! pairings "
    "(scipy.stats.permutation_test, permutation_type='pairings', n_resamples=inf)"
)
METHOD_SPEARMAN_T = (
    "Spearman rank correlation, p from the t approximation with n - 2 df (scipy.stats.spearmanr)"
)


def _group_mask(data: pd.DataFrame, group: str, responder: Hashable, source: str) -> pd.Series:
    labels = data[group]
    if not (labels == responder).any():
        present = ", ".join(repr(v) for v in pd.unique(labels.dropna()))
        raise InputError(
            f"{source}: column {group!r}: no row has the responder label {responder!r}; "
            f"the labels present are {present or 'none'}"
        )
    return labels.notna() & (labels == responder)


def _quartiles(values: FloatArray) -> tuple[float, float, float]:
    """Median, Q1, Q3 (type 7), NaN for an empty group."""
    if values.size == 0:
        return math.nan, math.nan, math.nan
    q1, median, q3 = quartiles(values)
    return median, q1, q3


def _mann_whitney(responders: FloatArray, others: FloatArray) -> dict[str, Any]:
    if responders.size == 0 or others.size == 0:
        return {"statistic": math.nan, "p_value": math.nan, "method": "not computed: empty group"}
    pooled = np.concatenate([responders, others])
    ties = bool(np.unique(pooled).size < pooled.size)
    if not ties:
        result = stats.mannwhitneyu(responders, others, alternative="two-sided", method="exact")
        return {
            "statistic": float(result.statistic),
            "p_value": float(result.pvalue),
            "method": METHOD_MW_EXACT,
        }
    u_statistic = float(stats.rankdata(pooled)[: responders.size].sum()) - (
        responders.size * (responders.size + 1) / 2
    )
    if pooled.size <= MAX_RANK_SUM_N:
        p_value, name = rank_sum_exact_p(responders, others), METHOD_MW_PERMUTATION
    else:
        result = stats.mannwhitneyu(
            responders, others, use_continuity=True, alternative="two-sided", method="asymptotic"
        )
        p_value, name = float(result.pvalue), METHOD_MW_ASYMPTOTIC
    return {"statistic": u_statistic, "p_value": p_value, "method": name}


def _fisher_rxc(table: npt.NDArray[np.int64]) -> tuple[float, str]:
    """Exact by enumeration when feasible, else a Monte Carlo p with a fixed seed (like R's
    ``fisher.test(simulate.p.value = TRUE)``), so the result is the same on every run."""
    try:
        return fisher_2xc_exact_p(table), METHOD_FISHER_RXC
    except ValueError:
        method = stats.MonteCarloMethod(n_resamples=MONTE_CARLO_RESAMPLES, rng=MONTE_CARLO_SEED)
        result = stats.fisher_exact(table, method=method)
        return float(result.pvalue), METHOD_FISHER_MONTE_CARLO


def _continuous_row(
    data: pd.DataFrame, variable: str, mask: pd.Series, known: pd.Series, source: str
) -> dict[str, Any]:
    """Medians, quartiles and the Mann-Whitney test of one continuous variable."""
    values = numeric_column(data, variable, source=source)
    present = values.notna() & known
    first = values[present & mask].to_numpy()
    second = values[present & ~mask].to_numpy()
    median_r, q1_r, q3_r = _quartiles(first)
    median_n, q1_n, q3_n = _quartiles(second)
    return {
        "variable": variable,
        "kind": "continuous",
        "n_responders": int(first.size),
        "n_non_responders": int(second.size),
        "median_responders": median_r,
        "q1_responders": q1_r,
        "q3_responders": q3_r,
        "median_non_responders": median_n,
        "q1_non_responders": q1_n,
        "q3_non_responders": q3_n,
        "table": None,
        **_mann_whitney(first, second),
    }


def _fisher_test(table: npt.NDArray[np.int64], levels: list[Any]) -> dict[str, Any]:
    """Fisher's exact test of a levels x group table (2 x 2 with the odds ratio, else r x c)."""
    if len(levels) < 2 or (table.sum(axis=1) == 0).any():
        return {
            "statistic": math.nan,
            "p_value": math.nan,
            "method": "not computed: fewer than 2 levels or an empty group",
        }
    # 2 x 2: SciPy's conditional exact test (method=None is exact there; for larger tables
    # SciPy's default is Monte Carlo, so those are enumerated here). Columns are reversed so the
    # odds ratio is that of the last level, e.g. "yes" over "no".
    if table.shape == (2, 2):
        result = stats.fisher_exact(table[:, ::-1], alternative="two-sided", method=None)
        method = METHOD_FISHER + (
            f"; statistic: sample odds ratio of {str(levels[1])!r} versus "
            f"{str(levels[0])!r}, responders relative to non-responders"
        )
        return {
            "statistic": float(result.statistic),
            "p_value": float(result.pvalue),
            "method": method,
        }
    p_value, method = _fisher_rxc(table)
    return {"statistic": math.nan, "p_value": p_value, "method": method}


def _categorical_row(
    column: pd.Series, variable: str, mask: pd.Series, known: pd.Series
) -> dict[str, Any]:
    """The levels x group table and Fisher's exact test of one categorical variable."""
    present = column.notna() & known
    levels = sorted(pd.unique(column[present]).tolist(), key=str)
    table = np.array(
        [
            [int(((column == level) & present & mask).sum()) for level in levels],
            [int(((column == level) & present & ~mask).sum()) for level in levels],
        ]
    )
    return {
        "variable": variable,
        "kind": "categorical",
        "n_responders": int(table[0].sum()),
        "n_non_responders": int(table[1].sum()),
        "table": {
            str(level): {"responders": int(r), "non_responders": int(n)}
            for level, r, n in zip(levels, table[0], table[1], strict=True)
        },
        **_fisher_test(table, levels),
    }


def responder_comparison(
    data: pd.DataFrame,
    *,
    group: str,
    responder: Hashable,
    continuous: Sequence[str] = (),
    categorical: Sequence[str] = (),
    source: str = "data",
) -> pd.DataFrame:
    """Compare responders with non-responders, one row per variable.

    ``data`` has one row per subject. Rows whose ``group`` equals ``responder`` are responders,
    every other non-missing label is a non-responder, rows with a missing label are left out.
    Missing values of a variable leave that subject out of that variable only.

    * Continuous variables: medians and quartiles per group and the two-sided Mann-Whitney U test
      (Mann & Whitney 1947, doi:10.1214/aoms/1177730491). Without ties the p is exact; with ties
      it is the exact permutation p given the mid-ranks when the pooled n is at most 200, else
      the tie-corrected normal approximation (named in ``method``).
      ``statistic`` is U of the responders. Validated against R ``wilcox.test(x, y, exact = TRUE)``
      and ``coin::wilcox_test(distribution = "exact")`` with ties.
    * Categorical variables: the levels x group table and Fisher's exact test (2 x 2: the
      conditional test with the two-sided p of R's ``fisher.test``; larger tables: the
      Freeman-Halton extension). ``statistic`` is the sample odds ratio of the last level (in
      sorted order) for 2 x 2 tables, NaN for larger ones.

    Examples
    --------
    >>> subjects = pd.DataFrame({"response": ["yes"] * 4 + ["no"] * 4,
    ...     "ifn_score": [7.4, 9.1, 12.0, 26.4, 3.1, 4.2, 5.7, 2.9],
    ...     "discoid": ["y", "y", "n", "y", "n", "n", "y", "n"]})
    >>> out = responder_comparison(subjects, group="response", responder="yes",
    ...     continuous=["ifn_score"], categorical=["discoid"])
    >>> out[["variable", "p_value"]].round(4).values.tolist()
    [['ifn_score', 0.0286], ['discoid', 0.4857]]
    """
    check_columns(data, [group, *continuous, *categorical], source=source)
    mask = _group_mask(data, group, responder, source)
    known = data[group].notna()
    rows = [_continuous_row(data, v, mask, known, source) for v in continuous]
    rows += [_categorical_row(data[v], v, mask, known) for v in categorical]
    return pd.DataFrame(rows)


def _rank_correlation(x: FloatArray, y: FloatArray, axis: int = -1) -> FloatArray:
    x_c = x - x.mean(axis=axis, keepdims=True)
    y_c = y - y.mean(axis=axis, keepdims=True)
    numerator = (x_c * y_c).sum(axis=axis)
    denominator = np.sqrt((x_c**2).sum(axis=axis) * (y_c**2).sum(axis=axis))
    result: FloatArray = numerator / denominator
    return result


def _exact_spearman(rx: FloatArray, ry: FloatArray) -> Any:
    def rho(y_ranks: FloatArray, axis: int = -1) -> FloatArray:
        return _rank_correlation(rx, y_ranks, axis=axis)

    # One sample: 'pairings' then permutes only y, n! orderings (two samples would be (n!)^2).
    return stats.permutation_test(
        (ry,),
        rho,
        permutation_type="pairings",
        n_resamples=np.inf,
        batch=50_000,
        alternative="two-sided",
        vectorized=True,
    )


def spearman_correlation(
    data: pd.DataFrame, *, x: str | Sequence[str], y: str, source: str = "data"
) -> pd.DataFrame:
    """Spearman's rank correlation of each ``x`` (e.g. biomarker change) with ``y`` (clinical change).

    rho is Pearson's correlation of the mid-ranks. For n <= 9 the two-sided p is exact: the
    permutation distribution over all n! pairings (conditional on the mid-ranks when there are
    ties); R's ``cor.test(method = "spearman", exact = TRUE)`` gives the same p without ties. For
    larger n the p comes from the t approximation t = rho sqrt((n - 2)/(1 - rho^2)) with n - 2
    df (R uses an Edgeworth series for 10 <= n < 1290; the method column says which applies).
    Subjects missing either value are left out. Source: Spearman (1904),
    Am. J. Psychol. 15:72-101, doi:10.2307/1412159.

    Examples
    --------
    >>> change = pd.DataFrame({"ifn": [-20.1, -8.3, -3.0, -12.5, -1.1],
    ...                        "clasi": [-9, -4, -1, -7, 0]})
    >>> row = spearman_correlation(change, x="ifn", y="clasi").iloc[0]
    >>> float(row["rho"]), float(row["p_value"])
    (1.0, 0.016666666666666666)
    """
    names = [x] if isinstance(x, str) else list(x)
    check_columns(data, [*names, y], source=source)
    target = numeric_column(data, y, source=source)
    rows = []
    for name in names:
        values = numeric_column(data, name, source=source)
        present = (values.notna() & target.notna()).to_numpy()
        xs, ys = values.to_numpy()[present], target.to_numpy()[present]
        n = int(xs.size)
        row: dict[str, Any] = {"x": name, "y": y, "n": n}
        ties = bool(np.unique(xs).size < n or np.unique(ys).size < n)
        if n < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
            row.update(
                rho=math.nan,
                p_value=math.nan,
                has_ties=ties,
                method="not computed: fewer than 3 pairs or a constant variable",
            )
        elif n <= SPEARMAN_EXACT_MAX_N:
            result = _exact_spearman(stats.rankdata(xs), stats.rankdata(ys))
            row.update(
                rho=float(result.statistic),
                p_value=float(result.pvalue),
                has_ties=ties,
                method=METHOD_SPEARMAN_EXACT,
            )
        else:
            result = stats.spearmanr(xs, ys, alternative="two-sided")
            row.update(
                rho=float(result.statistic),
                p_value=float(result.pvalue),
                has_ties=ties,
                method=METHOD_SPEARMAN_T,
            )
        rows.append(row)
    return pd.DataFrame(rows)
