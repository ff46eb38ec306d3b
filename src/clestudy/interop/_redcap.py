"""REDCap import (dictionary + records, through the store) and export (dictionary + import file).

Import
    :func:`import_redcap` reads the project (:mod:`clestudy.interop._redcap_project`), refuses
    it whole when anything in it is invalid (every problem named by file, line and field), and
    compares it with the database: a new study is registered; an existing one must have the same
    protocol. Each record is a *create*, an *update* (values differ) or *unchanged*; a dry run
    stops there and writes nothing. Otherwise new subjects are enrolled and every create and
    update is saved in one :meth:`~clestudy.store.Store.save_records` batch, whose audit reason
    names the source files and their SHA-256. Importing the same files again changes nothing.

Export
    :func:`export_redcap` writes ``dictionary.csv`` (UI header) and ``records.csv`` (a flat,
    raw-value import file: ``record_id``, ``redcap_event_name`` in longitudinal projects,
    ``redcap_repeat_instrument`` / ``redcap_repeat_instance`` when a form repeats,
    ``redcap_data_access_group`` when the project had groups, then each form's columns and
    ``FORM_complete``), plus ``manifest.json``.

Known limits: REDCap's form status (0/1/2) is written from the record status (``incomplete`` is
0, every other status 2); surveys, file uploads, descriptive and SQL fields, and repeating events
are refused with a message naming the construct.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clestudy.errors import InputError, NotFoundError
from clestudy.interop._manifest import file_sha256, staged_output, write_manifest
from clestudy.interop._redcap_dictionary import dictionary_rows, write_dictionary
from clestudy.interop._redcap_project import NO_SITE, RedcapProject, read_project
from clestudy.interop._redcap_records import (
    DAG,
    EVENT,
    REPEAT_FORM,
    REPEAT_INSTANCE,
    export_value,
    form_columns,
)
from clestudy.protocol import Protocol, validate_values
from clestudy.store import RecordInput, RecordState, Store, list_studies, open_store

__all__ = ["ImportPlan", "export_redcap", "import_redcap"]


@dataclass
class ImportPlan:
    """What an import does (or, in a dry run, would do)."""

    study: str
    new_study: bool
    new_subjects: list[str] = field(default_factory=list)
    creates: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dry_run: bool = False
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "study": self.study,
            "new_study": self.new_study,
            "dry_run": self.dry_run,
            "new_subjects": self.new_subjects,
            "creates": self.creates,
            "updates": self.updates,
            "unchanged": self.unchanged,
            "reason": self.reason,
        }


def _key(item: RecordInput | RecordState) -> str:
    suffix = f"#{item.instance}" if item.instance != 1 else ""
    return f"{item.subject_id}/{item.visit_id}/{item.form_id}{suffix}"


def _existing(url: str, study: str) -> Store | None:
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    try:
        studies = list_studies(url)
    except NotFoundError:
        return None
    return open_store(url, study) if study in studies else None


def _first_difference(stored: Protocol, new: Protocol) -> str:
    old, now = stored.model_dump(), new.model_dump()
    for key in ("forms", "visits", "arms", "sites", "annotations", *now):
        if old.get(key) != now[key]:
            return key
    return "?"


def _plan(project: RedcapProject, store: Store | None, plan: ImportPlan) -> list[RecordInput]:
    subjects = {s.subject_id: s for s in store.subjects()} if store else {}
    current = {_key(r): r for r in store.records()} if store else {}
    for subject in project.subjects:
        known = subjects.get(subject.subject_id)
        if known is None:
            plan.new_subjects.append(subject.subject_id)
        elif (known.arm, known.site) != (subject.arm, subject.site):
            raise InputError(
                f"record '{subject.subject_id}': arm/site {subject.arm}/{subject.site} differ "
                f"from the enrolled {known.arm}/{known.site}"
            )
    batch = []
    for item in project.records:
        key = _key(item)
        form = project.protocol.form(item.form_id)
        assert form is not None  # built from the same protocol
        existing = current.get(key)
        if existing is None:
            plan.creates.append(key)
            batch.append(item)
        elif validate_values(form, item.values, where=key) == existing.values:
            plan.unchanged.append(key)
        else:
            plan.updates.append(key)
            # every field named, a blank one as None: the file's record replaces the stored one
            values = {spec.id: item.values.get(spec.id) for spec in form.fields}
            batch.append(
                RecordInput(
                    item.subject_id,
                    item.visit_id,
                    item.form_id,
                    values,
                    item.instance,
                    expected_version=existing.version,
                )
            )
    return batch


def import_redcap(
    url: str,
    dictionary: Path,
    records: Path | None = None,
    *,
    study: str | None = None,
    dry_run: bool = False,
    actor: str,
) -> ImportPlan:
    """Import a REDCap project into the database at ``url`` (see the module docstring).

    Raises
    ------
    InputError
        For an invalid dictionary or records file (every problem, nothing written), or a project
        that does not match the study already in the database.
    """
    for path in (dictionary, records):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    project = read_project(dictionary, records, study)
    sources = [p for p in (dictionary, records) if p is not None]
    reason = "REDCap import: " + ", ".join(f"{p.name} (sha256 {file_sha256(p)})" for p in sources)
    store = _existing(url, project.protocol.id)
    plan = ImportPlan(project.protocol.id, store is None, dry_run=dry_run, reason=reason)
    try:
        if store is not None and store.protocol != project.protocol:
            raise InputError(
                f"{dictionary}: the project does not match study '{store.protocol.id}' in the "
                f"database (first difference: {_first_difference(store.protocol, project.protocol)})"
            )
        batch = _plan(project, store, plan)
    finally:
        if store is not None:
            store.close()
    if dry_run:
        return plan
    with open_store(url, project.protocol, actor=actor) as target:
        for subject in project.subjects:
            if subject.subject_id in plan.new_subjects:
                target.add_subject(subject.subject_id, arm=subject.arm, site=subject.site,
                                   actor=actor, reason=reason)  # fmt: skip
        if batch:
            target.save_records(batch, actor=actor, reason=reason)
    return plan


def _status_code(record: RecordState | None) -> str:
    if record is None:
        return "0"
    return "0" if record.status == "incomplete" else "2"


def _cells(form_id: str, store: Store, record: RecordState | None) -> dict[str, str]:
    form = store.protocol.form(form_id)
    assert form is not None
    cells: dict[str, str] = {}
    for spec in form.fields:
        cells.update(export_value(spec, record.values.get(spec.id) if record else None))
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
    for form in protocol.forms:
        header += form_columns(form)
    with staged_output(out_dir) as scratch:
        write_dictionary(protocol, scratch / "dictionary.csv")
        with (scratch / "records.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(_record_rows(store, header))
        files = [scratch / "dictionary.csv", scratch / "records.csv"]
        write_manifest(scratch, store, export_format="redcap", files=files)
    return (out_dir / "dictionary.csv", out_dir / "records.csv", out_dir / "manifest.json")
