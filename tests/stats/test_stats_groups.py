"""Responders vs non-responders, Spearman, multiplicity and the exact two-sample helpers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from clestudy.errors import InputError
from clestudy.stats import adjust_p_values, responder_comparison, spearman_correlation
from clestudy.stats._exact_two_sample import fisher_2xc_exact_p, rank_sum_exact_p


def brute_force_rank_sum_p(x: list[float], y: list[float]) -> float:
    """Every assignment of the pooled mid-ranks to group x, counted one by one."""
    ranks = stats.rankdata(x + y)
    m, centre = len(x), len(x) * (len(x) + len(y) + 1) / 2
    observed = abs(ranks[:m].sum() - centre)
    sums = [abs(sum(c) - centre) for c in itertools.combinations(ranks, m)]
    return float(sum(s >= observed - 1e-9 for s in sums) / len(sums))


small = st.lists(st.integers(0, 5).map(float), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(small, small)
def test_rank_sum_exact_p_equals_brute_force(x: list[float], y: list[float]) -> None:
    assert rank_sum_exact_p(x, y) == pytest.approx(brute_force_rank_sum_p(x, y), abs=1e-12)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 6), min_size=4, max_size=4))
def test_fisher_2x2_matches_scipy(cells: list[int]) -> None:
    table = np.array(cells).reshape(2, 2)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return
    expected = stats.fisher_exact(table, alternative="two-sided", method=None).pvalue
    assert fisher_2xc_exact_p(table) == pytest.approx(expected, rel=1e-9)


def test_fisher_refuses_other_shapes() -> None:
    with pytest.raises(ValueError, match=r"needs a 2 x c table, got shape \(3, 2\)"):
        fisher_2xc_exact_p(np.ones((3, 2)))


SUBJECTS = pd.DataFrame(
    {
        "response": ["yes", "yes", "yes", "yes", "no", "no", "no", "no", None],
        "ifn_score": [7.4, 9.1, 12.0, 26.4, 3.1, 4.2, None, 2.9, 1.0],
        "discoid": ["y", "y", "n", "y", "n", "n", "y", "n", "y"],
        "site": ["face", "scalp", "arm", "face", "arm", "arm", "scalp", "arm", "face"],
    }
)


def test_responder_comparison_rows() -> None:
    out = responder_comparison(
        SUBJECTS, group="response", responder="yes", continuous=["ifn_score"],
        categorical=["discoid", "site"],
    ).set_index("variable")  # fmt: skip
    rows = out.to_dict(orient="index")
    ifn = rows["ifn_score"]
    # Missing group (row 9) and missing value (row 7) are left out: 4 vs 3, all responders
    # higher, so U = 12 and the exact p = 2 / C(7, 3) = 2/35.
    assert (ifn["n_responders"], ifn["n_non_responders"]) == (4, 3)
    assert ifn["statistic"] == 12
    assert ifn["p_value"] == pytest.approx(2 / 35)
    assert ifn["median_responders"] == pytest.approx(10.55)
    assert "method='exact'" in ifn["method"]
    discoid = rows["discoid"]
    assert discoid["table"] == {
        "n": {"responders": 1, "non_responders": 3},
        "y": {"responders": 3, "non_responders": 1},
    }
    assert discoid["statistic"] == 9.0  # (3 x 3) / (1 x 1): odds of 'y', responders vs not
    assert "odds ratio of 'y' versus 'n'" in discoid["method"]
    site = rows["site"]
    assert math.isnan(site["statistic"])
    assert "Freeman-Halton" in site["method"]
    assert 0 < site["p_value"] <= 1


def test_responder_comparison_degenerate_and_errors() -> None:
    one_level = SUBJECTS.assign(discoid="y")
    row = responder_comparison(
        one_level, group="response", responder="yes", categorical=["discoid"]
    ).iloc[0]
    assert math.isnan(row["p_value"])
    with pytest.raises(InputError, match=r"^data: column 'response': no row has the responder "
                       r"label 'responder'; the labels present are 'yes', 'no'$"):  # fmt: skip
        responder_comparison(SUBJECTS, group="response", responder="responder")
    with pytest.raises(InputError, match=r"^data: no column 'crp'"):
        responder_comparison(SUBJECTS, group="response", responder="yes", continuous=["crp"])
    with pytest.raises(InputError, match=r"^data: row 0, column 'site': 'face' is not a number$"):
        responder_comparison(SUBJECTS, group="response", responder="yes", continuous=["site"])


def test_spearman_branches() -> None:
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"a": rng.normal(size=12), "b": rng.normal(size=12)})
    data.loc[0, "a"] = None
    large = spearman_correlation(data, x="a", y="b").iloc[0]
    assert large["n"] == 11
    assert "t approximation" in large["method"]
    expected = stats.spearmanr(data["a"][1:], data["b"][1:])
    assert large["rho"] == pytest.approx(expected.statistic)
    tiny = spearman_correlation(data.head(3), x=["a"], y="b").iloc[0]
    assert math.isnan(tiny["rho"])
    assert tiny["method"].startswith("not computed")


def test_adjust_p_values_nan_and_errors() -> None:
    out = adjust_p_values(pd.Series({"a": 0.01, "b": float("nan"), "c": 0.02}))
    assert out["n_tests"].tolist() == [2, 2, 2]
    assert out["p_holm"].tolist()[0] == pytest.approx(0.02)
    assert math.isnan(out["p_bh"][1])
    assert out["significant_holm"].tolist() == [True, False, True]
    with pytest.raises(InputError, match=r"endpoint 'b': p = 1.5; allowed: 0 <= p <= 1$"):
        adjust_p_values({"a": 0.1, "b": 1.5})
    with pytest.raises(InputError, match=r"endpoint 'a': p = 'x' is not a number$"):
        adjust_p_values({"a": "x"})  # type: ignore[dict-item]
    with pytest.raises(InputError, match=r"alpha = 2; allowed"):
        adjust_p_values({"a": 0.1}, alpha=2)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_adjustment_properties(p: list[float]) -> None:
    out = adjust_p_values({f"e{i}": v for i, v in enumerate(p)})
    raw, holm, bh = (out[c].to_numpy() for c in ("p_raw", "p_holm", "p_bh"))
    assert np.all(raw <= bh + 1e-12) and np.all(bh <= holm + 1e-12) and np.all(holm <= 1)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(holm[order]) >= -1e-12)  # adjustment keeps the order


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.integers(0, 4).map(float), st.integers(0, 4).map(float)),
        min_size=3,
        max_size=6,
    )
)
def test_spearman_exact_p_equals_brute_force(pairs: list[tuple[float, float]]) -> None:
    data = pd.DataFrame(pairs, columns=["x", "y"])
    row = spearman_correlation(data, x="x", y="y").iloc[0]
    if np.ptp(data["x"]) == 0 or np.ptp(data["y"]) == 0:
        assert math.isnan(row["p_value"])
        return
    rx, ry = stats.rankdata(data["x"]), stats.rankdata(data["y"])
    observed = np.corrcoef(rx, ry)[0, 1]
    rhos = np.array([np.corrcoef(rx, perm)[0, 1] for perm in itertools.permutations(ry)])
    tails = (np.mean(rhos <= observed + 1e-12), np.mean(rhos >= observed - 1e-12))
    assert row["rho"] == pytest.approx(stats.spearmanr(data["x"], data["y"]).statistic)
    assert row["p_value"] == pytest.approx(min(1.0, 2 * min(tails)), abs=1e-9)


def test_fisher_large_table_falls_back_to_seeded_monte_carlo() -> None:
    # 2 x 4 with 60 subjects per level: 61^4 tables exceed the enumeration budget.
    levels = [f"l{j}" for j in range(4)]
    records = [("r" if i % 3 else "n", levels[j]) for j in range(4) for i in range(60 + 5 * j)]
    data = pd.DataFrame(records, columns=["group", "level"])
    first = responder_comparison(data, group="group", responder="r", categorical=["level"])
    second = responder_comparison(data, group="group", responder="r", categorical=["level"])
    assert "Monte Carlo" in first["method"][0]
    assert first["p_value"][0] == second["p_value"][0]  # seeded: the same on every run
    assert 0 < first["p_value"][0] <= 1


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=1, max_size=15))
def test_table_one_properties(values: list[int | None]) -> None:
    from clestudy.stats import table_one

    frame = pd.DataFrame({"x": pd.array(values, dtype="Int64").astype(float), "c": values})
    out = table_one(frame, continuous=["x"], categorical={"c": None})
    x = out.iloc[0]
    present = [v for v in values if v is not None]
    assert x["n"] + x["n_missing"] == len(values)
    if present:
        assert x["minimum"] <= x["q1"] <= x["median"] <= x["q3"] <= x["maximum"]
        assert x["minimum"] <= x["mean"] <= x["maximum"]
        levels = out[out["variable"] == "c"]
        assert levels["count"].sum() == len(present)
        assert levels["percent"].sum() == pytest.approx(100.0)
