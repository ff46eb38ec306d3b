"""CDISC ODM import: an OpenClinica 3 full extract becomes a study, its records and its history.

:func:`import_odm` reads the file with lxml (no network, no entity expansion), turns its metadata
into a protocol (:mod:`clestudy.interop._odm_metadata`), its clinical data into subjects and
records, and its audit logs and discrepancy notes into **imported history**
(:func:`clestudy.store.save_import`: one ``imported_history`` event per entry, on the entity it
describes, holding the original who, when, type, reason, old and new value, and for a note its
whole thread). Then, as the REDCap import:

* an invalid file is refused whole: every problem on its own line, naming the file, the line
  (lxml's ``sourceline``) and the element, and nothing is written;
* a new study is registered; an existing one must have the same protocol (the same metadata);
* a dry run lists the creates, updates and unchanged records and writes nothing;
* subjects, records and history are written in one transaction, every event's reason naming
  the file and its SHA-256; importing the same file again changes nothing (an entry of history
  already kept, by its original id, is not kept twice).

Clinical data mapping: ``SubjectData`` is a subject (id ``OpenClinica:StudySubjectID``, else
``SubjectKey``) at the site of its ``ClinicalData`` (the site ``Study``); ``StudyEventData`` a
visit; each ``FormData`` gives the record of its form (non-repeating groups) and one record per
row of each repeating group (``ItemGroupRepeatKey`` is the instance). ``IsNull="Yes"`` is blank.
Refused, naming the construct: a repeated study event (``StudyEventRepeatKey`` above 1) and an
item, form, group or event the metadata does not define.

Why lxml and not odmlib: odmlib (MIT, on PyPI) models ODM 1.3.2 well, but its loader rejects or
drops vendor extensions unless each is subclassed, while an OpenClinica extract's value is in
its extensions (``OpenClinica:AuditLogs``, ``OpenClinica:DiscrepancyNotes``,
``OpenClinica:ItemResponse``); it also keeps no source line, which every error here must name.
lxml (already used by the ODM export) gives both. With ``schema`` (the official ODM 1.3.2 XSD,
a local file: no schema is fetched), the file is also validated against it, with the vendor
extensions (other namespaces) set aside first, since ODM 1.3.2 admits them only through
schema extensions OpenClinica does not ship.

References
----------
CDISC ODM 1.3.2; OpenClinica 3 ODM extensions (docs/references.md [ODM 1.3.2],
[OpenClinica ODM]).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from lxml import etree

from clestudy.errors import InputError
from clestudy.interop._import_plan import (
    ImportPlan,
    existing_store,
    first_difference,
    plan_records,
)
from clestudy.interop._manifest import file_sha256
from clestudy.interop._odm_metadata import OC, ODM, OdmMetadata, ident, read_metadata, where
from clestudy.store import (
    IMPORTED_HISTORY,
    ImportedEvent,
    RecordInput,
    Store,
    SubjectInput,
    audit_events,
    building_new_database,
    checked_values,
    collection_paused,
    open_store,
    save_import,
)

__all__ = ["OdmContent", "import_odm", "read_odm"]

_ARM = "all"
_HISTORY = (f"{{{OC}}}AuditLog", f"{{{OC}}}DiscrepancyNote")


def _q(tag: str) -> str:
    return f"{{{ODM}}}{tag}"


@dataclass
class OdmContent:
    """Everything an ODM file holds for clestudy."""

    metadata: OdmMetadata
    subjects: list[SubjectInput] = field(default_factory=list)
    records: list[RecordInput] = field(default_factory=list)
    history: list[ImportedEvent] = field(default_factory=list)


def _parse(path: Path, schema: Path | None) -> etree._Element:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, remove_comments=True)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not well-formed XML ({exc.msg})") from None
    if root.tag != _q("ODM"):
        raise InputError(
            f"{path}: line {root.sourceline}: <{etree.QName(root).localname}>: not a CDISC ODM "
            f'1.3 file (the root element must be <ODM xmlns="{ODM}">)'
        )
    if schema is not None:
        _validate(path, root, schema)
    return root


def _validate(path: Path, root: etree._Element, schema: Path) -> None:
    """Validate against the ODM XSD, vendor extensions set aside (line numbers are kept)."""
    try:
        xsd = etree.XMLSchema(etree.parse(str(schema), etree.XMLParser(no_network=True)))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise InputError(f"{schema}: not a readable XML schema ({exc})") from None
    core = copy.deepcopy(root)
    for node in list(core.iter()):
        if not isinstance(node.tag, str):
            continue
        if etree.QName(node).namespace != ODM:
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)
            continue
        for name in [a for a in map(str, node.attrib) if a.startswith("{") and "XML/" not in a]:
            del node.attrib[name]
    if not xsd.validate(core):
        first = cast(Any, xsd.error_log)[0]  # lxml's stubs do not declare the log a sequence
        raise InputError(f"{path}: line {first.line}: {first.message}")


def _subject_id(path: Path, node: etree._Element) -> str:
    subject = node.get(f"{{{OC}}}StudySubjectID") or node.get("SubjectKey") or ""
    if not subject or not subject.replace("-", "").replace("_", "").isalnum():
        raise InputError(where(path, node, f"subject {subject!r} cannot be a clestudy subject id "
                                           "(use letters, digits, '-' and '_')"))  # fmt: skip
    return subject


def _value(node: etree._Element, kind: str) -> object:
    if node.get("IsNull") == "Yes":
        return None
    value = node.get("Value", "")
    if kind == "multiple_choice":
        return [v.strip() for v in value.split(",") if v.strip()] or None
    return value


@dataclass
class _Reader:
    path: Path
    meta: OdmMetadata
    errors: list[str] = field(default_factory=list)
    values: dict[tuple[str, str, str, int], dict[str, object]] = field(default_factory=dict)
    lines: dict[tuple[str, str, str, int], str] = field(default_factory=dict)

    def fail(self, node: etree._Element, message: str) -> None:
        self.errors.append(where(self.path, node, message))

    def form(self, subject: str, visit: str, form_data: etree._Element) -> None:
        fmap = self.meta.forms.get(form_data.get("FormOID", ""))
        if fmap is None:
            self.fail(form_data, f"form '{form_data.get('FormOID')}' is not defined")
            return
        collected = self.meta.protocol.visit(visit)
        for group in form_data.iter(_q("ItemGroupData")):
            target = fmap.groups.get(group.get("ItemGroupOID", ""))
            if target is None or target not in fmap.fields:
                self.fail(group, f"item group '{group.get('ItemGroupOID')}' is not in this form")
                continue
            if collected is not None and target not in collected.forms:
                self.fail(group, f"form '{target}' is not collected at visit '{visit}'")
                continue
            repeat = group.get("ItemGroupRepeatKey", "1")
            if not repeat.isdigit() or int(repeat) < 1:
                self.fail(group, f"ItemGroupRepeatKey {repeat!r} is not 1, 2, ...")
                continue
            instance = int(repeat) if target != fmap.main else 1
            key = (subject, visit, target, instance)
            self.lines.setdefault(key, where(self.path, group, f"{subject}/{visit}/{target}"))
            values = self.values.setdefault(key, {})
            for item in group.iter(_q("ItemData")):
                spec = fmap.fields[target].get(item.get("ItemOID", ""))
                if spec is None:
                    self.fail(item, f"item '{item.get('ItemOID')}' is not in group "
                                    f"'{group.get('ItemGroupOID')}'")  # fmt: skip
                    continue
                values[spec.id] = _value(item, spec.type)

    def records(self) -> Iterator[RecordInput]:
        for (subject, visit, form_id, instance), values in self.values.items():
            form = self.meta.protocol.form(form_id)
            assert form is not None  # the metadata made it
            # checked once, here: the store saves checked values without parsing them again
            checked, problems = checked_values(form, values, where=self.lines[
                (subject, visit, form_id, instance)], require=False)  # fmt: skip
            self.errors += problems
            yield RecordInput.new(subject, visit, form_id, checked, instance)


def _history_path(reader: _Reader, node: etree._Element) -> tuple[str, str | None]:
    """Where a history entry belongs: ``VISIT/FORM[#N]``, ``VISIT`` or ``""``, and its item."""
    visit = form_id = item = None
    instance = 1
    for ancestor in node.iterancestors():
        tag = ancestor.tag
        if tag == _q("ItemData") and item is None:
            item = ancestor.get("ItemOID")
        elif tag == _q("ItemGroupData") and form_id is None:
            form_oid = ancestor.getparent().get("FormOID", "")  # type: ignore[union-attr]
            fmap = reader.meta.forms.get(form_oid)
            form_id = fmap.groups.get(ancestor.get("ItemGroupOID", "")) if fmap else None
            if fmap is not None and form_id != fmap.main:
                instance = int(ancestor.get("ItemGroupRepeatKey", "1") or 1)
        elif tag == _q("FormData") and form_id is None:
            fmap = reader.meta.forms.get(ancestor.get("FormOID", ""))
            form_id = (fmap.main if fmap else None) or ident(ancestor.get("FormOID", ""), "F_")
        elif tag == _q("StudyEventData"):
            visit = reader.meta.visits.get(ancestor.get("StudyEventOID", ""))
    if visit is None:
        return "", item
    if form_id is None:
        return visit, item
    if item is not None:  # the field id, when the item is one of the record's fields
        fields = {oid: spec for f in reader.meta.forms.values() for oid, spec in
                  f.fields.get(form_id, {}).items()}  # fmt: skip
        item = fields[item].id if item in fields else item
    return f"{visit}/{form_id}{f'#{instance}' if instance != 1 else ''}", item


def _entry(reader: _Reader, node: etree._Element, entity: str | None, item: str | None,
           source: str) -> dict[str, Any]:  # fmt: skip
    users = reader.meta.users
    if node.tag == f"{{{OC}}}AuditLog":
        payload: dict[str, Any] = {
            "source": source, "kind": "audit-log", "id": node.get("ID"),
            "who": node.get("UserID"), "who_name": users.get(node.get("UserID", "")),
            "when": node.get("DateTimeStamp"), "type": node.get("Type"),
            "reason": node.get("ReasonForChange"), "old": node.get("OldValue"),
            "new": node.get("NewValue"),
        }  # fmt: skip
    else:
        thread = []
        for child in node.iter(f"{{{OC}}}ChildNote"):
            user = child.find(_q("UserRef"))
            who = user.get("UserOID") if user is not None else None
            thread.append({k: v for k, v in {
                "status": child.get("Status"), "when": child.get("DateCreated"),
                "description": child.findtext(f"{{{OC}}}Description"),
                "detail": child.findtext(f"{{{OC}}}DetailedNote"),
                "who": who, "who_name": users.get(who or ""),
            }.items() if v is not None})  # fmt: skip
        payload = {
            "source": source, "kind": "discrepancy-note", "id": node.get("ID"),
            "status": node.get("Status"), "type": node.get("NoteType"),
            "when": node.get("DateUpdated"), "thread": thread,
        }  # fmt: skip
    payload.update(entity=entity, item=item)
    return {k: v for k, v in payload.items() if v is not None}


def read_odm(path: Path, *, schema: Path | None = None) -> OdmContent:
    """Read an ODM file (see the module docstring) without touching any database.

    Raises
    ------
    InputError
        Every problem found, one per line, each naming the file, line and element.
    """
    root = _parse(path, schema)
    meta = read_metadata(path, root)
    content = OdmContent(meta)
    reader = _Reader(path, meta)
    seen: set[str] = set()
    source = meta.protocol.annotations["odm_source"]
    for clinical in root.iter(_q("ClinicalData")):
        site = meta.sites.get(clinical.get("StudyOID", ""))
        if site is None:
            reader.fail(clinical, f"study '{clinical.get('StudyOID')}' is not a study of this file")
            continue
        for subject_data in clinical.iter(_q("SubjectData")):
            subject = _subject_id(path, subject_data)
            if subject in seen:
                reader.fail(subject_data, f"subject '{subject}' appears twice")
                continue
            seen.add(subject)
            content.subjects.append(SubjectInput(subject, _ARM, site))
            for event in subject_data.iter(_q("StudyEventData")):
                visit = meta.visits.get(event.get("StudyEventOID", ""))
                repeat = event.get("StudyEventRepeatKey", "1")
                if visit is None:
                    reader.fail(event, f"study event '{event.get('StudyEventOID')}' is not defined")
                    continue
                if repeat != "1":
                    reader.fail(event, f"StudyEventRepeatKey {repeat}: a repeated study event "
                                       "cannot be represented in clestudy (repeating forms can)")  # fmt: skip
                    continue
                for form_data in event.iter(_q("FormData")):
                    reader.form(subject, visit, form_data)
            for node in subject_data.iter(*_HISTORY):
                entity_path, item = _history_path(reader, node)
                entity = node.getparent().get("EntityID")  # type: ignore[union-attr]
                payload = _entry(reader, node, entity, item, source)
                content.history.append(ImportedEvent(subject, entity_path, payload))
    content.records = list(reader.records())
    if reader.errors:
        unique = list(dict.fromkeys(reader.errors))
        head = "" if len(unique) == 1 else f"{len(unique)} problems, nothing imported:\n"
        raise InputError(head + "\n".join(unique))
    return content


def _kept_history(url: str, study: str) -> set[tuple[str, str]]:
    return {
        (str(after.get("kind")), str(after.get("id")))
        for event in audit_events(url, entity_prefix=f"{study}/")
        if event["entity_type"] == IMPORTED_HISTORY and isinstance(after := event["after"], dict)
    }


@collection_paused()  # as import_redcap
def import_odm(
    url: str, path: Path, *, dry_run: bool = False, actor: str, schema: Path | None = None
) -> ImportPlan:
    """Import an ODM file (an OpenClinica 3 full extract) into the database at ``url``.

    Raises
    ------
    InputError
        For an invalid file (every problem, nothing written), or one whose metadata does not
        match the study already in the database.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    content = read_odm(path, schema=schema)
    protocol = content.metadata.protocol
    reason = f"ODM import: {path.name} (sha256 {file_sha256(path)})"
    store: Store | None = existing_store(url, protocol.id)
    plan = ImportPlan(protocol.id, store is None, dry_run=dry_run, reason=reason)
    try:
        if store is not None and store.protocol != protocol:
            raise InputError(
                f"{path}: the metadata does not match study '{protocol.id}' in the database "
                f"(first difference: {first_difference(store.protocol, protocol)})"
            )
        batch = plan_records(protocol, content.subjects, content.records, store, plan)
        kept = _kept_history(url, protocol.id) if store is not None else set()
    finally:
        if store is not None:
            store.close()
    history = [h for h in content.history
               if (h.payload["kind"], h.payload["id"]) not in kept]  # fmt: skip
    plan.history = len(history)
    if dry_run:
        return plan
    new = set(plan.new_subjects)
    subjects = [s for s in content.subjects if s.subject_id in new]
    # a new SQLite file is built aside and appears whole, or not at all
    with building_new_database(url) as into, open_store(into, protocol, actor=actor) as target:
        save_import(target, subjects=subjects, records=batch, history=history, actor=actor,
                    reason=reason, states=False)  # fmt: skip
    return plan
