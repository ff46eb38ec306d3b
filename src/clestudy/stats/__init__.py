"""The analysis-plan engine: paired and group tests, effect sizes, small-sample checks.

Pure functions over plain values and DataFrames: DataFrames in, DataFrames out, snake_case columns,
one row per result, explicit ``method_*`` columns, no rounding. Nothing here prints, plots or reads
files. docs/statistics.md describes every method and how it was validated against R.

* two visits: :func:`paired_comparison` (t-test, exact and asymptotic Wilcoxon, sign test,
  Hodges-Lehmann with its achieved level, Cohen's d_z, plan rules, warnings);
* more visits: :func:`friedman_test`, :func:`change_from_baseline` (mixed model);
* responders: :func:`responder_comparison` (exact Mann-Whitney, Fisher), :func:`spearman_correlation`;
* multiplicity: :func:`adjust_p_values` (Holm, Benjamini-Hochberg);
* published summaries: :func:`check_published_summary` (GRIM, implied SD and correlation, reach);
* building blocks: :func:`hodges_lehmann`, :func:`signed_rank_exact_p`,
  :func:`min_attainable_p_signed_rank`, :func:`signed_rank_null_pmf`; :func:`table_one`.
"""

from __future__ import annotations

from clestudy.stats._groups import responder_comparison, spearman_correlation
from clestudy.stats._multiplicity import adjust_p_values
from clestudy.stats._paired_comparison import RULES, PairedRule, paired_comparison
from clestudy.stats._repeated import change_from_baseline, friedman_test
from clestudy.stats._signed_rank import (
    HodgesLehmannResult,
    hodges_lehmann,
    min_attainable_p_signed_rank,
    signed_rank_exact_p,
    signed_rank_null_pmf,
)
from clestudy.stats._summary_check import (
    SUMMARY_TESTS,
    Reported,
    SummaryTest,
    check_published_summary,
    parse_reported,
)
from clestudy.stats._table_one import TABLE_ONE_COLUMNS, table_one

__all__ = [
    "RULES",
    "SUMMARY_TESTS",
    "TABLE_ONE_COLUMNS",
    "HodgesLehmannResult",
    "PairedRule",
    "Reported",
    "SummaryTest",
    "adjust_p_values",
    "change_from_baseline",
    "check_published_summary",
    "friedman_test",
    "hodges_lehmann",
    "min_attainable_p_signed_rank",
    "paired_comparison",
    "parse_reported",
    "responder_comparison",
    "signed_rank_exact_p",
    "signed_rank_null_pmf",
    "spearman_correlation",
    "table_one",
]
