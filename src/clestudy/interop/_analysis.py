"""Analysis exports: tidy long CSV, wide CSV, Parquet, SPSS ``.sav`` and Stata ``.dta``.

Each export writes, into one folder and only when every file was written (nothing on bad input):

* the data: ``tidy.csv`` (format ``csv``: one row per subject x visit x form x instance x item, as
  :func:`clestudy.store.tidy_table`), or one file per form, ``FORM.csv|.parquet|.sav|.dta``
  (wide: one row per record, see :mod:`clestudy.interop._wide`);
* the endpoint table of the study (one row per subject x visit, one column per endpoint, from
  :func:`clestudy.store.endpoint_table`), ``endpoints.EXT``, when the protocol names endpoints;
* ``manifest.json`` (:mod:`clestudy.interop._manifest`).

SPSS and Stata files carry variable labels (the protocol's field labels) and value labels (the
choice lists; 1 = Yes / 0 = No for booleans), written with pyreadstat (Apache-2.0), the library
behind pandas' own SPSS reader. Stata limits variable labels to 80 characters, so longer labels are
cut there (the SPSS file keeps them whole), and variable names to 31: a longer name becomes
:func:`stata_name` of it, listed in the manifest's ``renamed_columns``.

Missing-data codes (:mod:`clestudy.protocol._missing_codes`) are in each field's text column
``FIELD_missing`` in every wide format; SPSS and Stata files also declare them as user-missing
values of the field's own numeric or text column, where the format can: in SPSS a numeric code
(``-999``) of a number column, or a text code of at most 8 bytes of a text column, at most three
per column (SPSS's limit); in Stata a number column's extended missing values ``.a``, ``.b``, ...
(the study's codes in order, at most 26), labelled with the codes' labels. Read with pyreadstat's
default (``user_missing=False``) a user-missing value is missing; with ``user_missing=True`` it is
the code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from clestudy.errors import InputError
from clestudy.interop._manifest import staged_output, write_manifest
from clestudy.interop._wide import Column, WideTable, select_forms_visits, wide_tables
from clestudy.store import Store, endpoint_table, tidy_table

__all__ = ["ANALYSIS_FORMATS", "ExportResult", "export_analysis", "stata_name"]

ANALYSIS_FORMATS = ("csv", "wide-csv", "parquet", "sav", "dta")
STATA_LABEL_MAX = 80
#: Stata allows 32 characters, but readstat refuses a value-labelled variable of 32.
STATA_NAME_MAX = 31


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the data files and the manifest."""

    folder: Path
    files: tuple[Path, ...]
    manifest: Path


def _labelled_frame(table: WideTable) -> tuple[pd.DataFrame, dict[str, str], dict[str, Any]]:
    frame = table.frame.copy()
    for column in table.columns:
        if column.kind in ("integer", "flag"):
            frame[column.name] = frame[column.name].astype("float64")
    labels = {
        "subject": "Subject id",
        "arm": "Treatment arm",
        "site": "Site",
        "visit": "Visit",
        "instance": "Instance of a repeating form",
        **{c.name: c.label for c in table.columns},
    }
    value_labels = {
        c.name: {float(k): v for k, v in c.value_labels.items()}
        for c in table.columns
        if c.value_labels
    }
    return frame, labels, value_labels


def _coded_columns(table: WideTable) -> list[tuple[Column, pd.Series]]:
    """Each single value column of a field that may hold a code, with the field's codes."""
    by_name = {c.name: c for c in table.columns}
    found = []
    for spec in table.form.fields:
        value, codes = by_name.get(spec.id), by_name.get(f"{spec.id}_missing")
        if value is not None and codes is not None and value.kind != "date":
            found.append((value, table.frame[codes.name]))
    return found


def _number(code: str) -> float | None:
    try:
        return float(code)
    except ValueError:
        return None


def _sav_user_missing(table: WideTable, frame: pd.DataFrame,
                      value_labels: dict[str, Any]) -> dict[str, list[Any]]:  # fmt: skip
    """SPSS user-missing values (see the module docstring); fills ``frame`` with the codes."""
    ranges: dict[str, list[Any]] = {}
    for column, coded in _coded_columns(table):
        numeric = column.kind in ("integer", "decimal", "flag")
        usable = {
            c.code: (_number(c.code) if numeric else c.code)
            for c in table.missing_codes
            if (_number(c.code) is not None if numeric else len(c.code.encode()) <= 8)
        }
        if not usable or len(usable) > 3:
            continue
        present = coded.map(usable)
        frame[column.name] = present.where(present.notna(), frame[column.name])
        ranges[column.name] = list(usable.values())
        if numeric:
            labels = {c.code: c.label for c in table.missing_codes}
            value_labels[column.name] = {
                **value_labels.get(column.name, {}),
                **{usable[code]: labels[code] for code in usable},
            }
    return ranges


def _dta_user_missing(table: WideTable, frame: pd.DataFrame,
                      value_labels: dict[str, Any]) -> dict[str, list[str]]:  # fmt: skip
    """Stata extended missing values (see the module docstring); fills ``frame`` with them."""
    letters = {c.code: chr(ord("a") + i) for i, c in enumerate(table.missing_codes[:26])}
    user: dict[str, list[str]] = {}
    for column, coded in _coded_columns(table):
        if column.kind not in ("integer", "decimal", "flag"):
            continue
        present = coded.map(letters)
        frame[column.name] = present.where(present.notna(), frame[column.name]).astype(object)
        user[column.name] = list(letters.values())
        value_labels[column.name] = {
            **value_labels.get(column.name, {}),
            **{letters[c.code]: c.label for c in table.missing_codes if c.code in letters},
        }
    return user


def _write_sav(table: WideTable, path: Path) -> dict[str, str]:
    frame, labels, value_labels = _labelled_frame(table)
    ranges = _sav_user_missing(table, frame, value_labels) if table.missing_codes else {}
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=[labels.get(c) for c in frame.columns],
        variable_value_labels=value_labels,
        file_label=table.form.name[:64],
        missing_ranges=ranges or None,
    )
    return {}


def stata_name(name: str) -> str:
    """A Stata variable name (at most 31 characters) for ``name``: itself when short enough,
    else its first 26 characters, ``_`` and 4 hex digits of its SHA-1 (stable, collision-safe).

    >>> stata_name("posterior_neck_shoulders_erythema")
    'posterior_neck_shoulders_e_8bbe'
    """
    if len(name) <= STATA_NAME_MAX:
        return name
    return f"{name[:26]}_{hashlib.sha1(name.encode()).hexdigest()[:4]}"


def _write_dta(table: WideTable, path: Path) -> dict[str, str]:
    frame, labels, value_labels = _labelled_frame(table)
    user = _dta_user_missing(table, frame, value_labels) if table.missing_codes else {}
    renamed = {c: stata_name(c) for c in frame.columns if stata_name(c) != c}
    frame = frame.rename(columns=renamed)
    labels = {renamed.get(k, k): v for k, v in labels.items()}
    value_labels = {renamed.get(k, k): v for k, v in value_labels.items()}
    user = {renamed.get(k, k): v for k, v in user.items()}
    pyreadstat.write_dta(
        frame,
        str(path),
        column_labels=[labels[c][:STATA_LABEL_MAX] or None for c in frame.columns],
        variable_value_labels=value_labels,
        file_label=table.form.name[:STATA_LABEL_MAX],
        missing_user_values=user or None,
    )
    return renamed


def _write_parquet(table: WideTable, path: Path) -> dict[str, str]:
    table.frame.to_parquet(path, index=False, engine="pyarrow")
    return {}


def _write_csv(table: WideTable, path: Path) -> dict[str, str]:
    table.frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return {}


_WIDE_WRITERS: dict[str, tuple[str, Callable[[WideTable, Path], dict[str, str]]]] = {
    "wide-csv": ("csv", _write_csv),
    "parquet": ("parquet", _write_parquet),
    "sav": ("sav", _write_sav),
    "dta": ("dta", _write_dta),
}


def _endpoints(store: Store, visits: Sequence[str] | None) -> pd.DataFrame | None:
    ids = [e.id for e in store.protocol.endpoints]
    if not ids:
        return None
    table = endpoint_table(store, ids, visits)
    arms = {s.subject_id: (s.arm, s.site) for s in store.subjects()}
    table.insert(1, "arm", [arms[s][0] for s in table["subject"]])
    table.insert(2, "site", [arms[s][1] for s in table["subject"]])
    for endpoint_id in ids:
        table[endpoint_id] = table[endpoint_id].astype("float64")
    return table


def _write_endpoints(store: Store, table: pd.DataFrame, folder: Path, fmt: str) -> Path:
    ext = _WIDE_WRITERS[fmt][0] if fmt in _WIDE_WRITERS else "csv"
    path = folder / f"endpoints.{ext}"
    labels = {"subject": "Subject id", "arm": "Treatment arm", "site": "Site", "visit": "Visit"}
    for endpoint in store.protocol.endpoints:
        unit = f" ({endpoint.unit})" if endpoint.unit else ""
        labels[endpoint.id] = f"{endpoint.label}{unit}"
    if ext == "csv":
        table.to_csv(path, index=False)
    elif ext == "parquet":
        table.to_parquet(path, index=False, engine="pyarrow")
    else:
        writer = pyreadstat.write_sav if ext == "sav" else pyreadstat.write_dta
        width = None if ext == "sav" else STATA_LABEL_MAX
        column_labels: list[str | None] = [labels[c][:width] for c in table.columns]
        if ext == "dta":
            table = table.rename(columns=stata_name)
        writer(table, str(path), column_labels=column_labels)
    return path


def export_analysis(
    store: Store,
    export_format: str,
    out_dir: Path,
    *,
    forms: Sequence[str] | None = None,
    visits: Sequence[str] | None = None,
) -> ExportResult:
    """Export a study's data for analysis in ``export_format`` (one of :data:`ANALYSIS_FORMATS`).

    Raises
    ------
    InputError
        For an unknown format, form or visit, or a column name Stata cannot hold; nothing is
        written then.
    """
    if export_format not in ANALYSIS_FORMATS:
        raise InputError(f"unknown export format '{export_format}' (formats: {ANALYSIS_FORMATS})")
    chosen, visit_ids = select_forms_visits(store, forms, visits)
    with staged_output(out_dir) as scratch:
        written: list[Path] = []
        notes: dict[str, Any] = {}
        if export_format == "csv":
            tidy = tidy_table(store)
            tidy = tidy[tidy["form"].isin([f.id for f in chosen])]
            if visit_ids is not None:
                tidy = tidy[tidy["visit"].isin(visit_ids)]
            tidy.to_csv(scratch / "tidy.csv", index=False)
            written.append(scratch / "tidy.csv")
        else:
            ext, writer = _WIDE_WRITERS[export_format]
            for table in wide_tables(store, chosen, visit_ids):
                path = scratch / f"{table.form.id}.{ext}"
                renamed = writer(table, path)
                if renamed:
                    notes.setdefault("renamed_columns", {})[path.name] = renamed
                written.append(path)
        endpoints = _endpoints(store, visit_ids)
        if endpoints is not None:
            written.append(_write_endpoints(store, endpoints, scratch, export_format))
        filters = {"forms": list(forms) if forms else None, "visits": visit_ids}
        write_manifest(
            scratch, store, export_format=export_format, files=written, filters=filters, notes=notes
        )
    return ExportResult(
        out_dir, tuple(out_dir / p.name for p in written), out_dir / "manifest.json"
    )
