"""Friedman test and change from baseline with a mixed model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.errors import InputError
from clestudy.stats import change_from_baseline, friedman_test

VISITS = ["w0", "w4", "w12"]


def long_table(values: list[list[float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"id": f"s{i}", "visit": visit, "clasi": value}
            for i, row in enumerate(values)
            for visit, value in zip(VISITS, row, strict=True)
        ]
    )


def test_friedman_drops_incomplete_subjects() -> None:
    data = long_table([[10, 6, 3], [8, 7, 2], [12, 9, None], [9, 5, 4]])
    row = friedman_test(data, subject="id", visit="visit", visits=VISITS, measures=["clasi"])
    assert row["n_subjects"][0] == 3
    assert row["dropped_subjects"][0] == ["s2"]
    # three subjects all ranking w0 > w4 > w12: Q = 6 (hand calculation in the docstring)
    assert row["statistic"][0] == 6.0
    assert row["df"][0] == 2


def test_friedman_errors_and_degenerate() -> None:
    data = long_table([[1, 1, 1], [2, 2, 2]])
    row = friedman_test(data, subject="id", visit="visit", visits=VISITS, measures=["clasi"])
    assert math.isnan(row["p_value"][0])
    with pytest.raises(InputError, match=r"needs at least 3 visits, got \['w0', 'w4'\]"):
        friedman_test(data, subject="id", visit="visit", visits=VISITS[:2], measures=["clasi"])
    with pytest.raises(InputError, match=r"no row has the visit label 'w24'"):
        friedman_test(data, subject="id", visit="visit", visits=[*VISITS[:2], "w24"],
                      measures=["clasi"])  # fmt: skip
    with pytest.raises(InputError, match=r"a visit label is given twice"):
        friedman_test(data, subject="id", visit="visit", visits=["w0", "w0", "w4"],
                      measures=["clasi"])  # fmt: skip


def test_change_from_baseline_with_missing_values() -> None:
    rng = np.random.default_rng(3)
    values = [[20 + rng.normal(0, 4), None, None] for _ in range(2)]
    values += [[20 + b, 15 + b + rng.normal(), 10 + b + rng.normal()] for b in range(8)]
    values[5][1] = None
    out = change_from_baseline(
        long_table(values), subject="id", visit="visit", visits=VISITS, measure="clasi"
    )
    assert out["visit"].tolist() == ["w4", "w12"]
    assert out["n_observed"].tolist() == [7, 8]
    assert out["n_change"].tolist() == [7, 8]
    assert out["model_n_observations"][0] == 25
    assert out["model_converged"].all()
    assert (out["model_ci_low"] < out["model_estimate"]).all()
    assert (out["model_estimate"] < out["model_ci_high"]).all()
    assert out["model_estimate"][1] == pytest.approx(-10, abs=1.5)
    assert isinstance(out["warnings"][0], list)


def test_change_from_baseline_errors() -> None:
    data = long_table([[1, 2, 3], [2, 3, 5]])
    with pytest.raises(InputError, match=r"needs at least 2 visits"):
        change_from_baseline(data, subject="id", visit="visit", visits=["w0"], measure="clasi")
    with pytest.raises(InputError, match=r"confidence_level = 1; allowed"):
        change_from_baseline(data, subject="id", visit="visit", visits=VISITS, measure="clasi",
                             confidence_level=1)  # fmt: skip


values_3 = st.lists(
    st.tuples(*(st.integers(0, 30).map(float) for _ in range(3))), min_size=3, max_size=8
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(values_3)
def test_friedman_is_rank_based(rows: list[tuple[float, float, float]]) -> None:
    data = long_table([list(r) for r in rows])
    transformed = data.assign(clasi=np.exp(data["clasi"] / 10.0))  # strictly increasing
    kwargs = {"subject": "id", "visit": "visit", "visits": VISITS, "measures": ["clasi"]}
    first = friedman_test(data, **kwargs).iloc[0]  # type: ignore[arg-type]
    second = friedman_test(transformed, **kwargs).iloc[0]  # type: ignore[arg-type]
    if math.isnan(first["p_value"]):
        assert math.isnan(second["p_value"])
        return
    assert 0 <= first["p_value"] <= 1
    assert first["statistic"] == pytest.approx(second["statistic"])


@settings(max_examples=10, deadline=None, derandomize=True)
@given(values_3)
def test_balanced_model_estimate_equals_observed_mean_change(
    rows: list[tuple[float, float, float]],
) -> None:
    data = long_table([list(r) for r in rows])
    out = change_from_baseline(data, subject="id", visit="visit", visits=VISITS, measure="clasi")
    if not out["model_converged"].all():
        return  # reported in warnings; a degenerate fit proves nothing here
    assert out["model_estimate"].to_numpy() == pytest.approx(
        out["mean_change"].to_numpy(), abs=1e-6
    )
