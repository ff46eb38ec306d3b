"""Seed 003 (Wu et al., pediatric SLE lenalidomide chart review) reproduced by the paired engine.

Printed summary (shared/reference/seeds/wu-pediatric-sle-lenalidomide-abstract.txt): prednisone
23 mg (SD 10.9) -> 11 mg (SD 7.4) at 6 months, P = 0.005; ESR 26.2 (SD 8.9) -> 19.2 (SD 7.5) mm/hr,
P = 0.015; n = 5; "paired t-test, then Wilcoxon's signed rank test when P < 0.05".
"""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from clestudy.stats import paired_comparison

PRINTED = {
    # measure: (mean_before, sd_before, mean_after, sd_after, p_t, decimals of the means)
    "prednisone_mg_day": (23, 10.9, 11, 7.4, 0.005, 0),
    "esr_mm_hr": (26.2, 8.9, 19.2, 7.5, 0.015, 1),
}


@pytest.fixture(scope="module")
def seed003() -> pd.DataFrame:
    path = resources.files("clestudy") / "demo_data" / "seed003_pediatric.csv"
    with resources.as_file(path) as file:
        first_line = file.read_text(encoding="utf-8").splitlines()[0]
        assert first_line.startswith("# ")
        data = pd.read_csv(file, comment="#")
    return paired_comparison(
        data,
        subject="subject",
        visit="visit",
        before="initiation",
        after="month_6",
        measures=list(PRINTED),
        rule="t-then-wilcoxon",
    ).set_index("measure")


@pytest.mark.parametrize("measure", list(PRINTED))
def test_printed_summary_is_reproduced(seed003: pd.DataFrame, measure: str) -> None:
    mean_b, sd_b, mean_a, sd_a, p_t, decimals = PRINTED[measure]
    row = seed003.loc[measure]
    assert row["n_pairs"] == 5
    assert round(row["mean_before"], decimals) == mean_b
    assert round(row["sd_before"], 1) == sd_b
    assert round(row["mean_after"], decimals) == mean_a
    assert round(row["sd_after"], 1) == sd_a
    assert round(row["p_t"], 3) == p_t
    assert row["significant_t"]


@pytest.mark.parametrize("measure", list(PRINTED))
def test_exact_wilcoxon_does_not_confirm(seed003: pd.DataFrame, measure: str) -> None:
    row = seed003.loc[measure]
    # All 5 differences are negative: the exact two-sided p is 2/2^5 (reference §1.1), and only
    # the normal approximation without continuity correction (z = -2.0226) falls under 0.05.
    assert row["n_decreased"] == 5
    assert row["p_wilcoxon_exact"] == 0.0625
    assert row["p_wilcoxon_asymptotic"] == pytest.approx(0.043114, abs=1e-6)
    assert row["min_attainable_p_wilcoxon"] == 0.0625
    assert row["decided_by"] == "wilcoxon_exact"
    assert row["p_decisive"] == 0.0625
    assert not row["significant"]
    codes = [w["code"] for w in row["warnings"]]
    assert "exact_wilcoxon_cannot_reach_alpha" in codes
    assert "asymptotic_wilcoxon_disagrees" in codes
    assert row["hl_ci_achieved_level"] == 0.9375
