"""One form's cells in a REDCap records row: converted to input values, and checked as read.

A field's cell becomes its input value by the field's *mode*: text as it is (``text``), stripped
(numbers, dates, radio codes), ``0``/``1`` to a boolean (``yesno``), a decimal comma to a point
(REDCap's ``*_comma_decimal`` validations), or a checkbox's ``f___code`` columns to the list of
codes ticked. With the project's missing-data codes, a cell (or a ticked code column) holding one
is read as the field's code instead (:func:`form_values`).

Checked as read
    :func:`checked_form_values` also gives the values that
    :func:`~clestudy.protocol.check_values` would return for the record, so that the import does
    not check it again: each cell's text is parsed once per field definition (a memo shared by
    the fields that differ only in id and label: a project's scales and yes/no fields), a
    required field must be filled unless its show-if hides it, and a field that its show-if
    hides must be blank. A record with any problem, or holding a missing-data code, is not
    checked here (``None``): the record check names every problem by file, line and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clestudy.errors import RecordValidationError
from clestudy.protocol import FIELD_TYPES, FieldSpec, FormSpec, StoredValue, hidden_fields
from clestudy.protocol._model import IdentityCache
from clestudy.protocol._records import MEMO_SIZE

__all__ = [
    "COMMA",
    "FormCells",
    "checked_form_values",
    "code_columns",
    "form_cells",
    "form_values",
]

#: REDCap's decimal-comma validations (``number_1dp_comma_decimal``, ...) contain this.
COMMA = "comma_decimal"

#: How a field's cell becomes its input value (``_TEXT`` and ``_STRIPPED`` first: they are read
#: without a call).
_TEXT, _STRIPPED, _BOOLEAN, _COMMA_DECIMAL, _CHECKBOXES = range(5)


def code_columns(spec: FieldSpec, codes: Sequence[str]) -> dict[str, str]:
    """A checkbox's extra ``f___code`` columns, one per missing-data code, to the code."""
    taken = {c.code.lower() for c in spec.choices}
    return {f"{spec.id}___{c.lower()}": c for c in codes if c.lower() not in taken}


def _code_of(spec: FieldSpec, raw: str, row: dict[str, str], codes: Sequence[str],
             where: str) -> tuple[str | None, str]:  # fmt: skip
    """The missing-data code a field's cells hold (``None``: none), and an error or ``""``."""
    if spec.type != "multiple_choice":
        text = raw.strip()
        return (text if text in codes else None), ""
    ticked = [code for column, code in code_columns(spec, codes).items()
              if row.get(column, "").strip() == "1"]  # fmt: skip
    if len(ticked) > 1:
        return None, f"{where}: field '{spec.id}': several missing-data codes ticked {ticked}"
    return (ticked[0] if ticked else None), ""


def _mode(spec: FieldSpec) -> int:
    if spec.type == "multiple_choice":
        return _CHECKBOXES
    if spec.type == "boolean":
        return _BOOLEAN
    if spec.type == "decimal" and COMMA in spec.annotations.get(
        "text_validation_type_or_show_slider_number", ""
    ):
        return _COMMA_DECIMAL
    return _TEXT if spec.type == "text" else _STRIPPED


#: A field as :func:`checked_form_values` reads it: id, mode, whether a blank cell is a problem
#: (required, and no show-if that could hide it), the memo (cell text -> input value and stored
#: value), the field and a checkbox's columns.
_Checked = tuple[
    str, int, bool, dict[str, tuple[object, StoredValue]], FieldSpec, tuple[tuple[str, str], ...]
]


@dataclass(frozen=True)
class FormCells:
    """A form's cells as a row is read, made once per form object (:func:`form_cells`)."""

    form: FormSpec
    #: each field with its mode and a checkbox's columns
    fields: tuple[tuple[FieldSpec, int, tuple[tuple[str, str], ...]], ...]
    status_column: str
    #: each field as :func:`checked_form_values` reads it
    checked: tuple[_Checked, ...]
    #: whether a show-if may hide a field; and the required fields with a show-if
    shows: bool
    required_if_shown: tuple[str, ...]

    @classmethod
    def of(cls, form: FormSpec) -> FormCells:
        fields = tuple(
            (
                spec,
                _mode(spec),
                tuple((f"{spec.id}___{c.code.lower()}", c.code) for c in spec.choices),
            )
            for spec in form.fields
        )
        checked = tuple(
            (s.id, m, s.required and s.show_if is None, _memo(s), s, columns)
            for s, m, columns in fields
        )
        return cls(
            form, fields, f"{form.id}_complete", checked,
            any(s.show_if is not None for s in form.fields),
            tuple(s.id for s in form.fields if s.required and s.show_if is not None),
        )  # fmt: skip


form_cells = IdentityCache(FormCells.of, 1024).get

#: The memos of :class:`FormCells`, one per field definition but its id and label: fields that
#: differ only in those read a cell alike (a parse reads the id only to name the field in a
#: problem, and problems are not remembered). Bounded: when full, emptied (a form's cells keep
#: their own memos).
_MEMOS: dict[str, dict[str, tuple[object, StoredValue]]] = {}


def _memo(spec: FieldSpec) -> dict[str, tuple[object, StoredValue]]:
    key = spec.model_dump_json(exclude={"id", "label"})
    memo = _MEMOS.get(key)
    if memo is None:
        if len(_MEMOS) >= 256:
            _MEMOS.clear()
        memo = _MEMOS[key] = {}
    return memo


def _convert(
    spec: FieldSpec, mode: int, columns: tuple[tuple[str, str], ...], raw: str,
    row: dict[str, str], where: str,
) -> tuple[object, str]:  # fmt: skip
    """The input value of one field (``None`` when blank) and an error message or ``""``."""
    if mode == _CHECKBOXES:
        chosen = []
        for column, code in columns:
            cell = row.get(column, "").strip()
            if cell not in ("", "0", "1"):
                return None, f"{where}: column '{column}': {cell!r} is not 0 or 1"
            if cell == "1":
                chosen.append(code)
        return (chosen or None), ""
    text = raw.strip()
    if text == "":
        return None, ""
    if mode == _STRIPPED:
        return text, ""
    if mode == _TEXT:
        return raw, ""
    if mode == _BOOLEAN:
        if text not in ("0", "1"):
            return None, f"{where}: field '{spec.id}': {raw!r} is not 0 or 1"
        return text == "1", ""
    return text.replace(",", "."), ""  # _COMMA_DECIMAL


def form_values(cells: FormCells, row: dict[str, str], where: str, codes: Sequence[str]
                ) -> tuple[dict[str, object], dict[str, str], list[str]]:  # fmt: skip
    """A form's input values in a row, its missing-data codes, and the cells' errors."""
    values: dict[str, object] = {}
    coded: dict[str, str] = {}
    errors: list[str] = []
    for spec, mode, columns in cells.fields:
        raw = row.get(spec.id, "")
        if mode <= _STRIPPED and not codes:  # most cells: text as it is, or stripped
            if raw.strip():
                values[spec.id] = raw if mode == _TEXT else raw.strip()
            continue
        code, error = _code_of(spec, raw, row, codes, where) if codes else (None, "")
        if code is not None and mode != _CHECKBOXES:
            coded[spec.id] = code
            continue
        value, error = (None, error) if error else _convert(spec, mode, columns, raw, row,
                                                            where)  # fmt: skip
        if error:
            errors.append(error)
        elif value is not None:
            values[spec.id] = value
        if code is not None:  # a ticked code column (validation refuses a value beside it)
            coded[spec.id] = code
    return values, coded, errors


def checked_form_values(
    cells: FormCells, row: dict[str, str], where: str, codes: Sequence[str]
) -> tuple[dict[str, object], dict[str, str], list[str], dict[str, StoredValue] | None]:
    """:func:`form_values`, and the stored values ``check_values`` would give (``None`` at a
    missing-data code, a cell error, a value that does not parse, a required field left blank or
    a field hidden by its show-if holding a value)."""
    values: dict[str, object] = {}
    errors: list[str] = []
    checked: dict[str, StoredValue] | None = {}
    for name, mode, required, memo, spec, columns in cells.checked:
        raw = row.get(name, "")
        if codes and _code_of(spec, raw, row, codes, where) != (None, ""):
            return (*form_values(cells, row, where, codes), None)  # a code (or codes' error)
        known = memo.get(raw)
        if known is not None:  # a cell read before: its input value and stored value
            values[name] = known[0]
            if checked is not None:
                checked[name] = known[1]
            continue
        if mode <= _STRIPPED:
            value: object = raw if mode == _TEXT else raw.strip()
        else:
            value, error = _convert(spec, mode, columns, raw, row, where)
            if error:
                errors.append(error)
                checked = None
                continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                checked = None
            continue
        values[name] = value
        stored = _stored(spec, value, memo, raw)
        if stored is None:
            checked = None
        elif checked is not None:
            checked[name] = stored
    if checked is not None and cells.shows:
        hidden = hidden_fields(cells.form, values)
        if not hidden.keys().isdisjoint(values) or any(
            name not in values and name not in hidden for name in cells.required_if_shown
        ):
            checked = None
    return values, {}, errors, checked


def _stored(spec: FieldSpec, value: object, memo: dict[str, tuple[object, StoredValue]],
            raw: str) -> StoredValue | None:  # fmt: skip
    """``value`` parsed as the record check parses it (``None``: it does not parse), remembered
    with it under its cell's text ``raw`` (not a checkbox's list: each record has its own)."""
    try:
        stored = FIELD_TYPES[spec.type].parse(spec, value, "")
    except RecordValidationError:
        return None
    if type(stored) in (str, int, bool) and len(memo) < MEMO_SIZE:
        memo[raw] = (value, stored)
    return stored
