"""From a long table (one row per subject x visit) to complete pairs of numbers, or a clear error.

The engine's input checks live here so that every analysis reports bad input the same way: one
line naming the source, the row, the column, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from clestudy.errors import InputError

__all__ = ["MeasurePairs", "check_columns", "numeric_column", "pair_measures", "visit_rows"]


@dataclass(frozen=True)
class MeasurePairs:
    """Complete pairs for one measure, in the order the subjects first appear in the data."""

    measure: str
    subjects: list[str]
    before: npt.NDArray[np.float64]
    after: npt.NDArray[np.float64]
    dropped_subjects: list[str]


def check_columns(data: pd.DataFrame, columns: Sequence[str], *, source: str) -> None:
    """Raise :class:`InputError` naming the first of ``columns`` missing from ``data``."""
    for column in columns:
        if column not in data.columns:
            available = ", ".join(repr(str(c)) for c in data.columns)
            raise InputError(f"{source}: no column {column!r}; the columns are {available}")


def numeric_column(data: pd.DataFrame, column: str, *, source: str) -> pd.Series:
    """The column as float64, with missing values as NaN; text that is not a number is an error.

    Missing means NaN/None or an empty (blank) string. Infinite values and booleans are refused.
    The error names the row by the DataFrame's index label (the CLI uses CSV line numbers).
    """
    raw = data[column]
    if pd.api.types.is_bool_dtype(raw):
        raise InputError(f"{source}: column {column!r} holds true/false values, not numbers")
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype(np.float64)
    else:
        text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
        missing = text.isna() | text.eq("")
        values = pd.to_numeric(text.where(~missing), errors="coerce").astype(np.float64)
        bad = values.isna() & ~missing
        if bad.any():
            at = int(np.argmax(bad.to_numpy()))
            raise InputError(
                f"{source}: row {raw.index[at]}, column {column!r}: {raw.iloc[at]!r} "
                "is not a number"
            )
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        at = int(np.argmax(infinite))
        raise InputError(
            f"{source}: row {raw.index[at]}, column {column!r}: {raw.iloc[at]!r} "
            "is not a finite number"
        )
    return values


def visit_rows(
    data: pd.DataFrame, *, subject: str, visit: str, label: Hashable, source: str
) -> pd.DataFrame:
    """Rows of one visit (original index); a duplicate subject or an unknown label is an error."""
    rows = data[data[visit] == label]
    if rows.empty:
        present = ", ".join(repr(v) for v in pd.unique(data[visit].dropna()))
        raise InputError(
            f"{source}: column {visit!r}: no row has the visit label {label!r}; "
            f"the labels present are {present or 'none'}"
        )
    subjects = rows[subject].astype(str)
    duplicated = subjects.duplicated()
    if duplicated.any():
        row = subjects.index[int(np.argmax(duplicated.to_numpy()))]
        raise InputError(
            f"{source}: row {row}: subject {subjects.loc[row]!r} has a second row for visit "
            f"{label!r}; allowed: one row per subject and visit"
        )
    return rows


def pair_measures(
    data: pd.DataFrame,
    *,
    subject: str,
    visit: str,
    before: Hashable,
    after: Hashable,
    measures: Sequence[str],
    source: str = "data",
) -> list[MeasurePairs]:
    """Complete (before, after) pairs per measure from a long table.

    A subject missing a row at either visit, or with a missing value of the measure at either
    visit, is dropped for that measure only and named in ``dropped_subjects``.

    Examples
    --------
    >>> long = pd.DataFrame({"id": ["a", "a", "b", "b"], "visit": ["pre", "post"] * 2,
    ...                      "esr": [20, 15, None, 9]})
    >>> pairs = pair_measures(long, subject="id", visit="visit", before="pre", after="post",
    ...                       measures=["esr"])
    >>> pairs[0].before.tolist(), pairs[0].after.tolist(), pairs[0].dropped_subjects
    ([20.0], [15.0], ['b'])
    """
    if not measures:
        raise InputError(f"{source}: no measure given; name at least one measure column")
    if len(set(measures)) != len(measures):
        raise InputError(f"{source}: a measure is named twice in {list(measures)!r}")
    if before == after:
        raise InputError(f"{source}: the before and after visit labels are both {before!r}")
    check_columns(data, [subject, visit, *measures], source=source)
    for column in (subject, visit):
        if data[column].isna().any():
            row = data.index[int(np.argmax(data[column].isna().to_numpy()))]
            raise InputError(f"{source}: row {row}, column {column!r}: the value is missing")
    first = visit_rows(data, subject=subject, visit=visit, label=before, source=source)
    second = visit_rows(data, subject=subject, visit=visit, label=after, source=source)
    first_subjects = pd.Index(first[subject].astype(str))
    second_subjects = pd.Index(second[subject].astype(str))
    order = pd.Index(pd.unique(data[subject].astype(str)))
    everyone = order[order.isin(first_subjects) | order.isin(second_subjects)]
    matrix_before = _numeric_block(first, measures, first_subjects, everyone, source)
    matrix_after = _numeric_block(second, measures, second_subjects, everyone, source)
    complete_all = ~(np.isnan(matrix_before) | np.isnan(matrix_after))
    subjects = np.asarray(everyone, dtype=object)
    results = []
    for j, measure in enumerate(measures):
        complete = complete_all[:, j]
        _check_magnitude(
            source,
            measure,
            subjects[complete],
            matrix_before[complete, j],
            matrix_after[complete, j],
        )
        results.append(
            MeasurePairs(
                measure=measure,
                subjects=subjects[complete].tolist(),
                before=matrix_before[complete, j],
                after=matrix_after[complete, j],
                dropped_subjects=subjects[~complete].tolist(),
            )
        )
    return results


def _check_magnitude(
    source: str,
    measure: str,
    subjects: npt.NDArray[np.object_],
    before: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
) -> None:
    """Refuse values whose squares overflow: every variance, t and effect size would be inf/NaN.

    A value of 1e300 is finite, but its square is not, so the SD and the t-statistic would not be
    (``t = -0, p = 1`` was printed): the limit is floating point's, about 1.3e154.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for label, values in (("before", before), ("after", after), ("difference", after - before)):
            if values.size and not np.isfinite(np.sum(np.square(values))):
                at = int(np.argmax(np.abs(np.nan_to_num(values, posinf=np.inf, neginf=np.inf))))
                raise InputError(
                    f"{source}: column {measure!r}, subject {subjects[at]!r}: the {label} value "
                    f"{float(values[at]):g} is too large: its square (and so the SD and the test "
                    "statistics) overflows floating point; rescale the measure"
                )


def _numeric_block(
    rows: pd.DataFrame,
    measures: Sequence[str],
    subjects: pd.Index,
    everyone: pd.Index,
    source: str,
) -> npt.NDArray[np.float64]:
    """everyone x measures float matrix; numeric columns are converted in one block."""
    frame = rows[list(measures)]
    numeric = frame.dtypes.map(
        lambda dtype: pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    )
    if not numeric.all():
        frame = pd.DataFrame(
            {m: numeric_column(rows, m, source=source) for m in measures}, index=rows.index
        )
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        row, column = (int(i[0]) for i in np.nonzero(infinite))
        raise InputError(
            f"{source}: row {rows.index[row]}, column {measures[column]!r}: "
            f"{float(values[row, column])!r} is not a finite number"
        )
    position = subjects.get_indexer(everyone)
    out = np.full((len(everyone), len(measures)), np.nan)
    present = position >= 0
    out[present] = values[position[present]]
    return out
