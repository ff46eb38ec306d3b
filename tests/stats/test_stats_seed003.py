"""Seed 003 (Wu et al., pediatric SLE lenalidomide chart review) and the paired engine.

Printed summary (Wu et al., see docs/references.md): prednisone 23 mg (SD 10.9) -> 11 mg
(SD 7.4) at 6 months, P = 0.005; ESR 26.2 (SD 8.9) -> 19.2 (SD 7.5) mm/hr, P = 0.015; n = 5;
"paired t-test, then Wilcoxon's signed rank test when P < 0.05".

The paper prints no patient data. The demo CSV (``demo_data/seed003_pediatric.csv``) holds
invented values found by an exhaustive search for whole numbers whose means, SDs and paired-t p
round to the printed ones. So ``test_printed_summary_is_reproduced`` passes by construction of
the CSV: it checks that the engine computes the t-test the search assumed, not that the paper's
t-test is right. What the paper allows to be checked independently of any invented data is
tested below from the printed numbers alone: the summary checker's verdicts (GRIM, the implied
SD of the differences and correlation, and whether each named test can reach the printed p).
"""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd
import pytest

from clestudy.cli import main
from clestudy.stats import SummaryTest, check_published_summary, paired_comparison

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


#: The printed summaries as text (their rounding matters to GRIM), with the printed p.
PRINTED_TEXT = {
    "prednisone_mg_day": ("23", "10.9", "11", "7.4", "0.005"),
    "esr_mm_hr": ("26.2", "8.9", "19.2", "7.5", "0.015"),
}


def _verdicts(measure: str, test: SummaryTest, p_value: str | None = None) -> dict[str, str]:
    mean_b, sd_b, mean_a, sd_a, p_t = PRINTED_TEXT[measure]
    out = check_published_summary(
        n=5, mean_before=mean_b, sd_before=sd_b, mean_after=mean_a, sd_after=sd_a,
        p_value=p_value or p_t, test=test,
    )  # fmt: skip
    return dict(zip(out["check"], out["status"], strict=True))


@pytest.mark.parametrize("measure", list(PRINTED_TEXT))
def test_printed_t_test_is_possible_from_the_printed_numbers(measure: str) -> None:
    # Independent of the demo CSV: n = 5 whole-number values can have these means (GRIM), and
    # some pre/post correlation in (-1, 1) gives the printed paired-t p.
    verdicts = _verdicts(measure, "paired-t")
    assert {"grim_mean_before", "grim_mean_after", "test_can_reach_p"} <= set(verdicts)
    assert set(verdicts.values()) == {"consistent"}


@pytest.mark.parametrize("measure", list(PRINTED_TEXT))
def test_printed_wilcoxon_claim_cannot_hold_exactly(measure: str) -> None:
    # Independent of the demo CSV: with n = 5 the exact signed-rank test cannot go below
    # p = 2/2^5 = 0.0625, so "P < 0.05" by Wilcoxon is possible only by the normal approximation.
    assert _verdicts(measure, "wilcoxon-exact", "<0.05")["test_can_reach_p"] == "inconsistent"
    assert _verdicts(measure, "wilcoxon-asymptotic", "<0.05")["test_can_reach_p"] == "consistent"


def test_check_summary_cli_gives_the_same_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    mean_b, sd_b, mean_a, sd_a, p_t = PRINTED_TEXT["prednisone_mg_day"]
    args = ["stats", "check-summary", "--n", "5", "--mean-before", mean_b, "--sd-before", sd_b]
    args += ["--mean-after", mean_a, "--sd-after", sd_a, "--p", p_t, "--test", "paired-t"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["check"]: r["status"] for r in rows} == _verdicts("prednisone_mg_day", "paired-t")
