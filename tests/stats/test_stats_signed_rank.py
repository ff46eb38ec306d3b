"""Exact signed-rank distributions, minimum attainable p and the Hodges-Lehmann interval."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import clestudy.stats as stats_package
from clestudy.errors import InputError
from clestudy.stats import (
    hodges_lehmann,
    min_attainable_p_signed_rank,
    signed_rank_exact_p,
    signed_rank_null_pmf,
)
from clestudy.stats._signed_rank import EXACT_CI_MAX_N


def test_all_is_sorted_isort_style() -> None:
    names = stats_package.__all__
    kind = [0 if n.isupper() else 1 if n[0].isupper() else 2 for n in names]
    assert list(names) == sorted(names, key=lambda n: (kind[names.index(n)], n))
    assert {n for n in dir(stats_package) if not n.startswith("_")} >= set(names)


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20, 40])
def test_null_pmf_matches_scipy(n: int) -> None:
    from scipy.stats._wilcoxon import WilcoxonDistribution

    pmf = signed_rank_null_pmf(n)
    assert pmf.sum() == pytest.approx(1.0)
    k = np.arange(pmf.size)
    np.testing.assert_allclose(np.cumsum(pmf), WilcoxonDistribution(n).cdf(k), atol=1e-12)


# Reference §1.1 table (SciPy 1.17.1 and R 4.2.2): exact minimum two-sided p by n.
@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, 1.0), (1, 1.0), (3, 0.25), (4, 0.125), (5, 0.0625), (6, 0.03125), (8, 0.0078125)],
)
def test_min_attainable_p(n: int, expected: float) -> None:
    assert min_attainable_p_signed_rank(n) == expected


def test_negative_n_is_refused() -> None:
    with pytest.raises(InputError, match=r"^min_attainable_p_signed_rank: n = -1 is negative"):
        min_attainable_p_signed_rank(-1)
    with pytest.raises(InputError, match=r"^signed_rank_null_pmf: n = -2 is negative"):
        signed_rank_null_pmf(-2)
    with pytest.raises(InputError, match=r"^hodges_lehmann: confidence_level = 1.0; allowed"):
        hodges_lehmann([1, 2], confidence_level=1.0)


small_ints = st.integers(min_value=-4, max_value=4).map(float)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(small_ints, min_size=2, max_size=9))
def test_exact_p_with_ties_equals_scipy_full_enumeration(d: list[float]) -> None:
    """Small integer differences tie often; SciPy enumerates all 2^n sign flips for n <= 13."""
    nonzero = [x for x in d if x != 0]
    expected = (
        float(stats.wilcoxon(d, zero_method="wilcox", method=stats.PermutationMethod()).pvalue)
        if nonzero
        else float("nan")
    )
    assert signed_rank_exact_p(d) == pytest.approx(expected, abs=1e-12, nan_ok=True)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.floats(min_value=-100, max_value=100, allow_nan=False),
        min_size=1,
        max_size=30,
        unique=True,
    ),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_hodges_lehmann_properties(d: list[float], level: float) -> None:
    result = hodges_lehmann(d, confidence_level=level)
    nonzero = [x for x in d if x != 0]
    if not nonzero:
        assert result.n_used == 0
        return
    assert result.ci_low <= result.estimate <= result.ci_high
    assert min(nonzero) <= result.ci_low and result.ci_high <= max(nonzero)
    assert 0 <= result.achieved_level < 1
    # equivariance: shifting the sign of every difference mirrors the interval
    mirrored = hodges_lehmann([-x for x in d], confidence_level=level)
    assert mirrored.estimate == pytest.approx(-result.estimate)
    assert (mirrored.ci_low, mirrored.ci_high) == pytest.approx((-result.ci_high, -result.ci_low))


def test_hl_achieved_level_at_n5_and_normal_branch() -> None:
    # R: n <- 5; q <- max(qsignrank(0.025, n), 1); 1 - 2 * psignrank(q - 1, n)  ->  0.9375
    assert hodges_lehmann([1, 2, 3, 4, 5]).achieved_level == 0.9375
    rng = np.random.default_rng(20261122)
    large = rng.normal(1.0, 2.0, size=EXACT_CI_MAX_N + 1)
    approx = hodges_lehmann(large)
    exact = hodges_lehmann(large[:EXACT_CI_MAX_N])
    assert "normal approximation" in approx.method
    assert "exact" in exact.method
    assert approx.achieved_level == pytest.approx(0.95, abs=0.002)
    assert exact.achieved_level == pytest.approx(0.95, abs=0.002)


def test_above_the_exact_limit_the_wilcoxon_p_is_the_named_normal_approximation() -> None:
    """The exact null distribution is cubic in n (a 5,000-pair report spent hours building it):
    above EXACT_CI_MAX_N non-zero differences the engine reports the normal approximation in the
    exact column, and its method says so."""
    from clestudy.stats._pair_statistics import METHOD_WILCOXON_LARGE_N, pair_statistics

    rng = np.random.default_rng(7)
    before = rng.integers(10, 30, size=EXACT_CI_MAX_N + 1).astype(float)
    after = before - rng.choice([-3, -2, -1, 1, 2, 3, 4, 5], size=before.size)  # no zero
    row = pair_statistics(before, after, confidence_level=0.95)
    assert row["n_nonzero_differences"] > EXACT_CI_MAX_N
    expected = stats.wilcoxon(after - before, zero_method="wilcox", correction=False,
                                    method="asymptotic").pvalue  # fmt: skip
    assert row["p_wilcoxon_exact"] == row["p_wilcoxon_asymptotic"] == float(expected)
    assert row["method_wilcoxon_exact"] == METHOD_WILCOXON_LARGE_N
    assert f"above {EXACT_CI_MAX_N} non-zero differences" in METHOD_WILCOXON_LARGE_N
