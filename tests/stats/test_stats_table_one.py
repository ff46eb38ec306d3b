"""Table 1 summaries (clestudy.stats.table_one), checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clestudy.stats import TABLE_ONE_COLUMNS, table_one


def test_continuous_and_categorical_rows() -> None:
    data = pd.DataFrame(
        {
            "age": [11, 14, 23, 15, None],
            "sex": ["F", "F", "M", None, "F"],
        }
    )
    out = table_one(data, continuous=["age"], categorical={"sex": ["F", "M", "X"]})
    assert list(out.columns) == TABLE_ONE_COLUMNS
    age = out.iloc[0]
    # ages 11, 14, 15, 23: mean 63/4 = 15.75; deviations -4.75, -1.75, -0.75, 7.25, squares
    # sum 22.5625 + 3.0625 + 0.5625 + 52.5625 = 78.75, SD = sqrt(78.75 / 3) = 5.1235;
    # type-7 quartiles at h = 0.75, 1.5, 2.25: 13.25, 14.5, 17.
    assert (age["n"], age["n_missing"]) == (4, 1)
    assert age["mean"] == 15.75
    assert age["sd"] == pytest.approx(math.sqrt(78.75 / 3))
    assert (age["q1"], age["median"], age["q3"]) == (13.25, 14.5, 17.0)
    assert (age["minimum"], age["maximum"]) == (11, 23)
    sex = out[out["variable"] == "sex"].set_index("level")
    assert sex["count"].to_dict() == {"F": 3, "M": 1, "X": 0}
    assert sex.loc["F", "percent"] == 75.0
    assert sex.loc["F", "n_missing"] == 1


def test_levels_default_to_the_sorted_values_seen() -> None:
    data = pd.DataFrame({"site": ["scalp", "face", "face"]})
    out = table_one(data, categorical={"site": None})
    assert out["level"].tolist() == ["face", "scalp"]


def test_empty_continuous_column_gives_nan() -> None:
    out = table_one(pd.DataFrame({"crp": [None, None]}), continuous=["crp"])
    assert out.iloc[0]["n"] == 0
    assert math.isnan(out.iloc[0]["mean"])
