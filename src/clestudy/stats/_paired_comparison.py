"""Paired comparison of endpoints between two visits, under a prespecified decision rule."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, Literal, get_args

import pandas as pd
import scipy

from clestudy.errors import InputError
from clestudy.stats._long_table import MeasurePairs, pair_measures
from clestudy.stats._pair_statistics import pair_statistics

__all__ = ["RULES", "PairedRule", "paired_comparison"]

PairedRule = Literal["t-then-wilcoxon", "t", "wilcoxon", "both"]
RULES: tuple[str, ...] = get_args(PairedRule)


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _apply_rule(row: dict[str, Any], rule: str, alpha: float) -> None:
    p_t, p_w = row["p_t"], row["p_wilcoxon_exact"]
    significant_t = bool(p_t < alpha)  # NaN compares False: no test, no significance
    significant_w = bool(p_w < alpha)
    if rule == "t":
        decided_by, p_decisive, significant = "t", p_t, significant_t
    elif rule == "wilcoxon":
        decided_by, p_decisive, significant = "wilcoxon_exact", p_w, significant_w
    elif rule == "both":
        decided_by = "t and wilcoxon_exact"
        p_decisive = max(p_t, p_w) if not (math.isnan(p_t) or math.isnan(p_w)) else math.nan
        significant = significant_t and significant_w
    elif not significant_t:  # t-then-wilcoxon, stopped at the t-test
        decided_by, p_decisive, significant = "t", p_t, False
    else:
        decided_by, p_decisive, significant = "wilcoxon_exact", p_w, significant_w
    row.update(
        alpha=alpha,
        rule=rule,
        decided_by=decided_by,
        p_decisive=p_decisive,
        significant_t=significant_t,
        significant_wilcoxon_exact=significant_w,
        significant=significant,
    )


def _warnings(
    row: dict[str, Any], pairs: MeasurePairs, alpha: float, level: float
) -> list[dict[str, str]]:
    return _data_warnings(row, pairs) + _inference_warnings(row, alpha, level)


def _data_warnings(row: dict[str, Any], pairs: MeasurePairs) -> list[dict[str, str]]:
    """What the data do to the tests: dropped subjects, too few pairs, zero and tied differences."""
    out = []
    if pairs.dropped_subjects:
        out.append(
            _warning(
                "incomplete_pairs_dropped",
                f"{len(pairs.dropped_subjects)} subject(s) without a value at both visits were "
                f"left out: {', '.join(pairs.dropped_subjects)}",
            )
        )
    n, k = row["n_pairs"], row["n_nonzero_differences"]
    if n < 2:
        out.append(_warning("too_few_pairs", f"{n} complete pair(s): the t-test needs at least 2"))
    elif math.isnan(row["p_t"]):
        out.append(
            _warning(
                "constant_differences",
                "every difference is the same, so the t statistic is undefined (SD = 0)",
            )
        )
    if row["n_unchanged"]:
        out.append(
            _warning(
                "zero_differences_dropped",
                f"{row['n_unchanged']} zero difference(s) dropped from the signed-rank and sign "
                f"tests (Wilcoxon's rule); they use {k} pairs",
            )
        )
    if row["has_ties"]:
        out.append(
            _warning(
                "tied_differences",
                "tied absolute differences: the exact p comes from the permutation distribution "
                "given the mid-ranks, and the Hodges-Lehmann interval's achieved level is "
                "approximate",
            )
        )
    return out


def _inference_warnings(row: dict[str, Any], alpha: float, level: float) -> list[dict[str, str]]:
    """Where the tests and the interval cannot say what a reader would expect at this n."""
    out = []
    k = row["n_nonzero_differences"]
    min_p = row["min_attainable_p_wilcoxon"]
    if min_p > alpha:
        out.append(
            _warning(
                "exact_wilcoxon_cannot_reach_alpha",
                f"with {k} non-zero difference(s) the exact two-sided Wilcoxon p cannot be below "
                f"{min_p:.6g}, which is above alpha = {alpha:g}: the test cannot confirm anything "
                f"at this n, and only the normal approximation can fall under alpha",
            )
        )
    if row["p_wilcoxon_asymptotic"] < alpha <= row["p_wilcoxon_exact"]:
        out.append(
            _warning(
                "asymptotic_wilcoxon_disagrees",
                f"the normal-approximation Wilcoxon p ({row['p_wilcoxon_asymptotic']:.6g}) is "
                f"below alpha but the exact p ({row['p_wilcoxon_exact']:.6g}) is not; software "
                f"printing the approximation (SPSS 'Asymp. Sig.') would call this significant",
            )
        )
    achieved = row["hl_ci_achieved_level"]
    if achieved < level - 1e-12:
        out.append(
            _warning(
                "hl_ci_below_nominal_level",
                f"the distribution-free interval of the Hodges-Lehmann estimate achieves "
                f"{achieved:.6g}, below the requested {level:g}; no higher level is attainable "
                f"at this n",
            )
        )
    return out


def paired_comparison(
    data: pd.DataFrame,
    *,
    subject: str,
    visit: str,
    before: Hashable,
    after: Hashable,
    measures: Sequence[str],
    alpha: float = 0.05,
    rule: PairedRule = "t-then-wilcoxon",
    confidence_level: float = 0.95,
    source: str = "data",
) -> pd.DataFrame:
    """Compare each measure between two visits, reporting every test and the rule's decision.

    Differences, effect sizes and intervals are oriented after - before. Subjects lacking a value
    at either visit are dropped for that measure only and named.

    Tests, all two-sided: the paired t-test (t, df = n - 1, p, CI of the mean difference); the
    Wilcoxon signed-rank test with its exact p (SciPy's exact distribution, or the exact
    permutation distribution given the mid-ranks when absolute differences tie) and its normal
    approximation without continuity correction, tie-corrected; the exact sign test. Zero
    differences are dropped from the rank and sign tests (Wilcoxon 1945). Effect sizes: Cohen's
    d_z = mean(d) / SD(d) (Cohen 1988, eq. 2.3.5) and the Hodges-Lehmann estimate with Tukey's
    distribution-free interval at its achieved level (see :func:`hodges_lehmann`).
    ``min_attainable_p_wilcoxon`` = 2^(1-k) for k non-zero differences.

    Decision rules (``decided_by`` names the test whose p decided, ``p_decisive`` gives it):

    * ``"t-then-wilcoxon"``: the rule of the pediatric chart review (seed 003) -- t-test first;
      when p_t < alpha, significance also needs the exact Wilcoxon p < alpha.
    * ``"t"``: p_t < alpha.  ``"wilcoxon"``: exact Wilcoxon p < alpha.
    * ``"both"``: both are reported side by side (``significant_t``,
      ``significant_wilcoxon_exact``); ``significant`` needs both.

    Validated against R 4.2.2 ``t.test(paired = TRUE)`` and ``wilcox.test`` on Student's sleep data,
    n = 5 same-sign data and data with ties and zeros (tests/stats/data/r_reference.json).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per subject x visit, one column per measure.
    subject, visit : str
        Columns naming the subject and the visit.
    before, after : hashable
        The two visit labels compared.
    measures : sequence of str
        Measure columns, analysed one by one.
    alpha : float
        Significance level, 0 < alpha < 1.
    rule : {"t-then-wilcoxon", "t", "wilcoxon", "both"}
        The prespecified decision rule.
    confidence_level : float
        Level requested for the mean-difference CI and the Hodges-Lehmann interval.
    source : str
        Names the data in error messages (the CLI passes the file name).

    Returns
    -------
    pandas.DataFrame
        One row per measure x comparison (``measure``, ``before_visit``, ``after_visit``, then
        the statistics). No rounding. ``warnings`` holds a list of ``{"code", "message"}``.

    Raises
    ------
    InputError
        A missing column, an absent visit label, a duplicate subject row, a non-numeric value,
        or an invalid alpha, level or rule.

    Examples
    --------
    >>> long = pd.DataFrame({
    ...     "subject": [f"P{i}" for i in range(1, 6)] * 2,
    ...     "visit": ["pre"] * 5 + ["post"] * 5,
    ...     "dose": [20, 15, 30, 25, 10, 10, 7.5, 25, 12.5, 7.5]})
    >>> out = paired_comparison(long, subject="subject", visit="visit", before="pre",
    ...                         after="post", measures=["dose"])
    >>> row = out.iloc[0]
    >>> row["measure"], row["before_visit"], row["after_visit"]
    ('dose', 'pre', 'post')
    >>> [float(row[k]) for k in ("mean_difference", "p_wilcoxon_exact", "hl_ci_achieved_level")]
    [-7.5, 0.0625, 0.9375]
    >>> row["decided_by"], bool(row["significant"])
    ('wilcoxon_exact', False)
    >>> [w["code"] for w in row["warnings"]]
    ['exact_wilcoxon_cannot_reach_alpha', 'asymptotic_wilcoxon_disagrees', \
'hl_ci_below_nominal_level']
    """
    if not 0 < alpha < 1:
        raise InputError(f"{source}: alpha = {alpha!r}; allowed: 0 < alpha < 1")
    if not 0 < confidence_level < 1:
        raise InputError(
            f"{source}: confidence_level = {confidence_level!r}; allowed: 0 < level < 1"
        )
    if rule not in RULES:
        raise InputError(f"{source}: rule = {rule!r}; allowed: {', '.join(RULES)}")
    rows = []
    for pairs in pair_measures(
        data,
        subject=subject,
        visit=visit,
        before=before,
        after=after,
        measures=measures,
        source=source,
    ):
        row: dict[str, Any] = {
            "measure": pairs.measure,
            "before_visit": before,
            "after_visit": after,
        }
        row.update(pair_statistics(pairs.before, pairs.after, confidence_level=confidence_level))
        row["confidence_level"] = confidence_level
        row["dropped_subjects"] = pairs.dropped_subjects
        _apply_rule(row, rule, alpha)
        row["warnings"] = _warnings(row, pairs, alpha, confidence_level)
        row["scipy_version"] = scipy.__version__
        rows.append(row)
    return pd.DataFrame(rows)
