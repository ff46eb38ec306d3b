"""REDCap records in EAV form (``type=eav``): one row per data point, read as the flat export.

An EAV export has the columns ``record``, ``field_name`` and ``value``, with
``redcap_event_name`` in a longitudinal project and ``redcap_repeat_instrument`` /
``redcap_repeat_instance`` for repeating instruments. A checkbox is one row per ticked choice,
``field_name`` the field and ``value`` the code (or one of the project's missing-data codes) (a ``field___code`` name with 0 or 1 is read too);
``FORM_complete`` and ``redcap_data_access_group`` come as field names. :func:`flatten_eav`
gathers the rows of each record x event x repeat into one flat row (line number: its first EAV
row), so that everything after it (checks, structure, values, errors) is the flat import's.

References
----------
REDCap record export ``type=eav``: docs/references.md [REDCap records] (PyCap ``record_type``,
REDCapR ``redcap_read_eav_oneshot``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from clestudy.errors import InputError
from clestudy.interop._redcap_records import DAG, SPECIAL_COLUMNS, RecordsFile
from clestudy.protocol import FormSpec

__all__ = ["EAV_COLUMNS", "flatten_eav", "is_eav"]

EAV_COLUMNS = ("record", "field_name", "value")


def is_eav(records: RecordsFile) -> bool:
    """Whether the file is an EAV export (``record``, ``field_name``, ``value`` columns)."""
    return bool(records.columns) and set(EAV_COLUMNS) <= set(records.columns)


def flatten_eav(
    records: RecordsFile, record_id: str, forms: Iterable[FormSpec], codes: Sequence[str] = ()
) -> RecordsFile:
    """The flat rows an EAV export stands for (see the module docstring).

    Raises
    ------
    InputError
        For a column an EAV export does not have, or a checkbox code that is not a choice.
    """
    extra = [c for c in records.columns if c not in (*EAV_COLUMNS, *SPECIAL_COLUMNS)]
    if extra:
        raise InputError(
            f"{records.path}: line 1: column '{extra[0]}' is not a column of a REDCap EAV export "
            f"({', '.join(EAV_COLUMNS)} and {', '.join(SPECIAL_COLUMNS)})"
        )
    checkboxes = {
        spec.id: {c.code.lower() for c in spec.choices} | {c.lower() for c in codes}
        for form in forms
        for spec in form.fields
        if spec.type == "multiple_choice"
    }
    keys = [c for c in records.columns if c in SPECIAL_COLUMNS and c != DAG]
    columns: dict[str, None] = dict.fromkeys([record_id, *keys])
    flat: dict[tuple[str, ...], tuple[int, dict[str, str]]] = {}
    errors: list[str] = []
    for line, row in records.rows:
        key = (row.get("record", "").strip(), *(row.get(k, "").strip() for k in keys))
        _, cells = flat.setdefault(key, (line, dict(zip((record_id, *keys), key, strict=True))))
        name, value = row.get("field_name", "").strip(), row.get("value", "")
        if name in checkboxes:
            code = value.strip().lower()
            if code not in checkboxes[name]:
                errors.append(
                    f"{records.path}: line {line}: field '{name}': {value!r} is not one of its "
                    f"choice codes {sorted(checkboxes[name])}"
                )
                continue
            name, value = f"{name}___{code}", "1"
        columns[name] = None
        cells[name] = value
        if row.get(DAG, "").strip():  # a group given as a column rather than a field name
            columns[DAG] = None
            cells[DAG] = row[DAG]
    if errors:
        head = "" if len(errors) == 1 else f"{len(errors)} problems, nothing imported:\n"
        raise InputError(head + "\n".join(errors))
    return RecordsFile(records.path, tuple(columns), tuple(flat.values()))
