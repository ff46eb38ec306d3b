"""REDCap records (flat CSV, raw values) to clestudy record values and back.

A flat export has one row per record (classic project), per record and event (longitudinal:
``redcap_event_name``), and one more per instance of a repeating instrument
(``redcap_repeat_instrument`` and ``redcap_repeat_instance``); ``redcap_data_access_group`` names
the record's data access group (a clestudy site). A checkbox field ``f`` is one column per choice,
``f___code`` (code lower-cased), holding 1 or 0; ``FORM_complete`` is the form's status (0
incomplete, 1 unverified, 2 complete). Values are raw codes, dates Y-M-D.

Missing-data codes (:mod:`clestudy.protocol._missing_codes`): a project's declared code in a
field's cell (``UNK`` in a number field), or a ticked ``f___code`` column of a checkbox (one more
column per code), is read into the record's ``_missing`` map, never as a value, and written back
in the same cell. ``FORM_complete`` is kept as the record's imported mark
``_imported["redcap_complete"]`` and written back unchanged; a record without one (created in
clestudy) is written 0 when ``incomplete``, else 2.

References
----------
REDCap record export format: docs/references.md [REDCap records] (REDCapR test projects,
PyCap docstrings).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clestudy.errors import InputError, RecordValidationError
from clestudy.protocol import FIELD_TYPES, FieldSpec, FormSpec, MissingCode, StoredValue
from clestudy.protocol._missing_codes import IMPORTED_KEY, MISSING_KEY
from clestudy.protocol._model import IdentityCache
from clestudy.protocol._records import MEMO_SIZE

__all__ = [
    "EVENT",
    "SPECIAL_COLUMNS",
    "RecordsFile",
    "RowValues",
    "export_value",
    "form_columns",
    "parse_missing_codes",
    "read_records",
    "row_values",
]

EVENT = "redcap_event_name"
REPEAT_FORM = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"
DAG = "redcap_data_access_group"
SPECIAL_COLUMNS = (EVENT, REPEAT_FORM, REPEAT_INSTANCE, DAG)
_SURVEY = re.compile(r"^(redcap_survey_identifier|.+_timestamp)$")
_COMMA = "comma_decimal"
#: The imported mark that keeps REDCap's form status (0, 1, 2) on a record.
STATUS_MARK = "redcap_complete"
#: Whether :func:`row_values` checks the values it can as it reads them (tests turn it off to
#: compare with the record check).
QUICK_CHECK = True


@dataclass(frozen=True)
class RecordsFile:
    """The rows of a records CSV (each with its line number) and its columns."""

    path: Path
    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]

    @property
    def longitudinal(self) -> bool:
        """Whether the project has events (a ``redcap_event_name`` column)."""
        return EVENT in self.columns

    @property
    def has_dags(self) -> bool:
        """Whether the export carries data access groups."""
        return DAG in self.columns


@dataclass(frozen=True)
class RowValues:
    """The values one CSV row holds for one form (only forms with something in them)."""

    form: FormSpec
    values: dict[str, object]
    status: str
    instance: int = 1
    errors: list[str] = field(default_factory=list)
    #: ``values`` as :func:`~clestudy.protocol.check_values` returns them (no problem), found as
    #: the cells were read; ``None``: check ``values`` (see :func:`row_values`)
    checked: dict[str, StoredValue] | None = None


def read_records(path: Path) -> RecordsFile:
    """Read a flat records CSV (UTF-8, an optional byte-order mark).

    Raises
    ------
    InputError
        For a file that is not UTF-8, or a row longer than the header. An empty file is a project
    with no records.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 ({exc.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(h.strip() for h in next(reader, []))
    if not any(header):  # an empty export: a project with no records yet
        return RecordsFile(path, (), ())
    rows = []
    for raw in reader:
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) > len(header):
            raise InputError(
                f"{path}: line {reader.line_num}: {len(raw)} cells but the header has {len(header)}"
            )
        rows.append((reader.line_num, dict(zip(header, raw, strict=False))))
    return RecordsFile(path, header, tuple(rows))


def parse_missing_codes(text: str, where: str = "--missing-codes") -> tuple[MissingCode, ...]:
    """A project's missing-data codes in REDCap's own syntax, ``UNK, Unknown | NASK, Not asked``.

    >>> [c.code for c in parse_missing_codes("UNK, Unknown | -999, Not done")]
    ['UNK', '-999']

    Raises
    ------
    InputError
        For a part that is not ``code, label`` or a code REDCap would not accept.
    """
    codes = []
    for part in text.split("|"):
        code, sep, label = part.strip().partition(",")
        try:
            if not sep:
                raise ValueError
            codes.append(MissingCode(code=code.strip(), label=label.strip()))
        except ValueError:
            raise InputError(
                f"{where}: {part.strip()!r} is not 'code, label' with a code of letters, digits, "
                "'.', '-' or '_'"
            ) from None
    if len({c.code for c in codes}) != len(codes):
        raise InputError(f"{where}: a missing-data code is given twice in {text!r}")
    return tuple(codes)


def _code_columns(spec: FieldSpec, codes: Sequence[str]) -> dict[str, str]:
    """A checkbox's extra ``f___code`` columns, one per missing-data code, to the code."""
    taken = {c.code.lower() for c in spec.choices}
    return {f"{spec.id}___{c.lower()}": c for c in codes if c.lower() not in taken}


def form_columns(form: FormSpec, codes: Sequence[str] = ()) -> list[str]:
    """The CSV columns of a form: fields (checkboxes expanded, with one column per missing-data
    code), then ``FORM_complete``."""
    columns: list[str] = []
    for spec in form.fields:
        if spec.type == "multiple_choice":
            columns += [f"{spec.id}___{c.code.lower()}" for c in spec.choices]
            columns += list(_code_columns(spec, codes))
        else:
            columns.append(spec.id)
    return [*columns, f"{form.id}_complete"]


def check_columns(
    records: RecordsFile, record_id: str, forms: Sequence[FormSpec], form_ids: Iterable[str],
    codes: Sequence[str] = (),
) -> list[str]:  # fmt: skip
    """Every problem with the header: survey columns, unknown columns, a missing record id."""
    known = {record_id, *SPECIAL_COLUMNS, *(c for f in forms for c in form_columns(f, codes))}
    known |= {f"{form_id}_complete" for form_id in form_ids}
    errors: list[str] = []
    if not records.columns:
        return errors
    checkboxes = {s.id for f in forms for s in f.fields if s.type == "multiple_choice"}
    if records.columns[0] != record_id:
        errors.append(
            f"{records.path}: line 1: the first column is '{records.columns[0]}', expected the "
            f"record id field '{record_id}'"
        )
    for column in records.columns:
        if _SURVEY.match(column) and column not in known:
            errors.append(
                f"{records.path}: line 1: column '{column}': REDCap surveys (survey identifiers "
                "and timestamps) cannot be represented in clestudy; export without survey fields"
            )
        elif column not in known:
            base, sep, _ = column.rpartition("___")
            hint = (
                " (a checkbox's missing-data code? give the project's codes: --missing-codes)"
                if sep and base in checkboxes
                else ""
            )
            errors.append(
                f"{records.path}: line 1: column '{column}' is not in the dictionary{hint}"
            )
    return errors


def _code_of(spec: FieldSpec, raw: str, row: dict[str, str], codes: Sequence[str],
             where: str) -> tuple[str | None, str]:  # fmt: skip
    """The missing-data code a field's cells hold (``None``: none), and an error or ``""``."""
    if spec.type != "multiple_choice":
        text = raw.strip()
        return (text if text in codes else None), ""
    ticked = [code for column, code in _code_columns(spec, codes).items()
              if row.get(column, "").strip() == "1"]  # fmt: skip
    if len(ticked) > 1:
        return None, f"{where}: field '{spec.id}': several missing-data codes ticked {ticked}"
    return (ticked[0] if ticked else None), ""


#: How a field's cell becomes its input value (:class:`_FormCells`; ``_TEXT`` and ``_STRIPPED``
#: first: :func:`row_values` reads them without a call).
_TEXT, _STRIPPED, _BOOLEAN, _COMMA_DECIMAL, _CHECKBOXES = range(5)


def _mode(spec: FieldSpec) -> int:
    if spec.type == "multiple_choice":
        return _CHECKBOXES
    if spec.type == "boolean":
        return _BOOLEAN
    if spec.type == "decimal" and _COMMA in spec.annotations.get(
        "text_validation_type_or_show_slider_number", ""
    ):
        return _COMMA_DECIMAL
    return _TEXT if spec.type == "text" else _STRIPPED


#: A form's fields as :func:`row_values` checks them as it reads them: id, how the cell converts,
#: whether it is required, the memo (cell text -> input value and stored value), the field and
#: a checkbox's columns.
_CheckedPlan = tuple[
    tuple[str, int, bool, dict[str, tuple[object, StoredValue]], FieldSpec,
          tuple[tuple[str, str], ...]], ...
]  # fmt: skip


@dataclass(frozen=True)
class _FormCells:
    """A form's cells as :func:`row_values` reads them, made once per form object: each field
    with how its cell converts (and a checkbox's columns), and the status column.

    ``checked`` is set for a form whose records :func:`row_values` checks as it reads them: no
    show-if, so that a record's check is each value's parse and its required fields
    (:func:`~clestudy.protocol.check_values`). Each field's memo maps a cell's text to its input
    value and stored value (bounded: past ``MEMO_SIZE``, parsed each time); a cell whose parse
    fails, and a checkbox's list, are not remembered.
    """

    fields: tuple[tuple[FieldSpec, int, tuple[tuple[str, str], ...]], ...]
    status_column: str
    #: a form checked as it is read (:data:`_CheckedPlan`); else ``None``
    checked: _CheckedPlan | None

    @classmethod
    def of(cls, form: FormSpec) -> _FormCells:
        fields = tuple(
            (
                spec,
                _mode(spec),
                tuple((f"{spec.id}___{c.code.lower()}", c.code) for c in spec.choices),
            )
            for spec in form.fields
        )
        checked: _CheckedPlan | None = tuple(
            (s.id, m, s.required, _memo(s), s, columns) for s, m, columns in fields
        )
        if any(s.show_if is not None for s, _, _ in fields):
            checked = None
        return cls(fields, f"{form.id}_complete", checked)


_FORM_CELLS: IdentityCache[FormSpec, _FormCells] = IdentityCache(_FormCells.of, 1024)

#: The memos of :class:`_FormCells`, one per field definition but its id and label: fields that
#: differ only in those read a cell alike (a parse reads the id only to name the field in a
#: problem, and problems are not remembered), so that a project's 0-10 scales or yes/no fields
#: share one. Bounded: when full, emptied (a form's plan keeps its own memos).
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


def _form_values(cells: _FormCells, row: dict[str, str], where: str, codes: Sequence[str]
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


def _checked_form_values(plan: _CheckedPlan, row: dict[str, str], where: str
                         ) -> tuple[dict[str, object], list[str], dict[str, StoredValue] | None]:  # fmt: skip
    """:func:`_form_values` of a form without show-if or missing-data codes, and the stored
    values ``check_values`` would give (``None`` at a cell error, a value that does not parse, or
    a required field left blank: the record is checked as a whole, to name them)."""
    values: dict[str, object] = {}
    errors: list[str] = []
    checked: dict[str, StoredValue] | None = {}
    for name, mode, required, memo, spec, columns in plan:
        raw = row.get(name, "")
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
    return values, errors, checked


def _stored(spec: FieldSpec, value: object, memo: dict[str, tuple[object, StoredValue]],
            raw: str) -> StoredValue | None:  # fmt: skip
    """``value`` parsed as the record check parses it (``None``: it does not parse), remembered
    with it under its cell's text ``raw``."""
    try:
        stored = FIELD_TYPES[spec.type].parse(spec, value, "")
    except RecordValidationError:
        return None
    if type(stored) in (str, int, bool) and len(memo) < MEMO_SIZE:
        memo[raw] = (value, stored)
    return stored


def row_values(
    forms: Iterable[FormSpec], row: dict[str, str], where: str, codes: Sequence[str] = ()
) -> list[RowValues]:
    """The forms a row holds data for (any value or missing-data code, or a status of 1 or 2),
    with their values (codes in ``_missing``, the status in ``_imported``).

    Without missing-data codes, a form with no show-if has its values checked
    as they are read (each cell's text parsed once per field, :class:`_FormCells`): a record
    whose every value parses and whose required fields are filled comes with ``checked``, the
    values :func:`~clestudy.protocol.check_values` would return.
    """
    found = []
    for form in forms:
        cells = _FORM_CELLS.get(form)
        checked: dict[str, StoredValue] | None = None
        coded: dict[str, str] = {}
        if cells.checked is not None and not codes and QUICK_CHECK:
            values, errors, checked = _checked_form_values(cells.checked, row, where)
        else:
            values, coded, errors = _form_values(cells, row, where, codes)
        status = row.get(cells.status_column, "").strip()
        if status not in ("", "0", "1", "2"):
            errors.append(f"{where}: column '{cells.status_column}': {status!r} is not 0, 1 or 2")
            checked = None
        if values or coded or errors or status in ("1", "2"):
            if coded:
                values[MISSING_KEY] = coded
            if status:
                values[IMPORTED_KEY] = {STATUS_MARK: status}
                if checked is not None:
                    checked[IMPORTED_KEY] = {STATUS_MARK: status}
            found.append(RowValues(form, values, status, errors=errors, checked=checked))
    return found


def export_value(
    spec: FieldSpec, value: StoredValue | None, code: str | None = None, codes: Sequence[str] = ()
) -> dict[str, str]:
    """The CSV cells of one stored value or missing-data ``code`` (checkboxes give one cell per
    choice and per code in ``codes``, 0 or 1)."""
    if spec.type == "multiple_choice":
        chosen = value if isinstance(value, list) else []
        cells = {f"{spec.id}___{c.code.lower()}": str(int(c.code in chosen)) for c in spec.choices}
        cells.update({col: str(int(c == code)) for col, c in _code_columns(spec, codes).items()})
        return cells
    if code is not None:
        return {spec.id: code}
    if value is None:
        return {spec.id: ""}
    if isinstance(value, bool):
        return {spec.id: "1" if value else "0"}
    text = str(value)
    if spec.type == "decimal" and _COMMA in spec.annotations.get(
        "text_validation_type_or_show_slider_number", ""
    ):
        text = text.replace(".", ",")
    return {spec.id: text}
