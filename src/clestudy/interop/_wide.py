"""Per-form wide tables with typed columns, variable labels and value labels.

One row per record (subject x visit x instance) and one column per field, in protocol order, then
one per derived-score output. A multiple choice field becomes one 0/1 column per choice,
``FIELD___CODE`` (the REDCap convention, so analysts moving from REDCap find the same names). A
single choice whose codes are all integers is numeric with value labels; other codes stay text (a
Stata value label can only label numbers). Booleans are 1 = Yes, 0 = No.

When the study declares missing-data codes (:mod:`clestudy.protocol._missing_codes`), each field's
columns are followed by a text column ``FIELD_missing`` holding the field's code (its value
columns are then blank: a code is never a value), blank otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from clestudy.errors import InputError
from clestudy.protocol import FieldSpec, FormSpec, MissingCode
from clestudy.protocol._missing_codes import coded_fields
from clestudy.store import RecordState, Store

__all__ = ["Column", "WideTable", "select_forms_visits", "wide_tables"]

Kind = Literal["integer", "decimal", "text", "date", "flag", "code", "missing"]
KEY_COLUMNS = ("subject", "arm", "site", "visit", "instance")
_SAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Column:
    """One data column: its name, label, kind and (for coded numbers) value labels."""

    name: str
    label: str
    kind: Kind
    value_labels: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WideTable:
    """A form's records as a typed DataFrame and the columns' metadata."""

    form: FormSpec
    columns: tuple[Column, ...]
    frame: pd.DataFrame
    #: the study's missing-data codes (``FIELD_missing`` columns hold them)
    missing_codes: tuple[MissingCode, ...] = ()


def _int_codes(spec: FieldSpec) -> dict[int, str] | None:
    try:
        return {int(c.code): c.label for c in spec.choices if str(int(c.code)) == c.code}
    except ValueError:
        return None


def _field_columns(spec: FieldSpec) -> list[Column]:
    yes_no = {1: "Yes", 0: "No"}
    if spec.type == "multiple_choice":
        return [
            Column(
                f"{spec.id}___{_SAFE.sub('_', c.code).lower()}",
                f"{spec.label}: {c.label}",
                "flag",
                {1: "Checked", 0: "Unchecked"},
            )
            for c in spec.choices
        ]
    if spec.type == "single_choice":
        codes = _int_codes(spec)
        if codes is not None and len(codes) == len(spec.choices):
            return [Column(spec.id, spec.label, "flag", codes)]
        return [Column(spec.id, spec.label, "code")]
    if spec.type == "boolean":
        return [Column(spec.id, spec.label, "flag", yes_no)]
    kinds: dict[str, Kind] = {"integer": "integer", "decimal": "decimal", "date": "date"}
    return [Column(spec.id, spec.label, kinds.get(spec.type, "text"))]


def missing_column(spec: FieldSpec) -> Column:
    """The text column holding a field's missing-data code."""
    return Column(f"{spec.id}_missing", f"{spec.label}: missing-data code", "missing")


def _cell(spec: FieldSpec, value: Any, column: Column) -> Any:
    if spec.type == "multiple_choice":
        chosen = {f"{spec.id}___{_SAFE.sub('_', c).lower()}" for c in value}
        return int(column.name in chosen)
    if column.kind == "flag" and spec.type == "boolean":
        return int(bool(value))
    if column.kind == "flag":
        return int(value)
    if column.kind == "decimal":
        return float(Decimal(str(value)))
    if column.kind == "date":
        return dt.date.fromisoformat(str(value))
    return value


def _derived_name(score_id: str, item: str, taken: set[str]) -> str:
    return item if item not in taken else f"{score_id}_{item}"


def _derived_columns(records: Sequence[RecordState], taken: set[str]) -> list[Column]:
    labels: dict[str, str] = {}
    numeric: dict[str, bool] = {}
    for record in records:
        for score_id, score in record.derived.items():
            for item, value in score["values"].items():
                name = _derived_name(score_id, item, taken)
                labels.setdefault(
                    name, f"{score_id} ({score['instrument']} {score['version']}): {item}"
                )
                is_number = isinstance(value, int | float) and not isinstance(value, bool)
                numeric[name] = numeric.get(name, True) and (is_number or value is None)
    return [Column(n, labels[n], "decimal" if numeric[n] else "text") for n in labels]


def _frame(columns: Sequence[Column], rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*KEY_COLUMNS, *(c.name for c in columns)])
    frame["instance"] = frame["instance"].astype("int64")
    for column in columns:
        if column.kind in ("integer", "flag"):
            frame[column.name] = frame[column.name].astype("Int64")
        elif column.kind == "decimal":
            frame[column.name] = pd.to_numeric(frame[column.name], errors="raise").astype(float)
        else:
            frame[column.name] = frame[column.name].astype(object)
    return frame


def _table(store: Store, form: FormSpec, records: Sequence[RecordState]) -> WideTable:
    with_codes = bool(store.protocol.missing_codes)
    field_cols = [
        (spec, col)
        for spec in form.fields
        for col in [*_field_columns(spec), *([missing_column(spec)] if with_codes else [])]
    ]
    taken = {col.name for _, col in field_cols} | set(KEY_COLUMNS)
    derived_cols = _derived_columns(records, taken)
    subjects = {s.subject_id: s for s in store.subjects()}
    rows: list[dict[str, Any]] = []
    for record in records:
        subject = subjects[record.subject_id]
        row: dict[str, Any] = {
            "subject": record.subject_id,
            "arm": subject.arm,
            "site": subject.site,
            "visit": record.visit_id,
            "instance": record.instance,
        }
        coded = coded_fields(record.values)
        for spec, col in field_cols:
            value = record.values.get(spec.id)
            if col.kind == "missing":
                row[col.name] = coded.get(spec.id)
            else:
                row[col.name] = None if value is None else _cell(spec, value, col)
        flat = {
            _derived_name(score_id, item, taken): value
            for score_id, score in record.derived.items()
            for item, value in score["values"].items()
        }
        for col in derived_cols:
            derived_value = flat.get(col.name)
            if derived_value is not None:
                is_text = col.kind == "text"
                row[col.name] = str(derived_value) if is_text else float(derived_value)
            else:
                row[col.name] = None
        rows.append(row)
    columns = tuple(col for _, col in field_cols) + tuple(derived_cols)
    return WideTable(form, columns, _frame(columns, rows), store.protocol.missing_codes)


def select_forms_visits(
    store: Store, forms: Sequence[str] | None, visits: Sequence[str] | None
) -> tuple[list[FormSpec], list[str] | None]:
    """Check ``--forms`` and ``--visits`` against the protocol; return the forms and visit ids.

    Raises
    ------
    InputError
        Naming the unknown form or visit and the known ones.
    """
    protocol = store.protocol
    chosen: list[FormSpec] = []
    for form_id in forms or [f.id for f in protocol.forms]:
        form = protocol.form(form_id)
        if form is None:
            known = [f.id for f in protocol.forms]
            raise InputError(f"--forms: unknown form '{form_id}' in {protocol.id} (forms: {known})")
        chosen.append(form)
    for visit_id in visits or []:
        if protocol.visit(visit_id) is None:
            known = [v.id for v in protocol.visits]
            raise InputError(
                f"--visits: unknown visit '{visit_id}' in {protocol.id} (visits: {known})"
            )
    return chosen, list(visits) if visits else None


def wide_tables(
    store: Store, forms: Sequence[FormSpec], visits: Sequence[str] | None
) -> list[WideTable]:
    """One :class:`WideTable` per form (forms without records give an empty table)."""
    records = store.records()
    out = []
    for form in forms:
        mine = [
            r for r in records if r.form_id == form.id and (visits is None or r.visit_id in visits)
        ]
        out.append(_table(store, form, mine))
    return out
