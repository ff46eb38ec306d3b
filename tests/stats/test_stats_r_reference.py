"""The paired engine against R 4.2.2 (and the coin package for exact p-values with ties).

Expected values live in data/r_reference.json, each next to the R expression that produced it;
data/make_r_reference.R regenerates the file. R is not needed to run these tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from clestudy.stats import paired_comparison

REFERENCE = json.loads((Path(__file__).parent / "data" / "r_reference.json").read_text())
CASES: list[dict[str, Any]] = REFERENCE["cases"]


def engine_row(case: dict[str, Any]) -> pd.Series:
    n = len(case["before"])
    data = pd.DataFrame(
        {
            "subject": [f"S{i}" for i in range(n)] * 2,
            "visit": ["before"] * n + ["after"] * n,
            "value": case["before"] + case["after"],
        }
    )
    result = paired_comparison(
        data,
        subject="subject",
        visit="visit",
        before="before",
        after="after",
        measures=["value"],
        rule="both",
    )
    return result.iloc[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [(case, value) for case in CASES for value in case["values"]],
    ids=[f"{case['name']}-{value['key']}" for case in CASES for value in case["values"]],
)
def test_matches_r(case: dict[str, Any], expected: dict[str, Any]) -> None:
    row = engine_row(case)
    assert row[expected["key"]] == pytest.approx(expected["value"], rel=1e-6, abs=1e-6), expected[
        "r_call"
    ]


def test_reference_covers_the_acceptance_cases() -> None:
    names = {case["name"] for case in CASES}
    assert {"sleep", "n5_same_sign", "ties_and_zeros"} <= names
    n5 = next(case for case in CASES if case["name"] == "n5_same_sign")
    values = {v["key"]: v["value"] for v in n5["values"]}
    assert values["p_wilcoxon_exact"] == 0.0625
    assert round(values["p_wilcoxon_asymptotic"], 4) == 0.0431
    row = engine_row(n5)
    assert "exact_wilcoxon_cannot_reach_alpha" in [w["code"] for w in row["warnings"]]
    ties = next(case for case in CASES if case["name"] == "ties_and_zeros")
    row = engine_row(ties)
    assert row["n_unchanged"] == 2
    assert row["has_ties"]
