"""The paired engine: input checks, missing data, plan rules, warnings and properties."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.errors import InputError
from clestudy.stats import RULES, paired_comparison

CONTRACT_KEYS = [
    "measure", "n_pairs", "mean_before", "sd_before", "mean_after", "sd_after", "mean_difference",
    "t_statistic", "t_df", "p_t", "p_wilcoxon_exact", "p_wilcoxon_asymptotic", "p_sign",
    "hodges_lehmann", "hl_ci_low", "hl_ci_high", "hl_ci_achieved_level", "cohen_dz",
    "min_attainable_p_wilcoxon", "rule", "significant", "warnings",
]  # fmt: skip


def long_table(before: Sequence[float | None], after: Sequence[float | None]) -> pd.DataFrame:
    n = len(before)
    return pd.DataFrame(
        {
            "id": [f"S{i + 1}" for i in range(n)] * 2,
            "visit": ["pre"] * n + ["post"] * n,
            "value": [*before, *after],
        }
    )


def run(data: pd.DataFrame, **kwargs: object) -> pd.Series:
    options: dict[str, object] = {
        "subject": "id", "visit": "visit", "before": "pre", "after": "post", "measures": ["value"],
    }  # fmt: skip
    options.update(kwargs)
    return paired_comparison(data, **options).iloc[0]  # type: ignore[arg-type]


def codes(row: pd.Series) -> list[str]:
    return [w["code"] for w in row["warnings"]]


def test_contract_columns_and_methods() -> None:
    row = run(long_table([1, 2, 3, 4, 5, 6], [2, 4, 6, 8, 10, 12]))
    for key in CONTRACT_KEYS:
        assert key in row.index
    assert row["method_t"] == "paired Student t-test (scipy.stats.ttest_rel)"
    assert "method='exact'" in row["method_wilcoxon_exact"]
    assert "zero_method='wilcox'" in row["method_wilcoxon_exact"]
    assert "without continuity correction" in row["method_wilcoxon_asymptotic"]
    assert "tie-corrected" in row["method_wilcoxon_asymptotic"]
    assert row["scipy_version"]
    # differences are after - before: [1, 2, 3, 4, 5, 6]
    assert row["mean_difference"] == 3.5
    assert (row["n_increased"], row["n_decreased"], row["n_unchanged"]) == (6, 0, 0)
    assert row["min_attainable_p_wilcoxon"] == 0.03125


def test_missing_values_drop_the_subject_for_that_measure_only() -> None:
    data = long_table([10, 12, None, 14, 15, 16], [11, 15, 12, 18, 14, 20])
    data["other"] = [1, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 7]
    data = data.drop(index=[11])  # S6 has no "post" row at all
    out = paired_comparison(
        data, subject="id", visit="visit", before="pre", after="post", measures=["value", "other"]
    ).set_index("measure")
    rows = out.to_dict(orient="index")
    assert rows["value"]["n_pairs"] == 4
    assert rows["value"]["dropped_subjects"] == ["S3", "S6"]
    assert rows["other"]["n_pairs"] == 5
    assert rows["other"]["dropped_subjects"] == ["S6"]
    message = next(
        w["message"] for w in rows["value"]["warnings"] if w["code"] == "incomplete_pairs_dropped"
    )
    assert message.endswith("S3, S6")


def test_text_values_are_coerced_and_blank_is_missing() -> None:
    data = long_table(["1.5", "2", " 3 ", "", "5"], ["2", "3.5", "3", "6", "8"])  # type: ignore[list-item]
    row = run(data)
    assert row["n_pairs"] == 4
    assert row["dropped_subjects"] == ["S4"]


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"measures": ["esr"]}, r"^data: no column 'esr'; the columns are 'id', 'visit'"),
        (None, {"subject": "patient"}, r"^data: no column 'patient'"),
        (
            None,
            {"after": "month_6"},
            r"column 'visit': no row has the visit label 'month_6'; "
            r"the labels present are 'pre', 'post'",
        ),
        ("text", {}, r"^data: row 7, column 'value': 'n/a' is not a number$"),
        ("inf", {}, r"^data: row 2, column 'value': inf is not a finite number$"),
        ("dup", {}, r"^data: row 10: subject 'S1' has a second row for visit 'pre'"),
        ("nosubject", {}, r"^data: row 3, column 'id': the value is missing$"),
        ("bool", {}, r"column 'value' holds true/false values"),
        (None, {"alpha": 1.5}, r"^data: alpha = 1.5; allowed: 0 < alpha < 1$"),
        (None, {"confidence_level": 0}, r"confidence_level = 0; allowed: 0 < level < 1"),
        (None, {"rule": "t-or-wilcoxon"}, r"rule = 't-or-wilcoxon'; allowed: t-then-wilcoxon, "),
        (None, {"measures": []}, r"no measure given"),
        (None, {"measures": ["value", "value"]}, r"a measure is named twice"),
        (None, {"after": "pre"}, r"before and after visit labels are both 'pre'"),
    ],
)
def test_bad_input_is_refused_with_one_line(
    change: str | None, kwargs: dict[str, object], match: str
) -> None:
    data = long_table([1, 2, 3, 4, 5], [2, 3, 4, 5, 7]).astype({"value": object})
    if change == "text":
        data.loc[7, "value"] = "n/a"
    elif change == "inf":
        data.loc[2, "value"] = math.inf
    elif change == "dup":
        extra = pd.DataFrame([{"id": "S1", "visit": "pre", "value": 3}], index=[10])
        data = pd.concat([data, extra])
    elif change == "nosubject":
        data.loc[3, "id"] = None
    elif change == "bool":
        data["value"] = [True, False] * 5
    with pytest.raises(InputError, match=match) as info:
        run(data, **kwargs)
    assert "\n" not in str(info.value)


def test_rules_name_the_deciding_test() -> None:
    # n = 6, all differences positive and distinct: p_t small, exact Wilcoxon 2/2^6 = 0.03125.
    data = long_table([1, 2, 3, 4, 5, 6], [2, 4, 5, 7, 6, 9])
    expected = {
        "t-then-wilcoxon": ("wilcoxon_exact", True),
        "t": ("t", True),
        "wilcoxon": ("wilcoxon_exact", True),
        "both": ("t and wilcoxon_exact", True),
    }
    for rule in RULES:
        row = run(data, rule=rule)
        assert (row["decided_by"], row["significant"]) == expected[rule]
        assert row["rule"] == rule
    both = run(data, rule="both")
    assert both["p_decisive"] == max(both["p_t"], both["p_wilcoxon_exact"])
    assert run(data, rule="wilcoxon")["p_decisive"] == 0.03125


def test_t_then_wilcoxon_stops_at_a_non_significant_t() -> None:
    row = run(long_table([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5]))
    assert row["p_t"] > 0.05
    assert row["decided_by"] == "t"
    assert row["p_decisive"] == row["p_t"]
    assert not row["significant"]


def test_degenerate_data_give_nan_and_warnings_not_errors() -> None:
    one = run(long_table([1], [2]))
    assert one["n_pairs"] == 1
    assert math.isnan(one["p_t"])
    assert math.isnan(one["sd_before"])
    assert "too_few_pairs" in codes(one)
    constant = run(long_table([1, 2, 3], [2, 3, 4]))
    assert math.isnan(constant["t_statistic"])
    assert math.isnan(constant["cohen_dz"])
    assert "constant_differences" in codes(constant)
    zeros = run(long_table([1, 2, 3], [1, 2, 3]))
    assert math.isnan(zeros["p_wilcoxon_exact"])
    assert math.isnan(zeros["p_sign"])
    assert math.isnan(zeros["hodges_lehmann"])
    assert zeros["min_attainable_p_wilcoxon"] == 1.0
    assert not zeros["significant"]
    assert "zero_differences_dropped" in codes(zeros)
    empty = run(long_table([None, None], [1, 2]))
    assert empty["n_pairs"] == 0
    assert math.isnan(empty["mean_before"])


def test_ties_and_zeros_use_the_permutation_distribution() -> None:
    # Reference §1.1, SciPy 1.17.1: ties [5,5,2.5,10,10] exact (permutation) 0.0625,
    # asymptotic 0.041227; one zero [0,2,3,4,5] exact 0.125, asymptotic 0.067889.
    ties = run(long_table([0] * 5, [5, 5, 2.5, 10, 10]))
    assert ties["p_wilcoxon_exact"] == 0.0625
    assert ties["p_wilcoxon_asymptotic"] == pytest.approx(0.041227, abs=1e-6)
    assert "permutation" in ties["method_wilcoxon_exact"]
    assert "tied_differences" in codes(ties)
    zero = run(long_table([0] * 5, [0, 2, 3, 4, 5]))
    assert zero["p_wilcoxon_exact"] == 0.125
    assert zero["p_wilcoxon_asymptotic"] == pytest.approx(0.067889, abs=1e-6)
    assert zero["n_nonzero_differences"] == 4
    assert zero["min_attainable_p_wilcoxon"] == 0.125


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(lambda x: round(x, 1))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=15))
def test_properties(pairs: list[tuple[float, float]]) -> None:
    before = [b for b, _ in pairs]
    after = [a for _, a in pairs]
    row = run(long_table(before, after), rule="both")
    flipped = run(long_table(after, before), rule="both")
    for key in ("p_t", "p_wilcoxon_exact", "p_wilcoxon_asymptotic", "p_sign"):
        p = row[key]
        assert math.isnan(p) or 0 <= p <= 1
        assert p == pytest.approx(flipped[key], nan_ok=True, rel=1e-9, abs=1e-12)
    assert row["mean_difference"] == pytest.approx(-flipped["mean_difference"], abs=1e-9)
    if not math.isnan(row["hodges_lehmann"]):
        assert row["hl_ci_low"] <= row["hodges_lehmann"] <= row["hl_ci_high"]
        assert 0 <= row["hl_ci_achieved_level"] < 1
    if not math.isnan(row["p_wilcoxon_exact"]):
        assert row["p_wilcoxon_exact"] >= row["min_attainable_p_wilcoxon"] - 1e-12
    assert row["n_increased"] + row["n_decreased"] + row["n_unchanged"] == row["n_pairs"]
    assert row["significant"] == (row["significant_t"] and row["significant_wilcoxon_exact"])
    assert np.isfinite(row["min_attainable_p_wilcoxon"])


def test_decimal_differences_that_are_equal_are_ties() -> None:
    """1.3 - 1.1 and 2.3 - 2.1 are both 0.2 as entered, though not in binary floating point: the
    rank tests must see the tie (R: wilcox.test(..., digits.rank = 12))."""
    before = [1.1, 2.1, 3.0, 4.0, 5.0, 6.0]
    after = [1.3, 2.3, 3.5, 4.7, 5.9, 7.1]
    assert (after[0] - before[0]) != (after[1] - before[1])  # the float artefact
    row = run(long_table(before, after))
    assert bool(row["has_ties"]) and "permutation" in row["method_wilcoxon_exact"]
    tenths = run(long_table([10 * x for x in before], [10 * x for x in after]))
    for key in ("p_wilcoxon_exact", "p_wilcoxon_asymptotic", "p_sign", "wilcoxon_w_plus"):
        assert row[key] == pytest.approx(tenths[key], rel=1e-12), key


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 400), min_size=2, max_size=9),
    st.lists(st.integers(0, 400), min_size=2, max_size=9),
)
def test_rank_tests_do_not_depend_on_the_decimal_unit(a: list[int], b: list[int]) -> None:
    """The same data in tenths (decimal values) and in whole units give the same rank tests."""
    n = min(len(a), len(b))
    whole = long_table([float(x) for x in a[:n]], [float(x) for x in b[:n]])
    tenth = long_table([x / 10 for x in a[:n]], [x / 10 for x in b[:n]])
    r_whole, r_tenth = run(whole), run(tenth)
    for key in ("p_wilcoxon_exact", "p_wilcoxon_asymptotic", "p_sign", "n_unchanged"):
        x, y = r_whole[key], r_tenth[key]
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-9), key


def test_constant_decimal_differences_give_no_t_test() -> None:
    """Found by the property above: 6.8 - 4.9 and 2.9 - 1.0 are the same 1.9 as entered; the
    t-test of constant differences is undefined (never a SciPy precision warning)."""
    row = run(long_table([4.9, 1.0], [6.8, 2.9]))
    assert math.isnan(row["t_statistic"]) and math.isnan(row["p_t"])
    assert math.isnan(row["cohen_dz"])  # not 1.9 / 3e-16
    assert row["mean_difference"] == pytest.approx(1.9)
