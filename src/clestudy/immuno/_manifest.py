"""Sample manifests: which lab file belongs to which subject and visit.

A manifest is a CSV with one row per sample. It is validated before any file is processed: an
unknown subject or visit, a missing file, a bad date or a duplicated sample is an error that names
the manifest, its line and the value. The study's subjects and visits are passed in by the caller
(the CLI reads them from the protocol and the store); this module knows nothing else of the study.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path

import pandas as pd

from clestudy.immuno._csv import read_text_table
from clestudy.immuno._errors import ManifestError

__all__ = ["FLOW_MANIFEST_COLUMNS", "read_manifest"]

#: Required columns of a flow cytometry manifest; ``beads_per_test`` and ``volume_ul`` are
#: optional (both or neither) and give absolute counts.
FLOW_MANIFEST_COLUMNS = ("file", "subject_id", "visit_id", "sample_date")


def read_manifest(
    path: str | Path,
    *,
    key: str = "file",
    required: Sequence[str] = FLOW_MANIFEST_COLUMNS,
    files: bool = True,
    known_subjects: Collection[str] | None = None,
    known_visits: Collection[str] | None = None,
    unique_by: Sequence[str] = ("subject_id", "visit_id"),
) -> pd.DataFrame:
    """Read and validate a sample manifest.

    Parameters
    ----------
    path
        The manifest CSV.
    key
        The column naming the sample (a file path, or a QuPath image name).
    required
        Columns that must be present and non-empty.
    files
        When true, ``key`` is a file path (relative to the manifest's folder) that must exist;
        the returned ``path`` column holds the resolved path.
    known_subjects, known_visits
        The study's subject and visit ids; ``None`` skips that check.
    unique_by
        Besides ``key``, these columns together must not repeat (one sample per subject and
        visit).

    Returns
    -------
    pandas.DataFrame
        The manifest's columns as text, plus ``line`` (CSV line number) and ``path``.

    Raises
    ------
    ManifestError
        The first problem found, naming the manifest, the line, the column and the value.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "m.csv"
    >>> _ = path.write_text("image,subject_id,visit_id\\nslide1,S01,week_0\\n")
    >>> m = read_manifest(path, key="image",
    ...                   required=("image", "subject_id", "visit_id"), files=False)
    >>> m[["image", "subject_id", "line"]].values.tolist()
    [['slide1', 'S01', 2]]
    """
    path = Path(path)
    table = read_text_table(path, what="manifest", error=ManifestError)
    table.columns = pd.Index([str(c).lower() for c in table.columns])
    missing = [c for c in (key, *required) if c not in table.columns]
    if missing:
        raise ManifestError(
            f"{path}: missing column(s) {', '.join(dict.fromkeys(missing))}; "
            f"found {', '.join(table.columns)}"
        )
    table["line"] = table.index.to_numpy()
    table = table.reset_index(drop=True)
    table.attrs["source"] = str(path)  # so a later check of a row can name the manifest file
    seen: dict[tuple[str, ...], int] = {}
    seen_keys: dict[str, int] = {}
    resolved: list[str] = []
    for row in table.to_dict("records"):
        where = f"{path}: line {row['line']}"
        for column in (key, *required):
            if not row[column]:
                raise ManifestError(f"{where}: {column} is empty")
        name = row[key]
        where = f"{where} ({name})"
        if name in seen_keys:
            raise ManifestError(f"{where}: {key} is listed twice (first on line {seen_keys[name]})")
        seen_keys[name] = row["line"]
        if files:
            file_path = Path(name) if Path(name).is_absolute() else path.parent / name
            if not file_path.is_file():
                raise ManifestError(f"{where}: file {file_path} does not exist")
            resolved.append(str(file_path))
        else:
            resolved.append(name)
        _check_known(where, "subject_id", row.get("subject_id"), known_subjects)
        _check_known(where, "visit_id", row.get("visit_id"), known_visits)
        if row.get("sample_date"):
            try:
                dt.date.fromisoformat(row["sample_date"])
            except ValueError:
                raise ManifestError(
                    f"{where}: sample_date {row['sample_date']!r} is not a date (YYYY-MM-DD)"
                ) from None
        if unique_by:
            ident = tuple(row[c] for c in unique_by)
            if ident in seen:
                raise ManifestError(
                    f"{where}: duplicated sample: {', '.join(unique_by)} "
                    f"{' / '.join(ident)} already on line {seen[ident]}"
                )
            seen[ident] = row["line"]
    table["path"] = resolved
    return table


def _check_known(where: str, column: str, value: str | None, known: Collection[str] | None) -> None:
    if known is None or value is None:
        return
    if value not in known:
        shown = ", ".join(sorted(known)[:10]) + (" ..." if len(known) > 10 else "")
        raise ManifestError(
            f"{where}: {column} {value!r} is not in the study (known: {shown or 'none'})"
        )
