"""The protocol's ``sdtm:`` block: where the SDTM export puts a form's records and a field's values.

By default the mapping is the CDASH one (docs/protocols.md): a form's ``domain`` says where its
records go and a field's ``cdash`` name which variable it fills. The block overrides it where a
study needs to, and says so in the protocol, where a reviewer reads it::

    sdtm:
      forms:
      - {form: skin, domain: RS}              # tabulate the form's records in RS
      fields:
      - {form: labs, field: crp, testcd: CRP} # LBORRES with LBTESTCD=CRP
      - {form: labs, field: weight, domain: VS, testcd: WEIGHT}  # a finding moved to VS
      - {form: ae, field: aeterm_other, variable: AETERM}
      - {form: dm, field: handedness, qnam: HANDED}   # to SUPPDM as QNAM HANDED

``variable`` names the SDTM variable (a date's ``--DTC`` or ``--STDTC``; the findings result
``--ORRES``), ``testcd`` the findings test code, ``qnam`` a supplemental qualifier (the field then
goes to SUPP--). A field goes with its form's records, in the form's domain, except that a
finding may move to another findings domain (``domain``: LB, VS, RS; with the form's dates).

Checks (at protocol load, each naming the YAML path and line): the domain is one the export
writes (:data:`SDTM_VARIABLES`), a field moves only between findings domains, the form and field
exist, the variable belongs to the domain,
a test code is given for a findings result and only there, names are SAS transport v5 names of
at most 8 characters (SDTMIG v3.3 section 4 and SAS TS-140; docs/references.md [SDTMIG 3.3],
[SAS XPORT v5]), and no field is mapped twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from clestudy.protocol._model import FieldSpec, FormSpec, Protocol

__all__ = [
    "FINDINGS_DOMAINS",
    "SDTM_VARIABLES",
    "SdtmFieldMap",
    "SdtmFormMap",
    "SdtmMapping",
    "mapped_protocol",
    "sdtm_mapping_errors",
]

FINDINGS_DOMAINS = frozenset({"LB", "VS", "RS"})
"""Findings domains: a field there is a test (``--ORRES`` with ``--TESTCD``)."""

SDTM_VARIABLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "DM": frozenset({"AGE", "SEX", "RACE", "ETHNIC", "BRTHDTC"}),
        "AE": frozenset({"AETERM", "AESER", "AEREL", "AEOUT", "AEACN", "AETOXGR", "AESTDTC",
                         "AEENDTC"}),
        "CM": frozenset({"CMTRT", "CMDOSE", "CMDOSU", "CMSTDTC", "CMENDTC"}),
        "EX": frozenset({"EXTRT", "EXDOSE", "EXDOSU", "EXSTDTC", "EXENDTC"}),
        "LB": frozenset({"LBORRES", "LBDTC"}),
        "VS": frozenset({"VSORRES", "VSDTC"}),
        "RS": frozenset({"RSORRES", "RSDTC"}),
    }
)  # fmt: skip
"""Each domain the SDTM export writes and the variables a field may fill there (SDTMIG v3.3)."""

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
Loc = tuple[str | int, ...]


def _sas_name(value: str | None) -> str | None:
    if value is None:
        return value
    if len(value) > 8:
        raise ValueError(f"'{value}' is longer than 8 characters (SAS transport v5 names)")
    if not _NAME.match(value):
        raise ValueError(f"'{value}' is not upper-case letters, digits or '_' (SAS names)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SdtmFormMap(_Strict):
    """A form tabulated in another domain than its ``domain`` tag."""

    form: str
    domain: str

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        return _sas_name(value) or value


class SdtmFieldMap(_Strict):
    """A field's SDTM target, overriding the one its CDASH name gives."""

    form: str
    field: str
    domain: str | None = None
    variable: str | None = None
    testcd: str | None = None
    qnam: str | None = None

    @field_validator("domain", "variable", "testcd", "qnam")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        return _sas_name(value)


class SdtmMapping(_Strict):
    """The ``sdtm:`` block of a protocol (module docstring)."""

    forms: tuple[SdtmFormMap, ...] = Field(default=(), description="Forms moved to a domain")
    fields: tuple[SdtmFieldMap, ...] = Field(default=(), description="Fields' SDTM targets")


def _domain(p: Protocol, form_id: str) -> str | None:
    moved = next((m.domain for m in _mapping(p).forms if m.form == form_id), None)
    form = p.form(form_id)
    return moved or (form.domain if form else None)


def _mapping(p: Protocol) -> SdtmMapping:
    return p.sdtm or SdtmMapping()


def _field_errors(p: Protocol, i: int, entry: SdtmFieldMap) -> Iterator[tuple[Loc, str]]:
    here: Loc = ("sdtm", "fields", i)
    form = p.form(entry.form)
    if form is None:
        yield (*here, "form"), f"unknown form '{entry.form}'"
        return
    if form.field(entry.field) is None:
        yield (*here, "field"), f"'{entry.field}' is not a field of form '{form.id}'"
    form_domain = _domain(p, form.id) or ""
    domain = entry.domain or form_domain
    if domain not in SDTM_VARIABLES:
        where, name = (
            ("domain", f"'{domain}' is") if entry.domain else ("form", f"form '{form.id}' has")
        )
        yield (*here, where), f"{name} not a domain the SDTM export writes"
        return
    moving = {domain, form_domain} - FINDINGS_DOMAINS
    if domain != form_domain and moving:
        yield (
            (*here, "domain"),
            (
                f"a field moves to another domain only between findings domains (LB, VS, RS), not "
                f"from {form_domain or 'no domain'} to {domain}: move the whole form under sdtm.forms"
            ),
        )
        return
    known = SDTM_VARIABLES[domain]
    if entry.variable and entry.variable not in known:
        yield (
            (*here, "variable"),
            (
                f"'{entry.variable}' is not one of the {domain} variables the SDTM export writes "
                f"({', '.join(sorted(known))})"
            ),
        )
    result = f"{domain}ORRES"
    needs_code = entry.variable in (None, result) and not (entry.testcd or entry.qnam)
    if domain in FINDINGS_DOMAINS and needs_code:
        yield (*here, "testcd"), f"a {domain} result needs a test code (testcd)"
    if entry.testcd and (domain not in FINDINGS_DOMAINS or entry.variable not in (None, result)):
        yield (*here, "testcd"), f"a test code applies only to a findings result ({result})"
    if entry.qnam and (entry.variable or entry.testcd):
        yield (*here, "qnam"), "a field goes either to a variable or to SUPP-- (qnam), not both"


def sdtm_mapping_errors(p: Protocol) -> Iterator[tuple[Loc, str]]:
    """Yield (YAML path, message) for each problem of the protocol's ``sdtm:`` block."""
    mapping = _mapping(p)
    for i, moved in enumerate(mapping.forms):
        if p.form(moved.form) is None:
            yield ("sdtm", "forms", i, "form"), f"unknown form '{moved.form}'"
        if moved.domain not in SDTM_VARIABLES:
            yield (
                ("sdtm", "forms", i, "domain"),
                (
                    f"'{moved.domain}' is not a domain the SDTM export writes "
                    f"({', '.join(SDTM_VARIABLES)})"
                ),
            )
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(mapping.fields):
        if (entry.form, entry.field) in seen:
            yield ("sdtm", "fields", i), f"field '{entry.form}.{entry.field}' is mapped twice"
        seen.add((entry.form, entry.field))
        yield from _field_errors(p, i, entry)


def _target(domain: str, spec: FieldSpec, entry: SdtmFieldMap) -> FieldSpec:
    """``spec`` with the CDASH annotation the export reads for ``entry``'s target."""
    annotations = dict(spec.annotations)
    if entry.qnam:
        annotations["sdtm_qnam"] = entry.qnam
        return spec.model_copy(update={"cdash": None, "annotations": annotations})
    variable = entry.variable or f"{domain}ORRES"
    if entry.testcd:
        cdash = f"{variable} ({domain}TESTCD={entry.testcd})"
    elif variable.endswith("DTC"):  # the CDASH collection date: --STDAT, --DAT, BRTHDAT
        cdash = variable[:-3] + "DAT"
    else:
        cdash = variable
    return spec.model_copy(update={"cdash": cdash})


def _variants(p: Protocol, form: FormSpec) -> list[FormSpec]:
    """``form`` as the export reads it: its own domain's fields, and one more form (same id) per
    findings domain some of its fields move to, holding those fields and the form's dates."""
    mapping = _mapping(p)
    home = _domain(p, form.id) or ""
    entries = {e.field: e for e in mapping.fields if e.form == form.id}
    targets = {
        f.id: (entries[f.id].domain or home) if f.id in entries else home for f in form.fields
    }
    out = []
    for domain in dict.fromkeys([home, *targets.values()]):
        fields = tuple(
            _target(domain, f, entries[f.id]) if f.id in entries else f
            for f in form.fields
            if targets[f.id] == domain or (domain != home and f.type == "date")
        )
        out.append(form.model_copy(update={"domain": domain or None, "fields": fields}))
    return out


def mapped_protocol(p: Protocol) -> Protocol:
    """``p`` with its ``sdtm:`` block applied to the forms' domains and fields' CDASH names, the
    shape the SDTM export reads (a form some of whose findings move to another findings domain
    appears once per domain, under its own id); ``p`` itself when it has no block."""
    mapping = _mapping(p)
    if not mapping.forms and not mapping.fields:
        return p
    forms = [variant for form in p.forms for variant in _variants(p, form)]
    return p.model_copy(update={"forms": tuple(forms)})
