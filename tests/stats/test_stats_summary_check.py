"""The published-summary checker: seed 003, the reference's worked examples, round trips."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from clestudy.errors import InputError
from clestudy.stats import check_published_summary, parse_reported


def statuses(frame: pd.DataFrame) -> dict[str, str]:
    return dict(zip(frame["check"], frame["status"], strict=True))


def by_check(frame: pd.DataFrame, check: str) -> pd.Series:
    row = frame.set_index("check").loc[check]
    assert isinstance(row, pd.Series), f"check {check!r} appears more than once"
    return row


# Seed 003 as printed (shared/reference/seeds/wu-pediatric-sle-lenalidomide-abstract.txt).
SEED003: dict[str, dict[str, Any]] = {
    "prednisone": {"mean_before": "23", "sd_before": "10.9", "mean_after": "11", "sd_after": "7.4"},
    "esr": {"mean_before": "26.2", "sd_before": "8.9", "mean_after": "19.2", "sd_after": "7.5"},
}
SEED003_P = {"prednisone": "0.005", "esr": "0.015"}


@pytest.mark.parametrize("measure", ["prednisone", "esr"])
def test_seed003_t_test_claims_are_consistent(measure: str) -> None:
    out = check_published_summary(
        n=5, p_value=SEED003_P[measure], test="paired-t", **SEED003[measure]
    )
    assert set(statuses(out).values()) == {"consistent"}
    r = by_check(out, "implied_correlation")
    assert 0.85 < r["low"] <= r["high"] < 1  # high pre/post correlation, plausible


@pytest.mark.parametrize("measure", ["prednisone", "esr"])
def test_seed003_wilcoxon_claim_is_impossible_exactly(measure: str) -> None:
    exact = check_published_summary(n=5, p_value="<0.05", test="wilcoxon-exact", **SEED003[measure])
    assert statuses(exact)["test_can_reach_p"] == "inconsistent"
    assert by_check(exact, "test_can_reach_p")["low"] == 0.0625
    approx = check_published_summary(
        n=5, p_value="<0.05", test="wilcoxon-asymptotic", **SEED003[measure]
    )
    assert statuses(approx)["test_can_reach_p"] == "consistent"
    assert "cannot go below 0.04311" in by_check(approx, "test_can_reach_p")["message"]


def test_seed003_demo_data_lie_inside_the_implied_ranges() -> None:
    # The demo data's SD of differences (prednisone [-13,-10,-17,-5,-15]) must be one the paper's
    # numbers allow.
    d = np.array([-13.0, -10, -17, -5, -15])
    out = check_published_summary(n=5, p_value="0.005", test="paired-t", **SEED003["prednisone"])
    sd = by_check(out, "implied_sd_difference")
    assert sd["low"] <= np.std(d, ddof=1) <= sd["high"]


def test_reference_worked_examples() -> None:
    # statistics-and-flow.md §2: "pre 40±12, post 36±8, n = 5, p = .001 ... r ≈ 1.08 -> impossible"
    bad = check_published_summary(
        n=5, mean_before="40", sd_before="12", mean_after="36", sd_after="8", p_value=".001",
        test="paired-t",
    )  # fmt: skip
    r = by_check(bad, "implied_correlation")
    assert r["status"] == "inconsistent"
    assert r["low"] < 1.08 < r["high"]
    # "pre 16.5±5.8, post 9.0±2.9, n = 5, p = .013: SD_diff 3.89-3.98, r = 0.78-0.80" (the
    # reference held the means exact; here their rounding widens the range around it). The mean
    # 16.5 is GRIM-impossible for integers (multiples of 0.2) but possible in 2.5 mg steps.
    kwargs = {"n": 5, "mean_before": "16.5", "sd_before": "5.8", "mean_after": "9.0",
              "sd_after": "2.9", "p_value": ".013", "test": "paired-t"}  # fmt: skip
    integers = check_published_summary(**kwargs)  # type: ignore[arg-type]
    assert statuses(integers)["grim_mean_before"] == "inconsistent"
    doses = check_published_summary(granularity=2.5, **kwargs)  # type: ignore[arg-type]
    assert statuses(doses)["grim_mean_before"] == "consistent"
    sd = by_check(doses, "implied_sd_difference")
    assert sd["low"] < 3.89 and sd["high"] > 3.98
    r = by_check(doses, "implied_correlation")
    assert r["low"] < 0.78 and r["high"] > 0.80


@pytest.mark.parametrize(
    ("mean", "n", "status"),
    # statistics-and-flow.md §2, GRIM rows measured with grim 0.1.10
    [("3.48", 5, "inconsistent"), ("3.40", 5, "consistent"), ("12.33", 6, "consistent"),
     ("12.35", 6, "inconsistent")],
)  # fmt: skip
def test_grim_reference_rows(mean: str, n: int, status: str) -> None:
    out = check_published_summary(
        n=n, mean_before=mean, sd_before="1", mean_after=mean, sd_after="1", p_value="0.5",
        test="sign",
    )  # fmt: skip
    assert statuses(out)["grim_mean_before"] == status


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 1}, r"^check_published_summary: n = 1; allowed: an integer >= 2$"),
        ({"n": True}, r"n = True; allowed"),
        ({"granularity": 0.0}, r"granularity = 0.0; allowed: > 0$"),
        ({"alpha": 0.0}, r"alpha = 0.0; allowed: 0 < alpha < 1$"),
        ({"sd_before": "0"}, r"^sd_before: '0'; allowed: a positive SD$"),
        ({"mean_after": "<3"}, r"^mean_after: '<3': only a p-value may be printed as '<x'$"),
        ({"mean_before": "abc"}, r"^mean_before: 'abc' is not a printed number"),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = {"n": 5, "p_value": "0.01", "test": "paired-t", **SEED003["esr"]}
    base.update(kwargs)
    with pytest.raises(InputError, match=match):
        check_published_summary(**base)  # type: ignore[arg-type]


def test_parse_reported() -> None:
    assert parse_reported(".013", name="p").decimals == 3
    assert parse_reported("23", name="m").low == 22.5
    assert parse_reported("= 0.015", name="p").high == pytest.approx(0.0155)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.integers(min_value=3, max_value=12),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_round_trip_recovers_the_truth(n: int, seed: int) -> None:
    """Summaries printed from real integer data are never flagged, and their true SD of the
    differences and correlation lie inside the implied ranges."""
    rng = np.random.default_rng(seed)
    before = rng.integers(10, 40, size=n).astype(float)
    after = before - rng.integers(-2, 12, size=n)
    d = after - before
    if np.ptp(d) == 0 or np.ptp(before) == 0 or np.ptp(after) == 0:
        return
    p = float(stats.ttest_rel(after, before).pvalue)
    if p < 1e-3:
        return  # "0.000" would be printed as "<0.001"; covered by the '<' branch
    out = check_published_summary(
        n=n,
        mean_before=f"{before.mean():.1f}",
        sd_before=f"{before.std(ddof=1):.1f}",
        mean_after=f"{after.mean():.1f}",
        sd_after=f"{after.std(ddof=1):.1f}",
        p_value=f"{p:.3f}",
        test="paired-t",
    )
    assert set(statuses(out).values()) == {"consistent"}
    sd = by_check(out, "implied_sd_difference")
    assert sd["low"] - 1e-9 <= np.std(d, ddof=1) <= sd["high"] + 1e-9
    r_true = float(np.corrcoef(before, after)[0, 1])
    r = by_check(out, "implied_correlation")
    assert not math.isnan(r_true)
    assert r["low"] - 1e-9 <= r_true <= r["high"] + 1e-9
