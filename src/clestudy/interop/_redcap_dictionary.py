"""REDCap data dictionaries: read one into protocol fields, write a protocol back as one.

A dictionary is the 18-column CSV of REDCap's Online Designer, with either header style: the UI
one (``Variable / Field Name``, ...) or the API one (``field_name``, ...); a UTF-8 byte-order mark
is accepted and text (curly quotes, dashes, any script) is read as UTF-8. Each row becomes a
:class:`~clestudy.protocol.FieldSpec`:

=====================================  ==========================================================
REDCap field type (validation)         clestudy field
=====================================  ==========================================================
text (none, alpha_only, email, phone,  ``text``; the validation type is kept in ``annotations``
zip/postal codes, ssn, mrn, datetime,  (clestudy does not enforce these formats)
time...)
text (integer)                         ``integer`` with min/max
text (number, number_Ndp, and their    ``decimal`` with min/max; comma decimals are read and
``_comma_decimal`` forms)              written back with a comma
text (date_ymd, date_mdy, date_dmy)    ``date`` (REDCap exports every date as Y-M-D)
notes                                  ``text``
dropdown, radio                        ``single_choice`` (``1, Yes | 0, No`` choices)
checkbox                               ``multiple_choice`` (``field___code`` columns in records)
yesno, truefalse                       ``boolean`` (stored 1/0 in REDCap)
calc                                   ``decimal`` with ``calculation`` kept as text, never run
slider                                 ``integer``, 0-100 unless min/max are given
file, descriptive, sql                 refused: clestudy stores no uploaded file, no display-only
                                       item and no database query
=====================================  ==========================================================

Branching logic is kept verbatim in ``branching_logic`` and translated into ``show_if`` where
it can be (:mod:`clestudy.interop._redcap_branching`; a native field's show-if is written back
as branching logic), the ``Identifier?`` flag in ``identifier``, ``Required Field?`` in
``required``, the field note in ``help``; every other non-empty column (section header, alignment, matrix group, action tags,
the raw choice text and min/max) is kept in ``annotations`` so that :func:`dictionary_rows`
writes the dictionary back unchanged.

References
----------
REDCap data dictionary columns and types: REDCapR test projects
(OuhscBbmc/REDCapR ``inst/test-data/projects``, MIT) and redcapAPI ``REDCAP_METADATA_STRUCTURE``
(vubiostat/redcapAPI); see docs/references.md [REDCap dictionary].
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clestudy.errors import InputError
from clestudy.interop._redcap_branching import branching_from_show_if
from clestudy.protocol import Choice, FieldSpec, FieldType, Protocol

__all__ = [
    "API_COLUMNS",
    "DictionaryRow",
    "dictionary_rows",
    "field_from_row",
    "read_dictionary",
    "write_dictionary",
]

API_COLUMNS = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)
UI_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
_TEXT_VALIDATIONS = {
    "alpha_only", "email", "phone", "phone_australia", "zipcode", "postalcode_australia",
    "postalcode_canada", "postalcode_french", "postalcode_germany", "ssn", "mrn_10d",
    "mrn_generic", "vmrn", "time", "time_hh_mm_ss", "time_mm_ss", "datetime_dmy", "datetime_mdy",
    "datetime_ymd", "datetime_seconds_dmy", "datetime_seconds_mdy", "datetime_seconds_ymd",
}  # fmt: skip
_DECIMAL_VALIDATIONS = {"number", *(f"number_{n}dp" for n in range(1, 5))}
_COMMA_VALIDATIONS = {"number_comma_decimal", *(f"number_{n}dp_comma_decimal" for n in range(1, 5))}
_DATE_VALIDATIONS = {"date_ymd", "date_mdy", "date_dmy"}
_REFUSED = {
    "file": "an uploaded file (clestudy stores no files)",
    "descriptive": "display-only text with no value",
    "sql": "a database query",
}
#: Columns mapped onto FieldSpec attributes; every other non-empty column goes to annotations.
_MAPPED = {"field_name", "form_name", "field_label", "field_note", "identifier",
           "branching_logic", "required_field"}  # fmt: skip


@dataclass(frozen=True)
class DictionaryRow:
    """One dictionary row: its line number in the file and its 18 values by API column name."""

    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: line {line}: byte {exc.start} is not UTF-8 ({exc.reason}); save the "
            "dictionary as UTF-8"
        ) from None


def read_dictionary(path: Path) -> list[DictionaryRow]:
    """Read a dictionary CSV (either header style) into rows keyed by API column name.

    Raises
    ------
    InputError
        For a file that is not UTF-8, a header that is neither style, or no field rows.
    """
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    header = [h.strip() for h in next(reader, [])]
    if tuple(header[:18]) == UI_COLUMNS or tuple(header[:18]) == API_COLUMNS:
        pass
    else:
        raise InputError(
            f"{path}: line 1: not a REDCap data dictionary header (expected the 18 columns "
            f"'{UI_COLUMNS[0]}', ... or '{API_COLUMNS[0]}', ...; got {header[:3]}...)"
        )
    rows = []
    for raw in reader:
        if not any(cell.strip() for cell in raw):
            continue
        values = {col: (raw[i] if i < len(raw) else "") for i, col in enumerate(API_COLUMNS)}
        rows.append(DictionaryRow(reader.line_num, values))
    if not rows:
        raise InputError(f"{path}: the dictionary has no field rows")
    return rows


def _parse_choices(text: str, where: str) -> tuple[Choice, ...]:
    choices = []
    for part in text.split("|"):
        code, sep, label = part.strip().partition(",")
        if not sep or not code.strip():
            raise InputError(f"{where}: choice {part.strip()!r} is not 'code, label'")
        choices.append(Choice(code=code.strip(), label=label.strip()))
    return tuple(choices)


def _number(text: str, where: str, column: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise InputError(f"{where}: {column} {text!r} is not a number") from None


def _type_of(row: DictionaryRow, where: str) -> FieldType:
    field_type, validation = row["field_type"].strip(), row[API_COLUMNS[7]].strip()
    if field_type in _REFUSED:
        raise InputError(
            f"{where}: field type '{field_type}' ({_REFUSED[field_type]}) cannot be represented "
            "in clestudy; remove the field from the dictionary to import the rest"
        )
    simple: dict[str, FieldType] = {
        "notes": "text", "dropdown": "single_choice", "radio": "single_choice",
        "checkbox": "multiple_choice", "yesno": "boolean", "truefalse": "boolean",
        "calc": "decimal", "slider": "integer",
    }  # fmt: skip
    if field_type in simple:
        return simple[field_type]
    if field_type != "text":
        raise InputError(f"{where}: unknown field type '{field_type}'")
    if validation == "" or validation in _TEXT_VALIDATIONS:
        return "text"
    if validation == "integer":
        return "integer"
    if validation in _DECIMAL_VALIDATIONS or validation in _COMMA_VALIDATIONS:
        return "decimal"
    if validation in _DATE_VALIDATIONS:
        return "date"
    raise InputError(f"{where}: text validation type '{validation}' is not supported")


def field_from_row(row: DictionaryRow, where: str) -> FieldSpec:
    """The protocol field of one dictionary row.

    Raises
    ------
    InputError
        Naming the row (``where``), the field and the type or value that cannot be mapped.
    """
    where = f"{where}: field '{row['field_name']}'"
    kind = _type_of(row, where)
    field_type = row["field_type"].strip()
    choices_text = row["select_choices_or_calculations"]
    lo = hi = None
    if kind in ("integer", "decimal") and field_type != "calc":
        lo = _number(row["text_validation_min"], where, "text validation min")
        hi = _number(row["text_validation_max"], where, "text validation max")
    if field_type == "slider":
        lo = 0 if lo is None else lo
        hi = 100 if hi is None else hi
    annotations = {
        col: value
        for col, value in row.values.items()
        if value and col not in _MAPPED
        and not (field_type == "calc" and col == "select_choices_or_calculations")
    }  # fmt: skip
    try:
        return FieldSpec(
            id=row["field_name"].strip(),
            label=row["field_label"],
            type=kind,
            min=lo,
            max=hi,
            required=row["required_field"].strip().lower() == "y",
            choices=_parse_choices(choices_text, where) if "choice" in kind else (),
            help=row["field_note"] or None,
            identifier=row["identifier"].strip().lower() == "y",
            calculation=choices_text if field_type == "calc" else None,
            branching_logic=row["branching_logic"] or None,
            annotations=annotations,
        )
    except ValidationError as exc:
        problem = "; ".join(e["msg"] for e in exc.errors())
        raise InputError(f"{where}: {problem}") from None


def _fmt_bound(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _native_row(spec: FieldSpec) -> dict[str, str]:
    """Type and validation of a field that did not come from REDCap."""
    native = {
        "integer": ("text", "integer"), "decimal": ("text", "number"),
        "date": ("text", "date_ymd"), "text": ("text", ""), "boolean": ("yesno", ""),
        "single_choice": ("radio", ""), "multiple_choice": ("checkbox", ""),
    }  # fmt: skip
    field_type, validation = native[spec.type]
    return {"field_type": field_type, API_COLUMNS[7]: validation}


def _native_branching(spec: FieldSpec) -> str:
    """A native field's show-if as REDCap branching logic ("" when there is none or REDCap
    cannot say it)."""
    if spec.show_if is None:
        return ""
    return branching_from_show_if(spec.show_if) or ""


def _field_row(spec: FieldSpec, form_id: str) -> dict[str, str]:
    row = {col: "" for col in API_COLUMNS}
    row.update(_native_row(spec))
    row.update(
        field_name=spec.id,
        form_name=form_id,
        field_label=spec.label,
        field_note=spec.help or "",
        identifier="y" if spec.identifier else "",
        branching_logic=spec.branching_logic or _native_branching(spec),
        required_field="y" if spec.required else "",
        text_validation_min=_fmt_bound(spec.min),
        text_validation_max=_fmt_bound(spec.max),
    )
    if spec.calculation is not None:
        row.update(field_type="calc", select_choices_or_calculations=spec.calculation)
        row[API_COLUMNS[7]] = ""
    if spec.choices:
        row["select_choices_or_calculations"] = " | ".join(
            f"{c.code}, {c.label}" for c in spec.choices
        )
    if "field_type" in spec.annotations:  # from REDCap: its own columns, exactly as read
        row.update(text_validation_min="", text_validation_max="")
        row[API_COLUMNS[7]] = ""
    row.update(spec.annotations)
    return row


def dictionary_rows(protocol: Protocol) -> list[dict[str, str]]:
    """The protocol as dictionary rows (API column names), record id field first.

    A protocol imported from REDCap comes back as it was read; a native one gets the nearest
    REDCap types (integer -> text/integer, decimal -> text/number, date -> text/date_ymd,
    boolean -> yesno, single choice -> radio, multiple choice -> checkbox).
    """
    first = str(protocol.annotations.get("redcap_record_id_row", ""))
    if first:
        record_row: dict[str, str] = json.loads(first)
    else:
        record_row = {col: "" for col in API_COLUMNS}
        record_row.update(
            field_name="record_id", form_name=protocol.forms[0].id, field_type="text",
            field_label="Record ID",
        )  # fmt: skip
    rows = [record_row]
    for form in protocol.forms:
        rows += [_field_row(spec, form.id) for spec in form.fields]
    return rows


def write_dictionary(protocol: Protocol, path: Path) -> None:
    """Write :func:`dictionary_rows` as a CSV with the UI header (what the Designer uploads)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(UI_COLUMNS)
        for row in dictionary_rows(protocol):
            writer.writerow([row[col] for col in API_COLUMNS])


def record_id_row(row: DictionaryRow) -> str:
    """The first row (the record id field) as JSON text, kept in the protocol's annotations."""
    values: dict[str, Any] = dict(row.values)
    return json.dumps(values, ensure_ascii=False)
