"""The analysis-plan engine: paired and group tests, effect sizes, small-sample checks.

Pure functions over plain values and DataFrames: DataFrames in, DataFrames out, snake_case columns,
one row per result, explicit ``method_*`` columns, no rounding. Nothing here prints, plots or reads
files.
"""

from __future__ import annotations

from clestudy.stats._paired import RULES, PairedRule, paired_comparison
from clestudy.stats._signed_rank import (
    HodgesLehmannResult,
    hodges_lehmann,
    min_attainable_p_signed_rank,
    signed_rank_exact_p,
    signed_rank_null_pmf,
)

__all__ = [
    "RULES",
    "HodgesLehmannResult",
    "PairedRule",
    "hodges_lehmann",
    "min_attainable_p_signed_rank",
    "paired_comparison",
    "signed_rank_exact_p",
    "signed_rank_null_pmf",
]
