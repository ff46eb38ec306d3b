"""Multiplicity, responder comparisons and repeated visits against R 4.2.2 (coin, nlme).

Expected values: data/r_reference_more.json, each next to the R expression that produced it
(data/make_r_reference.R). R is not needed to run these tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from clestudy.stats import (
    adjust_p_values,
    change_from_baseline,
    friedman_test,
    responder_comparison,
    spearman_correlation,
)

REFERENCE = json.loads((Path(__file__).parent / "data" / "r_reference_more.json").read_text())
CASES = {case["name"]: case for case in REFERENCE["cases"]}


def expected(name: str) -> dict[str, float]:
    return {v["key"]: v["value"] for v in CASES[name]["values"]}


def inputs(name: str) -> dict[str, Any]:
    result: dict[str, Any] = CASES[name]["inputs"]
    return result


def close(value: float, reference: float, tol: float = 1e-6) -> bool:
    return bool(value == pytest.approx(reference, rel=tol, abs=tol))


def test_p_adjust() -> None:
    p = inputs("p_adjust")["p"]
    out = adjust_p_values({f"e{i + 1}": v for i, v in enumerate(p)})
    want = expected("p_adjust")
    for i in range(len(p)):
        assert close(out["p_holm"][i], want[f"p_holm_{i + 1}"])
        assert close(out["p_bh"][i], want[f"p_bh_{i + 1}"])


def subjects_from_groups(x: list[float], y: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"group": ["r"] * len(x) + ["n"] * len(y), "value": x + y})


@pytest.mark.parametrize("name", ["mann_whitney_no_ties", "mann_whitney_ties"])
def test_mann_whitney(name: str) -> None:
    data = subjects_from_groups(inputs(name)["x"], inputs(name)["y"])
    row = responder_comparison(data, group="group", responder="r", continuous=["value"]).iloc[0]
    want = expected(name)
    assert close(row["statistic"], want["statistic"])
    assert close(row["p_value"], want["p_value"])


@pytest.mark.parametrize("name", ["fisher_2x2", "fisher_2x3"])
def test_fisher(name: str) -> None:
    counts = inputs(name)["counts"]
    levels = len(counts) // 2
    records = []
    for level in range(levels):  # R fills the 2-row matrix column by column
        records += [("r", f"level{level}")] * int(counts[2 * level])
        records += [("n", f"level{level}")] * int(counts[2 * level + 1])
    data = pd.DataFrame(records, columns=["group", "category"])
    row = responder_comparison(data, group="group", responder="r", categorical=["category"])
    assert close(row.iloc[0]["p_value"], expected(name)["p_value"])


@pytest.mark.parametrize("name", ["spearman_n7", "spearman_n9"])
def test_spearman_exact(name: str) -> None:
    data = pd.DataFrame(inputs(name))
    row = spearman_correlation(data, x="x", y="y").iloc[0]
    want = expected(name)
    assert close(row["rho"], want["rho"])
    assert close(row["p_value"], want["p_value"])
    assert "exact" in row["method"]


def test_friedman() -> None:
    values = inputs("friedman")["values"]
    n = len(values) // 3
    data = pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(n) for _ in range(3)],
            "visit": ["w0", "w4", "w12"] * n,
            "clasi": values,
        }
    )
    row = friedman_test(
        data, subject="id", visit="visit", visits=["w0", "w4", "w12"], measures=["clasi"]
    ).iloc[0]
    want = expected("friedman")
    assert close(row["statistic"], want["statistic"])
    assert close(row["p_value"], want["p_value"])


def test_mixed_model() -> None:
    data = pd.DataFrame(inputs("mixed_model"))
    data["subject"] = data["subject"].astype(int).astype(str)
    out = change_from_baseline(
        data, subject="subject", visit="visit", visits=[0, 1, 2], measure="value"
    )
    want = expected("mixed_model")
    # REML optimisers differ (statsmodels vs nlme): agreement to 1e-4 relative.
    for j in (1, 2):
        assert close(out["model_estimate"][j - 1], want[f"estimate_{j}"], 1e-4)
        assert close(out["model_se"][j - 1], want[f"se_{j}"], 1e-4)
    assert close(out["model_subject_variance"][0], want["subject_variance"], 1e-4)
    assert close(out["model_residual_variance"][0], want["residual_variance"], 1e-4)
    assert out["model_n_observations"][0] == 16
    assert out["n_change"].tolist() == [5, 5]
