"""A REDCap project (dictionary + flat records) as a clestudy protocol and record inputs.

Structure read from the records, since a data dictionary carries no events, arms, repeating
settings or data access groups (docs/references.md [REDCap records]):

* each ``redcap_event_name`` is a visit (in order of first appearance; ``day`` is that position,
  because REDCap's day offsets are not in a flat export) collecting the forms that hold data in
  it; ``..._arm_N`` gives the arm ``arm_N``. A classic project has one visit ``event_1_arm_1``
  (REDCap's own name for the first event) and one arm ``arm_1``;
* a form named in ``redcap_repeat_instrument`` is a repeating form; a repeating *event* (instance
  without instrument) is refused;
* each ``redcap_data_access_group`` is a site; records outside any group are in site
  ``unassigned`` (the only site of a project without groups).

The record id field (the dictionary's first row) names subjects; its row is kept in the
protocol's ``annotations`` (with whether the project is longitudinal and has data access groups)
so that the project exports back unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from clestudy.errors import InputError
from clestudy.interop._redcap_branching import translate_branching
from clestudy.interop._redcap_dictionary import (
    DictionaryRow,
    field_from_row,
    read_dictionary,
    record_id_row,
)
from clestudy.interop._redcap_records import (
    DAG,
    EVENT,
    REPEAT_FORM,
    REPEAT_INSTANCE,
    RecordsFile,
    RowValues,
    check_columns,
    row_values,
)
from clestudy.protocol import (
    Arm,
    FieldSpec,
    FormSpec,
    MissingCode,
    Protocol,
    Site,
    StoredValue,
    Visit,
)
from clestudy.protocol._show_if import show_if_cycle
from clestudy.store import CheckedValues, RecordInput, checked_values

__all__ = ["CLASSIC_EVENT", "NO_SITE", "RedcapProject", "read_project", "study_id_for"]

CLASSIC_EVENT = "event_1_arm_1"
NO_SITE = "unassigned"
_ARM = re.compile(r"_arm_(\d+)$")


@dataclass(frozen=True)
class Subject:
    """A REDCap record as a clestudy subject."""

    subject_id: str
    arm: str
    site: str


@dataclass(frozen=True)
class RedcapProject:
    """What a dictionary and its records become: a protocol, subjects and record inputs."""

    protocol: Protocol
    subjects: tuple[Subject, ...]
    records: tuple[RecordInput, ...]
    #: what the import keeps but does not enforce (untranslated branching logic, calc fields)
    flagged: tuple[str, ...] = ()


def study_id_for(dictionary: Path) -> str:
    """A study id from the dictionary's file name (or its folder's, for ``dictionary.csv``)."""
    stem = dictionary.stem.lower()
    if stem in ("dictionary", "metadata", "datadictionary", "data_dictionary"):
        stem = dictionary.resolve().parent.name.lower()
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-")
    return slug if re.match(r"^[a-z]", slug) else f"redcap-{slug}"


def _with_show_if(
    path: Path, specs: list[FieldSpec], lines: dict[str, int], flagged: list[str]
) -> list[FieldSpec]:
    """The form's fields with their branching logic translated to show-if where it can be
    (:mod:`clestudy.interop._redcap_branching`); the others, and calc fields, are flagged."""
    out = []
    for spec in specs:
        where = f"{path}: line {lines[spec.id]}: field '{spec.id}'"
        if spec.calculation is not None:
            flagged.append(f"{where}: calculation kept as text, not executed")
        if spec.branching_logic is None:
            out.append(spec)
            continue
        translation = translate_branching(spec.branching_logic, spec, specs)
        if translation.show_if is None:
            flagged.append(
                f"{where}: branching logic {spec.branching_logic!r} kept, not evaluated "
                f"({translation.reason}): the field is always shown"
            )
        out.append(spec.model_copy(update={"show_if": translation.show_if}))
    form = FormSpec(id="form", name="form", fields=tuple(out))
    for index, spec in enumerate(out):
        cycle = show_if_cycle(form, spec) if spec.show_if is not None else None
        if cycle is not None:
            flagged.append(
                f"{path}: line {lines[spec.id]}: field '{spec.id}': branching logic "
                f"{spec.branching_logic!r} kept, not evaluated (fields show each other: "
                f"{' -> '.join(cycle)}): the field is always shown"
            )
            out[index] = spec.model_copy(update={"show_if": None})
    return out


def _forms(
    path: Path, rows: Sequence[DictionaryRow], errors: list[str], flagged: list[str]
) -> list[FormSpec]:
    """Forms in order of first appearance (rows of a form must be contiguous)."""
    fields: dict[str, list[FieldSpec]] = {}
    lines: dict[str, int] = {}
    seen_ids: set[str] = set()
    for index, row in enumerate(rows):
        where = f"{path}: line {row.line}"
        form_id = row["form_name"].strip()
        if fields and form_id in fields and form_id != list(fields)[-1]:
            errors.append(f"{where}: form '{form_id}' continues after another form began")
        if row["field_name"] in seen_ids:
            errors.append(f"{where}: field '{row['field_name']}' is defined twice")
        seen_ids.add(row["field_name"])
        lines.setdefault(row["field_name"].strip(), row.line)
        fields.setdefault(form_id, [])
        if index == 0:
            continue  # the record id field names subjects; it is not a form field
        try:
            fields[form_id].append(field_from_row(row, where))
        except InputError as exc:
            errors.append(str(exc))
    forms = []
    for form_id, specs in fields.items():
        if not specs:
            errors.append(
                f"{path}: form '{form_id}' holds only the record id field; clestudy forms need "
                "at least one data field"
            )
            continue
        try:
            name = form_id.replace("_", " ").capitalize()
            specs = _with_show_if(path, specs, lines, flagged)
            forms.append(FormSpec(id=form_id, name=name, fields=tuple(specs)))
        except ValidationError as exc:
            errors.append(f"{path}: form '{form_id}': {exc.errors()[0]['msg']}")
    return forms


@dataclass(frozen=True)
class _Row:
    """One records row as read once: where it is, whose, which event and instance, and the
    values it holds per form (converted from the CSV cells, not yet checked)."""

    where: str
    subject: str
    event: str
    repeat_form: str | None
    instance: int
    found: list[RowValues]


@dataclass
class _Layout:
    events: dict[str, list[str]]  # event -> forms with data, in first-seen order
    repeating: set[str]
    arms: dict[str, str]  # subject -> arm
    sites: dict[str, str]  # subject -> site
    rows: list[_Row] = field(default_factory=list)
    #: the project's missing-data codes (read from cells as codes, not values)
    codes: tuple[str, ...] = ()


def _row_key(records: RecordsFile, line: int, row: dict[str, str], forms: dict[str, FormSpec],
             errors: list[str]) -> tuple[str, str | None, int]:  # fmt: skip
    where = f"{records.path}: line {line}"
    event = row.get(EVENT, "").strip() or CLASSIC_EVENT
    repeat_form = row.get(REPEAT_FORM, "").strip()
    instance_text = row.get(REPEAT_INSTANCE, "").strip()
    if instance_text and not repeat_form:
        errors.append(
            f"{where}: {REPEAT_INSTANCE} {instance_text} without {REPEAT_FORM}: repeating "
            "events cannot be represented in clestudy (repeating forms can)"
        )
    if repeat_form and repeat_form not in forms:
        errors.append(f"{where}: {REPEAT_FORM} '{repeat_form}' is not a form of the dictionary")
    instance = 1
    if repeat_form:
        if not instance_text.isdigit() or int(instance_text) < 1:
            errors.append(f"{where}: {REPEAT_INSTANCE} {instance_text!r} is not 1, 2, ...")
        else:
            instance = int(instance_text)
    return event, repeat_form or None, instance


def _layout(records: RecordsFile, record_id: str, forms: dict[str, FormSpec],
            errors: list[str], codes: tuple[str, ...] = ()) -> _Layout:  # fmt: skip
    layout = _Layout({}, set(), {}, {}, codes=codes)
    for line, row in records.rows:
        subject = row.get(record_id, "").strip()
        if not subject.replace("-", "").replace("_", "").isalnum():
            errors.append(
                f"{records.path}: line {line}: record id {subject!r} cannot be a clestudy subject "
                "id (use letters, digits, '-' and '_')"
            )
        event, repeat_form, instance = _row_key(records, line, row, forms, errors)
        if repeat_form and repeat_form not in forms:
            continue
        if repeat_form:
            layout.repeating.add(repeat_form)
        collected = layout.events.setdefault(event, [])
        holding = forms.values() if repeat_form is None else [forms[repeat_form]]
        where = f"{records.path}: line {line}"
        read = _Row(
            where, subject, event, repeat_form, instance,
            row_values(holding, row, where, layout.codes),
        )  # fmt: skip
        layout.rows.append(read)
        for found in read.found:
            if found.form.id not in collected:
                collected.append(found.form.id)
        match = _ARM.search(event)
        arm = f"arm_{match.group(1)}" if match else "arm_1"
        first_arm = layout.arms.setdefault(subject, arm)
        if first_arm != arm:
            errors.append(
                f"{records.path}: record '{subject}' is in {first_arm} and {arm}: a clestudy "
                "subject belongs to one arm, so records in several arms cannot be represented"
            )
        dag = row.get(DAG, "").strip()
        if dag or subject not in layout.sites:
            layout.sites[subject] = dag or layout.sites.get(subject, NO_SITE)
    return layout


def _content_hash(rows: Sequence[DictionaryRow]) -> str:
    """12 hex digits of the SHA-256 of the dictionary's cells (not its bytes: a BOM or the other
    header style is the same dictionary)."""
    cells = json.dumps([row.values for row in rows], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(cells.encode()).hexdigest()[:12]


def _protocol(study_id: str, dictionary: Path, forms: list[FormSpec], layout: _Layout,
              rows: Sequence[DictionaryRow], records: RecordsFile | None,
              missing_codes: tuple[MissingCode, ...] = ()) -> Protocol:  # fmt: skip
    record_row = rows[0]
    events = layout.events or {CLASSIC_EVENT: [f.id for f in forms]}
    order = {f.id: i for i, f in enumerate(forms)}
    visits = [
        Visit(id=event, name=event, day=day, forms=tuple(sorted(ids, key=order.__getitem__)))
        for day, (event, ids) in enumerate(events.items())
    ]
    arms = sorted(set(layout.arms.values()) or {"arm_1"})
    sites = sorted(set(layout.sites.values()) or {NO_SITE})
    return Protocol(
        id=study_id,
        title=f"REDCap project {study_id}",
        version=f"redcap-{_content_hash(rows)}",
        description=f"Imported from the REDCap data dictionary {dictionary.name}.",
        arms=tuple(Arm(id=a, name=a.replace("_", " ").capitalize()) for a in arms),
        sites=tuple(Site(id=s, name=s) for s in sites),
        visits=tuple(visits),
        forms=tuple(f.model_copy(update={"repeating": f.id in layout.repeating}) for f in forms),
        annotations={
            "redcap_record_id_row": record_id_row(record_row),
            "redcap_longitudinal": "true" if records and records.longitudinal else "false",
            "redcap_dags": "true" if records and records.has_dags else "false",
        },
        missing_codes=missing_codes,
    )


def _inputs(project: Protocol, layout: _Layout, errors: list[str]) -> list[RecordInput]:
    forms = {f.id: f for f in project.forms}
    inputs = []
    for row in layout.rows:
        where = f"{row.where} ({row.subject}/{row.event})"
        for found in row.found:
            form = forms[found.form.id]  # the protocol's (repeating set)
            errors.extend(found.errors)
            if form.repeating and row.repeat_form is None:
                errors.append(
                    f"{row.where}: form '{form.id}' repeats but this row has no {REPEAT_FORM}"
                )
                continue
            # checked once, here or as the row was read (the same fields, the same check): the
            # store saves these values without parsing them again
            if found.checked is not None:
                values: dict[str, StoredValue] = CheckedValues(form, found.checked)
            else:
                values, problems = checked_values(
                    form, found.values, where=where, missing_codes=layout.codes
                )
                errors.extend(problems)
            inputs.append(RecordInput.new(row.subject, row.event, form.id, values, row.instance))
    return inputs


def read_project(
    dictionary: Path, records_path: Path | None, study_id: str | None,
    missing_codes: tuple[MissingCode, ...] = (),
) -> RedcapProject:  # fmt: skip
    """Read a REDCap dictionary (and records) into a protocol, subjects and records.

    ``missing_codes`` are the project's missing-data codes (not in the dictionary or the records:
    a project setting), read from the cells as codes, not values.

    Raises
    ------
    InputError
        With every problem found, one per line, each naming the file, line and field.
    """
    errors: list[str] = []
    flagged: list[str] = []
    rows = read_dictionary(dictionary)
    forms = _forms(dictionary, rows, errors, flagged)
    record_id = rows[0]["field_name"].strip()
    records = None
    layout = _Layout({}, set(), {}, {})
    if records_path is not None:
        from clestudy.interop._redcap_eav import flatten_eav, is_eav
        from clestudy.interop._redcap_records import read_records

        codes = tuple(c.code for c in missing_codes)
        records = read_records(records_path)
        if is_eav(records):
            records = flatten_eav(records, record_id, forms, codes)
        form_ids = {row["form_name"].strip() for row in rows}
        errors += check_columns(records, record_id, forms, form_ids, codes)
        if not errors:
            layout = _layout(records, record_id, {f.id: f for f in forms}, errors, codes)
    if errors:
        raise InputError(_joined(errors))
    try:
        protocol = _protocol(
            study_id or study_id_for(dictionary), dictionary, forms, layout, rows, records,
            missing_codes,
        )  # fmt: skip
    except ValidationError as exc:
        raise InputError(
            f"{dictionary}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        ) from None
    inputs = _inputs(protocol, layout, errors)
    subjects = [Subject(s, layout.arms[s], layout.sites[s]) for s in layout.arms]
    if errors:
        raise InputError(_joined(errors))
    return RedcapProject(protocol, tuple(subjects), tuple(inputs), tuple(flagged))


def _joined(errors: list[str]) -> str:
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return f"{len(unique)} problems, nothing imported:\n" + "\n".join(unique)
