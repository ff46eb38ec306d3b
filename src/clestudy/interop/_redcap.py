"""REDCap import (dictionary + records, through the store) and export (dictionary + import file).

Import
    :func:`import_redcap` reads the project (:mod:`clestudy.interop._redcap_project`), refuses
    it whole when anything in it is invalid (every problem named by file, line and field), and
    compares it with the database: a new study is registered; an existing one must have the same
    protocol. Each record is a *create*, an *update* (values differ) or *unchanged*; a dry run
    stops there and writes nothing. Otherwise new subjects are enrolled and every create and
    update is saved in one transaction (:func:`clestudy.store.save_import`, the semantics of
    :meth:`~clestudy.store.Store.save_records`), every event's audit reason naming the source
    files and their SHA-256. Importing the same files again changes nothing.

Export
    :func:`export_redcap` writes ``dictionary.csv`` (UI header) and ``records.csv`` (a flat,
    raw-value import file: ``record_id``, ``redcap_event_name`` in longitudinal projects,
    ``redcap_repeat_instrument`` / ``redcap_repeat_instance`` when a form repeats,
    ``redcap_data_access_group`` when the project had groups, then each form's columns and
    ``FORM_complete``), plus ``manifest.json``; and, when the study has missing-data codes,
    ``missing_data_codes.txt``, the codes in REDCap's syntax for the project's setting.

Missing-data codes (a project setting, in neither file) come from ``missing_codes`` (the import
command's ``--missing-codes``), else from the study already in the database; a cell holding one
is kept as a code (``_missing``), not a value, and exported back in its cell.

Form status: REDCap's ``FORM_complete`` (0 incomplete, 1 unverified, 2 complete) is a mark the
data-entry person sets by hand; it is kept as the record's imported mark
(``_imported["redcap_complete"]``) and exported back unchanged, never read as clestudy's status
(which the store derives: REDCap's 2 is not a monitor's verification). A record with no mark
(entered in clestudy) is exported 0 when ``incomplete``, else 2.

Surveys, file uploads, descriptive and SQL fields, and repeating events are refused with a
message naming the construct.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from clestudy.errors import InputError
from clestudy.interop._import_plan import ImportPlan, existing_store, first_difference, plan_records
from clestudy.interop._manifest import file_sha256, staged_output, write_manifest
from clestudy.interop._redcap_dictionary import dictionary_rows, write_dictionary
from clestudy.interop._redcap_project import NO_SITE, read_project, study_id_for
from clestudy.interop._redcap_records import (
    DAG,
    EVENT,
    REPEAT_FORM,
    REPEAT_INSTANCE,
    STATUS_MARK,
    export_value,
    form_columns,
)
from clestudy.protocol import MissingCode, Protocol
from clestudy.protocol._missing_codes import IMPORTED_KEY, coded_fields
from clestudy.store import (
    RecordState,
    Store,
    SubjectInput,
    building_new_database,
    collection_paused,
    open_store,
    save_import,
)

__all__ = ["ImportPlan", "export_redcap", "import_redcap"]


@collection_paused()  # the file's rows, checked values and plan live until the commit too
def import_redcap(
    url: str,
    dictionary: Path,
    records: Path | None = None,
    *,
    study: str | None = None,
    dry_run: bool = False,
    actor: str,
    missing_codes: tuple[MissingCode, ...] | None = None,
) -> ImportPlan:
    """Import a REDCap project into the database at ``url`` (see the module docstring).

    ``missing_codes``: the project's missing-data codes; ``None`` takes those of the study of the
    same id already in the database (none for a new study).

    Raises
    ------
    InputError
        For an invalid dictionary or records file (every problem, nothing written), or a project
        that does not match the study already in the database.
    """
    for path in (dictionary, records):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    store = existing_store(url, study or study_id_for(dictionary))
    try:
        if missing_codes is None:  # a project setting: the study's, when it is already stored
            missing_codes = store.protocol.missing_codes if store is not None else ()
        project = read_project(dictionary, records, study, missing_codes)
        sources = [p for p in (dictionary, records) if p is not None]
        reason = "REDCap import: " + ", ".join(
            f"{p.name} (sha256 {file_sha256(p)})" for p in sources
        )
        plan = ImportPlan(project.protocol.id, store is None, dry_run=dry_run, reason=reason)
        plan.flagged = list(project.flagged)
        if store is not None and store.protocol != project.protocol:
            raise InputError(
                f"{dictionary}: the project does not match study '{store.protocol.id}' in the "
                f"database (first difference: {first_difference(store.protocol, project.protocol)})"
            )
        batch = plan_records(project.protocol, project.subjects, project.records, store, plan)
    finally:
        if store is not None:
            store.close()
    if dry_run:
        return plan
    new = set(plan.new_subjects)
    subjects = [SubjectInput(s.subject_id, s.arm, s.site) for s in project.subjects
                if s.subject_id in new]  # fmt: skip
    # a new SQLite file is built aside and appears whole, or not at all
    with building_new_database(url) as into, open_store(into, project.protocol,
                                                        actor=actor) as target:  # fmt: skip
        save_import(target, subjects=subjects, records=batch, actor=actor, reason=reason,
                    states=False)  # fmt: skip
    return plan


def _status_code(record: RecordState | None) -> str:
    """REDCap's form status: the imported mark, else 0 for ``incomplete`` and 2 otherwise."""
    if record is None:
        return "0"
    marks = record.values.get(IMPORTED_KEY)
    if isinstance(marks, dict) and marks.get(STATUS_MARK) in ("0", "1", "2"):
        return str(marks[STATUS_MARK])
    return "0" if record.status == "incomplete" else "2"


def _cells(form_id: str, store: Store, record: RecordState | None) -> dict[str, str]:
    form = store.protocol.form(form_id)
    assert form is not None
    codes = [c.code for c in store.protocol.missing_codes]
    coded = coded_fields(record.values) if record else {}
    cells: dict[str, str] = {}
    for spec in form.fields:
        value = record.values.get(spec.id) if record else None
        cells.update(export_value(spec, value, coded.get(spec.id), codes))
    cells[f"{form.id}_complete"] = _status_code(record)
    return cells


def _longitudinal(protocol: Protocol) -> bool:
    """A project imported from REDCap keeps its kind; a native one has events if it has visits."""
    kept = protocol.annotations.get("redcap_longitudinal")
    return kept == "true" if kept is not None else len(protocol.visits) > 1


def _visit_rows(
    store: Store, base: dict[str, str], visit_forms: Sequence[str], here: list[RecordState]
) -> list[dict[str, str]]:
    """A subject's rows at one visit: one for the non-repeating forms, one per repeat."""
    repeating = {f.id for f in store.protocol.forms if f.repeating}
    rows = []
    if any(r.form_id not in repeating for r in here):
        row = dict(base)
        for form_id in visit_forms:
            if form_id not in repeating:
                record = next((r for r in here if r.form_id == form_id), None)
                row.update(_cells(form_id, store, record))
        rows.append(row)
    for record in sorted(here, key=lambda r: (r.form_id, r.instance)):
        if record.form_id in repeating:
            repeat = dict(
                base, **{REPEAT_FORM: record.form_id, REPEAT_INSTANCE: str(record.instance)}
            )
            repeat.update(_cells(record.form_id, store, record))
            rows.append(repeat)
    return rows


def _record_rows(store: Store, header: Sequence[str]) -> list[dict[str, str]]:
    protocol = store.protocol
    longitudinal = _longitudinal(protocol)
    by_subject: dict[str, list[RecordState]] = {}
    for record in store.records():
        by_subject.setdefault(record.subject_id, []).append(record)
    rows = []
    for subject in store.subjects():
        mine = by_subject.get(subject.subject_id, [])
        base = {c: "" for c in header}
        base[header[0]] = subject.subject_id
        if DAG in header:
            base[DAG] = "" if subject.site == NO_SITE else subject.site
        for visit in protocol.visits:
            here = [r for r in mine if r.visit_id == visit.id]
            if longitudinal:
                base[EVENT] = visit.id
            rows += _visit_rows(store, base, visit.forms, here)
    return rows


def export_redcap(store: Store, out_dir: Path) -> tuple[Path, ...]:
    """Write ``dictionary.csv``, ``records.csv`` and ``manifest.json`` into ``out_dir``."""
    protocol = store.protocol
    record_id = dictionary_rows(protocol)[0]["field_name"]
    header = [record_id]
    if _longitudinal(protocol):
        header.append(EVENT)
    if any(f.repeating for f in protocol.forms):
        header += [REPEAT_FORM, REPEAT_INSTANCE]
    if protocol.annotations.get("redcap_dags", "true") == "true":
        header.append(DAG)
    codes = [c.code for c in protocol.missing_codes]
    for form in protocol.forms:
        header += form_columns(form, codes)
    names = ["dictionary.csv", "records.csv"]
    with staged_output(out_dir) as scratch:
        write_dictionary(protocol, scratch / "dictionary.csv")
        with (scratch / "records.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(_record_rows(store, header))
        if protocol.missing_codes:
            names.append("missing_data_codes.txt")
            text = " | ".join(f"{c.code}, {c.label}" for c in protocol.missing_codes)
            (scratch / names[-1]).write_text(text + "\n", encoding="utf-8")
        files = [scratch / name for name in names]
        write_manifest(scratch, store, export_format="redcap", files=files)
    return (*(out_dir / name for name in names), out_dir / "manifest.json")
