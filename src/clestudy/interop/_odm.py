"""CDISC ODM 1.3.2 export: study metadata, administrative data and the clinical data's history.

The file (``odm.xml``, ``FileType="Transactional"``) holds

* ``Study``: global variables, measurement units, and one ``MetaDataVersion`` with the protocol's
  visits (``StudyEventDef``), forms (``FormDef``, one ``ItemGroupDef`` each), fields (``ItemDef``
  with question, unit, ``RangeCheck`` for min/max, ``CodeListRef``) and choice lists
  (``CodeList``). A multiple choice field is one 0/1 item per choice, ``FIELD___CODE``, as REDCap
  writes checkboxes in ODM;
* ``AdminData``: a ``User`` per audit actor and a ``Location`` per site;
* ``ClinicalData``: one ``SubjectData`` per audit event of the study, oldest first -- subject
  enrolments (``TransactionType="Insert"`` with the ``SiteRef``) and record creates and updates
  (the items that changed; an item cleared is ``IsNull="Yes"``). Every ``ItemData`` carries an
  ``AuditRecord``: who (``UserRef``), where (``LocationRef``), when (``DateTimeStamp``), why
  (``ReasonForChange``) and the audit event's sequence number (``SourceID``). ODM 1.3.2 has no
  element for the value before a change, so an update's previous value is given in an
  ``Annotation`` comment (``previous value: ...``). Derived scores are not exported (they are
  recomputed from the items). Imported history (another system's audit log and notes, kept by an
  import) is a ``TransactionType="Context"`` ``SubjectData`` whose ``AuditRecord`` is the import
  and whose ``Annotation`` (on the subject, visit or record) holds the original entry as JSON.
  An electronic signature (21 CFR 11.50) is a ``Context`` ``SubjectData`` whose ``Signature``
  (on the subject for a casebook, on the ``StudyEventData`` for a visit) names the signer
  (``UserRef``), the site, the time and a ``SignatureDef`` of ``AdminData`` (one per meaning
  and attestation text: ``Meaning``, and the attestation as ``LegalReason``); an
  ``Annotation`` adds the SHA-256 of the signed data and the records covered. A voided
  signature (ODM has no element for it) is a ``Context`` transaction whose ``AuditRecord`` is
  the change that voided it and whose ``Annotation`` says so.

Written with lxml rather than odmlib: the export needs little of ODM (no Define-XML, no parsing),
and building the elements directly keeps their order under the test that validates every file
against the official 1.3.2 XSD, offline.

References
----------
CDISC ODM 1.3.2 specification and schema (``ODM1-3-2.xsd``), https://www.cdisc.org/standards/data-exchange/odm;
docs/references.md [ODM 1.3.2] (AuditRecord fields).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy import __version__
from clestudy.interop._manifest import staged_output, write_manifest
from clestudy.protocol import FieldSpec, Protocol
from clestudy.store import IMPORTED_HISTORY, MEANINGS, Store
from clestudy.store._schema import AuditRow
from clestudy.store._service import utc_timestamp
from clestudy.store._signatures import SIGNED_DATA_FORMAT

__all__ = ["ODM_NS", "export_odm", "odm_document"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DATA_TYPES = {
    "integer": "integer", "decimal": "float", "text": "text", "date": "date",
    "boolean": "boolean", "single_choice": "text", "multiple_choice": "integer",
}  # fmt: skip


def _oid(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{ODM_NS}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _translated(parent: etree._Element, tag: str, text: str) -> None:
    _el(_el(parent, tag), "TranslatedText", text, **{XML_LANG: "en"})


def _items(form_id: str, spec: FieldSpec) -> list[tuple[str, str]]:
    """(item OID, item name) of a field: one per choice for a multiple choice."""
    if spec.type == "multiple_choice":
        return [(_oid(f"I.{form_id}.{spec.id}___{c.code}"), f"{spec.id}___{c.code}")
                for c in spec.choices]  # fmt: skip
    return [(_oid(f"I.{form_id}.{spec.id}"), spec.id)]


def _units(protocol: Protocol) -> dict[str, str]:
    units = sorted({f.unit for form in protocol.forms for f in form.fields if f.unit})
    return {unit: _oid(f"MU.{i + 1}") for i, unit in enumerate(units)}


def _item_def(mdv: etree._Element, form_id: str, spec: FieldSpec, units: dict[str, str]) -> None:
    for oid, name in _items(form_id, spec):
        item = _el(mdv, "ItemDef", OID=oid, Name=name, DataType=_DATA_TYPES[spec.type])
        _translated(item, "Question", spec.label)
        if spec.unit:
            _el(item, "MeasurementUnitRef", MeasurementUnitOID=units[spec.unit])
        for bound, comparator in ((spec.min, "GE"), (spec.max, "LE")):
            if bound is not None:
                check = _el(item, "RangeCheck", Comparator=comparator, SoftHard="Hard")
                text = str(int(bound)) if float(bound).is_integer() else str(bound)
                _el(check, "CheckValue", text)
        if spec.type == "single_choice":
            _el(item, "CodeListRef", CodeListOID=_oid(f"CL.{form_id}.{spec.id}"))
        if spec.cdash:
            _el(item, "Alias", Context="CDASH", Name=spec.cdash)


def _metadata(study: etree._Element, protocol: Protocol) -> str:
    globals_ = _el(study, "GlobalVariables")
    _el(globals_, "StudyName", protocol.title)
    _el(globals_, "StudyDescription", protocol.description or protocol.title)
    _el(globals_, "ProtocolName", protocol.id)
    units = _units(protocol)
    if units:
        basic = _el(study, "BasicDefinitions")
        for unit, oid in units.items():
            _translated(_el(basic, "MeasurementUnit", OID=oid, Name=unit), "Symbol", unit)
    mdv_oid = _oid(f"MDV.{protocol.version}")
    mdv = _el(study, "MetaDataVersion", OID=mdv_oid, Name=f"{protocol.id} {protocol.version}")
    proto = _el(mdv, "Protocol")
    for n, visit in enumerate(protocol.visits, 1):
        _el(proto, "StudyEventRef", StudyEventOID=_oid(f"SE.{visit.id}"), OrderNumber=str(n),
            Mandatory="No")  # fmt: skip
    for visit in protocol.visits:
        event = _el(mdv, "StudyEventDef", OID=_oid(f"SE.{visit.id}"), Name=visit.name,
                    Repeating="No", Type="Scheduled")  # fmt: skip
        for n, form_id in enumerate(visit.forms, 1):
            _el(event, "FormRef", FormOID=_oid(f"F.{form_id}"), OrderNumber=str(n), Mandatory="No")
    for form in protocol.forms:
        repeating = "Yes" if form.repeating else "No"
        form_def = _el(
            mdv, "FormDef", OID=_oid(f"F.{form.id}"), Name=form.name, Repeating=repeating
        )
        _el(form_def, "ItemGroupRef", ItemGroupOID=_oid(f"IG.{form.id}"), Mandatory="Yes")
    for form in protocol.forms:
        group = _el(mdv, "ItemGroupDef", OID=_oid(f"IG.{form.id}"), Name=form.name, Repeating="No",
                    **({"Domain": form.domain} if form.domain else {}))  # fmt: skip
        order = 1
        for spec in form.fields:
            for oid, _ in _items(form.id, spec):
                mandatory = "Yes" if spec.required else "No"
                _el(group, "ItemRef", ItemOID=oid, OrderNumber=str(order), Mandatory=mandatory)
                order += 1
    for form in protocol.forms:
        for spec in form.fields:
            _item_def(mdv, form.id, spec, units)
    for form in protocol.forms:
        for spec in form.fields:
            if spec.type == "single_choice":
                codes = _el(mdv, "CodeList", OID=_oid(f"CL.{form.id}.{spec.id}"), Name=spec.id,
                            DataType="text")  # fmt: skip
                for choice in spec.choices:
                    item = _el(codes, "CodeListItem", CodedValue=choice.code)
                    _translated(item, "Decode", choice.label)
    return mdv_oid


def _events(store: Store) -> list[AuditRow]:
    prefix = f"{store.protocol.id}/"
    with Session(store.engine) as session:
        query = (
            select(AuditRow)
            .where(AuditRow.entity_key.startswith(prefix, autoescape=True))
            .where(
                AuditRow.entity_type.in_(("subject", "form_record", "signature", IMPORTED_HISTORY))
            )
            .order_by(AuditRow.seq)
        )
        return list(session.scalars(query))


def _admin(root: etree._Element, protocol: Protocol, study_oid: str, mdv_oid: str,
           actors: Iterable[str], effective: str,
           signature_defs: dict[tuple[str, str], str]) -> None:  # fmt: skip
    admin = _el(root, "AdminData", StudyOID=study_oid)
    for actor in sorted(set(actors)):
        user = _el(admin, "User", OID=_oid(f"USR.{actor}"))
        _el(user, "LoginName", actor)
    for site in protocol.sites:
        location = _el(admin, "Location", OID=_oid(f"LOC.{site.id}"), Name=site.name,
                       LocationType="Site")  # fmt: skip
        _el(location, "MetaDataVersionRef", StudyOID=study_oid, MetaDataVersionOID=mdv_oid,
            EffectiveDate=effective)  # fmt: skip
    for (meaning, attestation), oid in signature_defs.items():
        definition = _el(admin, "SignatureDef", OID=oid, Methodology="Electronic")
        _el(definition, "Meaning", MEANINGS.get(meaning, meaning))
        _el(definition, "LegalReason", attestation)


def _signature_defs(events: Iterable[AuditRow]) -> dict[tuple[str, str], str]:
    """``(meaning, attestation) -> SignatureDef OID`` of every signature in ``events``."""
    defs: dict[tuple[str, str], str] = {}
    for row in events:
        if row.entity_type == "signature" and row.action == "sign":
            after = json.loads(row.after_json or "{}")
            pair = (str(after["meaning"]), str(after["attestation"]))
            defs.setdefault(pair, _oid(f"SD.{pair[0]}.{len(defs) + 1}"))
    return defs


def _signature_event(clinical: etree._Element, row: AuditRow, site: str,
                     defs: dict[tuple[str, str], str]) -> None:  # fmt: skip
    """A signature (``sign``) or its voiding (``void``) as a ``Context`` transaction."""
    after = json.loads(row.after_json or "{}")
    subject_data = _el(clinical, "SubjectData", SubjectKey=str(after["subject"]),
                       TransactionType="Context")  # fmt: skip
    target = subject_data
    if after.get("visit") is not None and row.action == "sign":
        target = _el(subject_data, "StudyEventData", StudyEventOID=_oid(f"SE.{after['visit']}"))
    if row.action == "sign":
        signature = _el(target, "Signature")
        _el(signature, "UserRef", UserOID=_oid(f"USR.{after['signer']}"))
        _el(signature, "LocationRef", LocationOID=_oid(f"LOC.{site}"))
        oid = defs[(str(after["meaning"]), str(after["attestation"]))]
        _el(signature, "SignatureRef", SignatureOID=oid)
        _el(signature, "DateTimeStamp", str(after["signed_at"]))
        records = ", ".join(f"{r['record']} v{r['version']}" for r in after["records"])
        text = (f"electronic signature {row.entity_key} ({after['meaning']}) by "
                f"{after['signer_name'] or after['signer']}; data SHA-256 {after['data_sha256']} "
                f"({SIGNED_DATA_FORMAT}) of {records}")  # fmt: skip
    else:
        _audit(subject_data, row, site)
        cause = after.get("voided_by_event") or {}
        text = (f"electronic signature {row.entity_key} is void: the signed data changed "
                f"({cause.get('entity_key')}, {cause.get('action')})")  # fmt: skip
    _el(_el(target, "Annotation", SeqNum="1"), "Comment", text)


def _cells(protocol: Protocol, form_id: str, values: dict[str, Any]) -> dict[str, str]:
    form = protocol.form(form_id)
    cells: dict[str, str] = {}
    if form is None:
        return cells
    for spec in form.fields:
        value = values.get(spec.id)
        if value is None:
            continue
        if spec.type == "multiple_choice":
            for (oid, _), choice in zip(_items(form_id, spec), spec.choices, strict=True):
                cells[oid] = str(int(choice.code in value))
        elif isinstance(value, bool):
            cells[_items(form_id, spec)[0][0]] = "1" if value else "0"
        else:
            cells[_items(form_id, spec)[0][0]] = str(value)
    return cells


def _audit(parent: etree._Element, row: AuditRow, site: str) -> None:
    audit = _el(parent, "AuditRecord")
    _el(audit, "UserRef", UserOID=_oid(f"USR.{row.actor}"))
    _el(audit, "LocationRef", LocationOID=_oid(f"LOC.{site}"))
    _el(audit, "DateTimeStamp", row.occurred_at)
    if row.reason:
        _el(audit, "ReasonForChange", row.reason)
    _el(audit, "SourceID", f"clestudy audit event {row.seq}")


def _record_event(clinical: etree._Element, protocol: Protocol, row: AuditRow, site: str) -> None:
    _, subject, visit, form_part = row.entity_key.split("/", 3)
    form_id, _, instance = form_part.partition("#")
    before = json.loads(row.before_json) if row.before_json else None
    after = json.loads(row.after_json) if row.after_json else {}
    old = _cells(protocol, form_id, before["values"]) if before else {}
    new = _cells(protocol, form_id, after.get("values", {}))
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if not changed:
        return
    transaction = "Insert" if before is None else "Update"
    subject_data = _el(clinical, "SubjectData", SubjectKey=subject, TransactionType="Update")
    event = _el(subject_data, "StudyEventData", StudyEventOID=_oid(f"SE.{visit}"))
    form = _el(event, "FormData", FormOID=_oid(f"F.{form_id}"), FormRepeatKey=instance or "1",
               TransactionType=transaction)  # fmt: skip
    group = _el(form, "ItemGroupData", ItemGroupOID=_oid(f"IG.{form_id}"))
    for oid in changed:
        attrs = {"ItemOID": oid}
        if oid in new:
            attrs.update(Value=new[oid], TransactionType="Upsert")
        else:
            attrs.update(IsNull="Yes", TransactionType="Remove")
        item = _el(group, "ItemData", **attrs)
        _audit(item, row, site)
        if oid in old:
            annotation = _el(item, "Annotation", SeqNum="1")
            _el(annotation, "Comment", f"previous value: {old[oid]}")


def _history_event(clinical: etree._Element, row: AuditRow, site: str) -> None:
    """Imported history: a ``Context`` transaction whose ``Annotation`` holds the original entry
    (as JSON) on the subject, visit or record it describes; its ``AuditRecord`` is the import."""
    _, subject, *where = row.entity_key.split("/", 3)
    subject_data = _el(clinical, "SubjectData", SubjectKey=subject, TransactionType="Context")
    _audit(subject_data, row, site)
    target = subject_data
    if where:
        target = _el(subject_data, "StudyEventData", StudyEventOID=_oid(f"SE.{where[0]}"))
    if len(where) > 1:
        form_id, _, instance = where[1].partition("#")
        target = _el(target, "FormData", FormOID=_oid(f"F.{form_id}"),
                     FormRepeatKey=instance or "1")  # fmt: skip
    comment = json.dumps(json.loads(row.after_json or "{}"), ensure_ascii=False, sort_keys=True)
    _el(_el(target, "Annotation", SeqNum="1"), "Comment", f"imported history: {comment}")


def odm_document(store: Store, *, created: str | None = None) -> etree._ElementTree:
    """The study as an ODM 1.3.2 document (see the module docstring)."""
    protocol = store.protocol
    created = created or utc_timestamp(store.clock())
    root = etree.Element(f"{{{ODM_NS}}}ODM", nsmap={None: ODM_NS})  # type: ignore[dict-item]
    root.attrib.update(
        {
            "FileType": "Transactional",
            "FileOID": _oid(f"clestudy.{protocol.id}.{created}"),
            "CreationDateTime": created,
            "ODMVersion": "1.3.2",
            "SourceSystem": "clestudy",
            "SourceSystemVersion": __version__,
        }
    )
    study_oid = _oid(f"S.{protocol.id}")
    study = _el(root, "Study", OID=study_oid)
    mdv_oid = _metadata(study, protocol)
    events = _events(store)
    defs = _signature_defs(events)
    _admin(root, protocol, study_oid, mdv_oid, (e.actor for e in events), created[:10], defs)
    clinical = _el(root, "ClinicalData", StudyOID=study_oid, MetaDataVersionOID=mdv_oid)
    sites = {s.subject_id: s.site for s in store.subjects()}
    for row in events:
        subject = row.entity_key.split("/")[1]
        site = sites.get(subject, protocol.sites[0].id)
        if row.entity_type == "subject" and row.action == "enroll":
            subject_data = _el(
                clinical, "SubjectData", SubjectKey=subject, TransactionType="Insert"
            )
            _audit(subject_data, row, site)
            _el(subject_data, "SiteRef", LocationOID=_oid(f"LOC.{site}"))
        elif row.entity_type == "form_record" and row.action in ("create", "update"):
            _record_event(clinical, protocol, row, site)
        elif row.entity_type == IMPORTED_HISTORY:
            _history_event(clinical, row, site)
        elif row.entity_type == "signature":
            _signature_event(clinical, row, site, defs)
    return etree.ElementTree(root)


def export_odm(store: Store, out_dir: Path) -> tuple[Path, ...]:
    """Write ``odm.xml`` and ``manifest.json`` into ``out_dir``."""
    with staged_output(out_dir) as scratch:
        path = scratch / "odm.xml"
        odm_document(store).write(str(path), xml_declaration=True, encoding="UTF-8",
                                  pretty_print=True)  # fmt: skip
        write_manifest(scratch, store, export_format="odm", files=[path])
    return (out_dir / "odm.xml", out_dir / "manifest.json")
