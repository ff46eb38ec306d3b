"""Descriptive summaries for a baseline characteristics table ("Table 1").

Continuous variables: n, missing, mean, SD (n - 1 denominator), median, quartiles (linear
interpolation, R's ``quantile`` type 7 / NumPy's default) and range. Categorical variables: count
and percent of the non-missing values for each level, in the order given (the protocol's choice
order), levels with no subject included. Layout follows gtsummary's default ``tbl_summary``
(interop.md §4.1), with mean (SD) added because the seed studies report it. No rounding here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["TABLE_ONE_COLUMNS", "table_one"]

TABLE_ONE_COLUMNS = [
    "variable", "kind", "level", "n", "n_missing", "mean", "sd", "median", "q1", "q3",
    "minimum", "maximum", "count", "percent", "method",
]  # fmt: skip

_CONTINUOUS_METHOD = "mean, SD (n-1); median, quartiles (linear interpolation, type 7); range"
_CATEGORICAL_METHOD = "count and percent of non-missing values"


def table_one(
    data: pd.DataFrame,
    *,
    continuous: Sequence[str] = (),
    categorical: Mapping[str, Sequence[str] | None] | None = None,
) -> pd.DataFrame:
    """Summarise one row per subject into Table 1 rows.

    Parameters
    ----------
    data
        One row per subject.
    continuous
        Numeric columns to summarise.
    categorical
        Column name to the ordered levels to report (``None``: the levels seen, sorted).

    Returns
    -------
    pandas.DataFrame
        One row per continuous variable and one per categorical level, with the columns
        :data:`TABLE_ONE_COLUMNS`; statistics that do not apply are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [11, 14, 23, 15, 19], "sex": ["F"] * 5})
    >>> t = table_one(df, continuous=["age"], categorical={"sex": ["F", "M"]})
    >>> t[["variable", "level", "mean", "count", "percent"]].to_string(index=False)
    'variable level  mean  count  percent\\n     age  <NA>  16.4    NaN      NaN\\n     sex     F   NaN    5.0    100.0\\n     sex     M   NaN    0.0      0.0'
    >>> round(float(t.loc[0, "sd"]), 4)
    4.669
    """
    rows: list[dict[str, object]] = []
    for column in continuous:
        values = pd.to_numeric(data[column], errors="coerce").dropna().to_numpy(dtype=float)
        n = int(values.size)
        row: dict[str, object] = {
            "variable": column,
            "kind": "continuous",
            "level": pd.NA,
            "n": n,
            "n_missing": int(len(data) - n),
            "method": _CONTINUOUS_METHOD,
        }
        if n:
            q1, median, q3 = np.percentile(values, [25.0, 50.0, 75.0])
            row |= {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if n > 1 else np.nan,
                "median": float(median),
                "q1": float(q1),
                "q3": float(q3),
                "minimum": float(values.min()),
                "maximum": float(values.max()),
            }
        rows.append(row)
    for column, levels in (categorical or {}).items():
        series = data[column].dropna()
        n = int(series.size)
        ordered = list(levels) if levels is not None else sorted(series.astype(str).unique())
        for level in ordered:
            count = int((series.astype(str) == str(level)).sum())
            rows.append(
                {
                    "variable": column,
                    "kind": "categorical",
                    "level": level,
                    "n": n,
                    "n_missing": int(len(data) - n),
                    "count": count,
                    "percent": 100.0 * count / n if n else np.nan,
                    "method": _CATEGORICAL_METHOD,
                }
            )
    return pd.DataFrame(rows, columns=TABLE_ONE_COLUMNS)
