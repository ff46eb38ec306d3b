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

from clestudy.errors import InputError
from clestudy.interop._redcap_cells import (
    COMMA,
    checked_form_values,
    code_columns,
    form_cells,
    form_values,
)
from clestudy.protocol import FieldSpec, FormSpec, MissingCode, StoredValue
from clestudy.protocol._missing_codes import IMPORTED_KEY, MISSING_KEY

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


@dataclass(slots=True)
class RowValues:
    """The values one CSV row holds for one form (only forms with something in them).

    Not frozen (never changed once made, all the same): a frozen dataclass sets each field
    through ``object.__setattr__``, which made it twice as costly, and an import makes one per
    record.
    """

    form: FormSpec
    values: dict[str, object]
    status: str
    instance: int = 1
    errors: list[str] = field(default_factory=list)
    #: the values as :func:`~clestudy.protocol.check_values` returns them (no problem), found as
    #: the cells were read (``values`` is then this same map: what the check would return for
    #: it); ``None``: check ``values`` (see :func:`row_values`)
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


def form_columns(form: FormSpec, codes: Sequence[str] = ()) -> list[str]:
    """The CSV columns of a form: fields (checkboxes expanded, with one column per missing-data
    code), then ``FORM_complete``."""
    columns: list[str] = []
    for spec in form.fields:
        if spec.type == "multiple_choice":
            columns += [f"{spec.id}___{c.code.lower()}" for c in spec.choices]
            columns += list(code_columns(spec, codes))
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


def row_values(
    forms: Iterable[FormSpec], row: dict[str, str], where: str, codes: Sequence[str] = ()
) -> list[RowValues]:
    """The forms a row holds data for (any value or missing-data code, or a status of 1 or 2),
    with their values (codes in ``_missing``, the status in ``_imported``).

    The values are checked as they are read
    (:func:`~clestudy.interop._redcap_cells.checked_form_values`): a record with no problem and
    no missing-data code comes with ``checked``, the values
    :func:`~clestudy.protocol.check_values` would return.
    """
    found = []
    for form in forms:
        cells = form_cells(form)
        checked: dict[str, StoredValue] | None = None
        if QUICK_CHECK:
            values, coded, errors, checked = checked_form_values(cells, row, where, codes)
        else:
            values, coded, errors = form_values(cells, row, where, codes)
        status = row.get(cells.status_column, "").strip()
        if status not in ("", "0", "1", "2"):
            if checked is not None:  # the record is checked as a whole: its values as read
                values, coded, errors = form_values(cells, row, where, codes)
                checked = None
            errors.append(f"{where}: column '{cells.status_column}': {status!r} is not 0, 1 or 2")
        if values or coded or errors or status in ("1", "2"):
            if coded:
                values[MISSING_KEY] = coded
            if status:
                values[IMPORTED_KEY] = {STATUS_MARK: status}  # checked's too: the same map
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
        cells.update({col: str(int(c == code)) for col, c in code_columns(spec, codes).items()})
        return cells
    if code is not None:
        return {spec.id: code}
    if value is None:
        return {spec.id: ""}
    if isinstance(value, bool):
        return {spec.id: "1" if value else "0"}
    text = str(value)
    if spec.type == "decimal" and COMMA in spec.annotations.get(
        "text_validation_type_or_show_slider_number", ""
    ):
        text = text.replace(".", ",")
    return {spec.id: text}
