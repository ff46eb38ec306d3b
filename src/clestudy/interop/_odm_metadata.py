"""An ODM 1.3 ``MetaDataVersion`` (OpenClinica 3 flavour) as a clestudy protocol.

=========================================  ======================================================
ODM                                        clestudy
=========================================  ======================================================
``Study`` (the one no other includes)      the protocol: id from ``ProtocolName``, title from
                                           ``StudyName``; version ``odm-`` + 12 hex digits of the
                                           metadata's SHA-256 (a changed design is a new version)
``StudyEventDef`` in ``Protocol`` order    a visit (``day`` is its position: ODM has no schedule)
``FormDef``                                a form holding its non-repeating item groups' items
repeating ``ItemGroupDef`` of a form       a repeating form ``FORM__GROUP`` (the group's rows are
                                           its instances), collected at the form's visits
``ItemDef`` ``integer`` / ``float`` /      ``integer`` / ``decimal`` / ``date`` / ``text`` /
``date`` / ``text``, ``string`` /          ``boolean``; any other data type (times, partial
``boolean``                                dates...) is ``text`` with the type kept
``CodeListRef``                            ``single_choice`` (``CodedValue`` / ``Decode``); an
                                           OpenClinica ``checkbox`` / ``multi-select`` response is
                                           a ``multiple_choice`` (values ``1,2``). OpenClinica
                                           refers an item to the list of one CRF version only,
                                           though each version has its own list of the same
                                           ``Name``: the choices are those lists' codes, in order
                                           (a code's first label kept)
``MeasurementUnitRef``                     the field's unit (the unit's ``Name``)
``ItemRef Mandatory="Yes"``                ``required``
``RangeCheck`` (``GE LE GT LT EQ NE``)     kept in the field's ``odm_range_checks``; on a numeric
                                           item, also a ``warning`` edit check on the form:
                                           OpenClinica lets a user save a value outside a range
                                           check with a discrepancy note, so a range check cannot
                                           refuse an imported value; the check opens a clestudy
                                           discrepancy instead, as OpenClinica opened a note
site ``Study`` (``Include`` of the parent) a site (id from its OID, name its ``StudyName``)
=========================================  ======================================================

A field's label is its OpenClinica ``LeftItemText`` in that form (an item shared by an English
and a Spanish CRF is labelled in each one's language), else its ``Question``. Field ids are the
item ``Name`` in lower case (the OID when two items of a form share a name);
every item keeps its OID, data type, SAS name and length in ``annotations``. One arm, ``all``:
an OpenClinica extract carries subject groups only in its audit log.

References
----------
CDISC ODM 1.3.2 specification; OpenClinica 3 ODM extensions (docs/references.md [ODM 1.3.2],
[OpenClinica ODM]).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree
from pydantic import ValidationError

from clestudy.errors import InputError
from clestudy.protocol import (
    Arm,
    Choice,
    EditCheckSpec,
    FieldSpec,
    FieldType,
    FormSpec,
    Protocol,
    Site,
    Visit,
)

__all__ = ["OC", "ODM", "FormMap", "OdmMetadata", "ident", "read_metadata", "where"]

ODM = "http://www.cdisc.org/ns/odm/v1.3"
OC = "http://www.openclinica.org/ns/odm_ext_v130/v3.1"
_TYPES: dict[str, FieldType] = {
    "integer": "integer", "float": "decimal", "double": "decimal", "date": "date",
    "text": "text", "string": "text", "boolean": "boolean",
}  # fmt: skip
_MULTIPLE = {"checkbox", "multi-select"}
_OPERATORS = {"GE": ">=", "LE": "<=", "GT": ">", "LT": "<", "EQ": "==", "NE": "!="}


def ident(text: str, prefix: str = "") -> str:
    """A clestudy identifier from an OID or name: ``F_PHYSICALEXAM_V10`` -> ``physicalexam_v10``.

    >>> ident("F_PHYSICALEXAM_V10", "F_"), ident("9 lives"), ident("SE_X", "SE_")
    ('physicalexam_v10', 'x_9_lives', 'x')
    """
    text = text.removeprefix(prefix)
    slug = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"
    slug = slug if slug[0].isalpha() else f"x_{slug}"
    if len(slug) > 64:
        slug = f"{slug[:55]}_{hashlib.sha1(slug.encode()).hexdigest()[:8]}"
    return slug


def where(path: Path, node: etree._Element, what: str) -> str:
    """``FILE: line N: <Element OID=...>: what`` -- how every problem is named."""
    tag = etree.QName(node).localname
    oid = node.get("OID") or node.get("ItemOID") or node.get("FormOID") or node.get("SubjectKey")
    named = f' {"OID" if node.get("OID") else "key"}="{oid}"' if oid else ""
    return f"{path}: line {node.sourceline}: <{tag}{named}>: {what}"


def _q(tag: str) -> str:
    return f"{{{ODM}}}{tag}"


def _text(node: etree._Element | None, *path: str) -> str:
    """Whitespace-collapsed text of ``node/path...`` (first match), or ``""``."""
    for tag in path:
        if node is None:
            return ""
        node = node.find(_q(tag))
    return " ".join("".join(str(t) for t in node.itertext()).split()) if node is not None else ""


@dataclass(frozen=True)
class FormMap:
    """Where an ODM form's item groups went: the main form (if it has non-repeating items) and
    one repeating form per repeating group."""

    main: str | None
    groups: dict[str, str]  # item group OID -> clestudy form id (main or repeating)
    fields: dict[str, dict[str, FieldSpec]]  # clestudy form id -> item OID -> field


@dataclass
class OdmMetadata:
    """A parsed metadata version: the protocol and the ODM-to-clestudy name maps."""

    protocol: Protocol
    visits: dict[str, str]  # StudyEventOID -> visit id
    forms: dict[str, FormMap]  # FormOID -> its map
    sites: dict[str, str]  # site Study OID -> site id
    users: dict[str, str] = field(default_factory=dict)  # User OID -> full name


def _fail(errors: list[str], message: str) -> None:
    errors.append(message)


def _field(path: Path, item: etree._Element, form_oid: str, mandatory: bool,
           lists: dict[str, etree._Element], units: dict[str, str],
           errors: list[str]) -> FieldSpec | None:  # fmt: skip
    data_type = item.get("DataType", "")
    name = str(item.get("Name") or item.get("OID") or "")
    present = next(
        (p for p in item.iter(f"{{{OC}}}ItemPresentInForm") if p.get("FormOID") == form_oid), None
    )
    response_node = present.find(f"{{{OC}}}ItemResponse") if present is not None else None
    response = response_node.get("ResponseType", "") if response_node is not None else ""
    left_text = present.findtext(f"{{{OC}}}LeftItemText") if present is not None else None
    choices: tuple[Choice, ...] = ()
    ref = item.find(_q("CodeListRef"))
    kind: FieldType = _TYPES.get(data_type, "text")
    if ref is not None:
        codes = lists.get(ref.get("CodeListOID", ""))
        if codes is None:
            _fail(errors, where(path, ref, f"code list '{ref.get('CodeListOID')}' is not defined"))
            return None
        labels: dict[str, str] = {}
        for twin in [codes, *(c for c in lists.values() if c is not codes
                              and c.get("Name") == codes.get("Name"))]:  # fmt: skip
            for c in twin.iter(_q("CodeListItem")):
                labels.setdefault(c.get("CodedValue", ""), _text(c, "Decode", "TranslatedText"))
        choices = tuple(Choice(code=code, label=label) for code, label in labels.items())
        kind = "multiple_choice" if response in _MULTIPLE else "single_choice"
    unit_ref = item.find(_q("MeasurementUnitRef"))
    annotations = {"odm_oid": item.get("OID", ""), "odm_data_type": data_type}
    for attribute in ("Length", "SignificantDigits", "SASFieldName", "Comment"):
        if item.get(attribute):
            annotations[f"odm_{attribute.lower()}"] = item.get(attribute, "")
    if response:
        annotations["openclinica_response_type"] = response
    if item.find(_q("RangeCheck")) is not None:
        annotations["odm_range_checks"] = json.dumps(_range_checks(item), ensure_ascii=False)
    try:
        return FieldSpec(
            id=ident(name),
            label=" ".join((left_text or "").split())
            or _text(item, "Question", "TranslatedText")
            or item.get("Comment")
            or name,
            type=kind,
            unit=units.get(unit_ref.get("MeasurementUnitOID", ""))
            if unit_ref is not None
            else None,
            required=mandatory,
            choices=choices,
            annotations=annotations,
        )
    except ValidationError as exc:
        _fail(errors, where(path, item, exc.errors()[0]["msg"]))
        return None


def _range_checks(item: etree._Element) -> list[tuple[str, str, str]]:
    """``(comparator, value, message)`` of each ``RangeCheck`` of an item."""
    return [
        (
            c.get("Comparator", ""),
            _text(c, "CheckValue"),
            _text(c, "ErrorMessage", "TranslatedText"),
        )
        for c in item.iter(_q("RangeCheck"))
    ]


def _range_check(form_id: str, spec: FieldSpec, item: etree._Element) -> EditCheckSpec | None:
    """A numeric item's range checks as one ``warning`` edit check (others are kept in the
    field's ``odm_range_checks`` annotation, not evaluated)."""
    checks = _range_checks(item)
    if not checks or spec.type not in ("integer", "decimal"):
        return None
    parts = []
    for comparator, value, _ in checks:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        if comparator not in _OPERATORS or not number.is_finite():
            return None
        parts.append(f"{spec.id} {_OPERATORS[comparator]} {value}")
    message = next((m for _, _, m in checks if m), "")
    return EditCheckSpec(
        id=f"{form_id}.{spec.id}_range",
        form=form_id,
        rule=" and ".join(parts),
        severity="warning",
        message=message or f"{spec.id} is outside its range ({' and '.join(parts)})",
        fields=(spec.id,),
        source="ODM RangeCheck of the imported study",
    )


def _form(path: Path, form: etree._Element, defs: dict[str, dict[str, etree._Element]],
          units: dict[str, str],
          errors: list[str], checks: list[EditCheckSpec]) -> tuple[FormMap, list[FormSpec]]:  # fmt: skip
    form_oid = form.get("OID", "")
    form_id = ident(form_oid, "F_")
    main: dict[str, FieldSpec] = {}
    parts: dict[str, dict[str, FieldSpec]] = {}
    groups: dict[str, str] = {}
    for ref in form.iter(_q("ItemGroupRef")):
        group = defs["ItemGroupDef"].get(ref.get("ItemGroupOID", ""))
        if group is None:
            _fail(
                errors, where(path, ref, f"item group '{ref.get('ItemGroupOID')}' is not defined")
            )
            continue
        repeating = group.get("Repeating") == "Yes"
        target_id = f"{form_id}__{ident(group.get('OID', ''), 'IG_')}" if repeating else form_id
        groups[group.get("OID", "")] = target_id
        target = parts.setdefault(target_id, {}) if repeating else main
        for item_ref in group.iter(_q("ItemRef")):
            item = defs["ItemDef"].get(item_ref.get("ItemOID", ""))
            if item is None:
                _fail(
                    errors,
                    where(path, item_ref, f"item '{item_ref.get('ItemOID')}' is not defined"),
                )
                continue
            spec = _field(path, item, form_oid, item_ref.get("Mandatory") == "Yes",
                          defs["CodeList"], units, errors)  # fmt: skip
            if spec is None:
                continue
            if any(s.id == spec.id for s in target.values()):
                spec = spec.model_copy(update={"id": ident(item.get("OID", ""), "I_")})
            target[item.get("OID", "")] = spec
            check = _range_check(target_id, spec, item)
            if check is not None:
                checks.append(check)
    specs: list[FormSpec] = []
    fields: dict[str, dict[str, FieldSpec]] = {}
    name = form.get("Name") or form_oid
    for target_id, items in ((form_id, main), *parts.items()):
        if not items:
            continue
        fields[target_id] = items
        label = name if target_id == form_id else f"{name}: {target_id.split('__')[-1]}"
        specs.append(FormSpec(id=target_id, name=label, repeating=target_id != form_id,
                              fields=tuple(items.values())))  # fmt: skip
    if not specs:
        _fail(errors, where(path, form, "the form holds no item"))
    return FormMap(form_id if main else None, groups, fields), specs


def _definitions(mdv: etree._Element) -> dict[str, dict[str, etree._Element]]:
    defs: dict[str, dict[str, etree._Element]] = {
        kind: {n.get("OID", ""): n for n in mdv.iter(_q(kind))}
        for kind in ("StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef", "CodeList")
    }
    return defs


def _units(study: etree._Element) -> dict[str, str]:
    return {
        str(u.get("OID", "")): str(u.get("Name", "")) for u in study.iter(_q("MeasurementUnit"))
    }


def _metadata_hash(mdv: etree._Element) -> str:
    return hashlib.sha256(etree.tostring(mdv, method="c14n")).hexdigest()[:12]


def _parent(path: Path, root: etree._Element) -> tuple[etree._Element, etree._Element]:
    studies = root.findall(_q("Study"))
    for study in studies:
        mdv = study.find(_q("MetaDataVersion"))
        if mdv is not None and mdv.find(_q("Include")) is None:
            return study, mdv
    raise InputError(where(path, root, "no <Study> with a <MetaDataVersion> of its own"))


def read_metadata(path: Path, root: etree._Element) -> OdmMetadata:
    """The protocol an ODM file describes, and how its OIDs map to clestudy ids.

    Raises
    ------
    InputError
        Every problem found, each naming the file, line and element.
    """
    errors: list[str] = []
    study, mdv = _parent(path, root)
    defs, units = _definitions(mdv), _units(study)
    checks: list[EditCheckSpec] = []
    forms: dict[str, FormMap] = {}
    specs: list[FormSpec] = []
    for form in defs["FormDef"].values():
        mapped, made = _form(path, form, defs, units, errors, checks)
        forms[form.get("OID", "")] = mapped
        specs += made
    visits: dict[str, str] = {}
    visit_specs: list[Visit] = []
    for day, ref in enumerate(mdv.iter(_q("StudyEventRef"))):
        event = defs["StudyEventDef"].get(ref.get("StudyEventOID", ""))
        if event is None:
            _fail(
                errors, where(path, ref, f"study event '{ref.get('StudyEventOID')}' is not defined")
            )
            continue
        visit_id = ident(event.get("OID", ""), "SE_")
        visits[event.get("OID", "")] = visit_id
        collected = [
            target
            for form_ref in event.iter(_q("FormRef"))
            for target in forms.get(form_ref.get("FormOID", ""), FormMap(None, {}, {})).fields
        ]
        visit_specs.append(Visit(id=visit_id, name=event.get("Name") or visit_id, day=day,
                                 forms=tuple(dict.fromkeys(collected))))  # fmt: skip
    sites = {
        s.get("OID", ""): ident(s.get("OID", ""))
        for s in root.findall(_q("Study"))
        if s is not study
    }
    sites[study.get("OID", "")] = ident(study.get("OID", ""))
    names = {ident(s.get("OID", "")): _text(s, "GlobalVariables", "StudyName") or s.get("OID", "")
             for s in root.findall(_q("Study"))}  # fmt: skip
    users = {
        u.get("OID", ""): _text(u, "FullName") or u.get("OID", "") for u in root.iter(_q("User"))
    }
    if errors:
        raise InputError(_joined(errors))
    protocol_name = _text(study, "GlobalVariables", "ProtocolName") or study.get("OID", "")
    slug = re.sub(r"[^a-z0-9_-]+", "-", protocol_name.lower()).strip("-")
    try:
        protocol = Protocol(
            id=slug if re.match(r"^[a-z]", slug) else f"odm-{slug}",
            title=_text(study, "GlobalVariables", "StudyName") or protocol_name,
            version=f"odm-{_metadata_hash(mdv)}",
            description=_text(study, "GlobalVariables", "StudyDescription"),
            arms=(Arm(id="all", name="All subjects"),),
            sites=tuple(Site(id=s, name=names[s]) for s in sorted(set(sites.values()))),
            visits=tuple(visit_specs),
            forms=tuple(specs),
            edit_checks=tuple(checks),
            annotations={
                "odm_study_oid": study.get("OID", ""),
                "odm_metadata_version_oid": mdv.get("OID", ""),
                "odm_file_oid": root.get("FileOID", ""),
                "odm_source": "OpenClinica" if root.nsmap.get("OpenClinica") == OC else "ODM",
                "odm_form_oids": json.dumps({k: v.main for k, v in forms.items()}),
            },
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InputError(
            where(path, mdv, f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}")
        ) from None
    return OdmMetadata(protocol, visits, forms, sites, users)


def _joined(errors: list[str]) -> str:
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return f"{len(unique)} problems, nothing imported:\n" + "\n".join(unique)
