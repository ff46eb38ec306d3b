"""SDTM datasets from a study: DM, AE, CM, EX, LB, VS, RS and their SUPPxx.

The mapping is declared by the protocol itself: each form's ``domain`` tag says where its records
go, and each field's ``cdash`` name says which variable it fills (docs/protocols.md), unless the
protocol's ``sdtm:`` block overrides them (:mod:`clestudy.protocol._sdtm_mapping`, applied by
:func:`~clestudy.protocol._sdtm_mapping.mapped_protocol` before anything below):

* a plain CDASH name fills the SDTM variable of the same name; a collection date ``--DAT``
  becomes the ISO 8601 ``--DTC`` (``AESTDAT`` -> ``AESTDTC``) with its study day ``--DY``
  (``AESTDY``); a boolean becomes ``Y``/``N`` (CT ``NY``); a CTCAE grade is text (``AETOXGR``);
* ``--ORRES (--TESTCD=CODE)`` in a findings form (LB, VS, RS) makes one row per record with that
  test code; a field without a CDASH name in a findings form is a sponsor-defined test
  (:func:`~clestudy.interop._sdtm_rules.short_code` of its id);
* ``VAR (KEY=VALUE)`` in an interventions form (``CMDOSE (CMTRT=PREDNISONE)``) makes one row per
  record with ``KEY = VALUE`` and ``VAR`` = the field's value (unit in ``--DOSU``);
* anything else (a field without a CDASH name in DM, AE, CM or EX, or a name the domain has no
  variable for) goes to ``SUPPxx`` (``QNAM`` from the field id, ``QLABEL`` its label, ``QORIG``
  CRF), tied to its row by ``--SEQ``.

Clinician-reported scores (CLASI, SLEDAI-2K) go to **RS**, not QS: the SDTMIG v3.3 puts
clinician-reported disease activity and clinical classifications in RS ("Disease Response and
Clin Classification") and keeps QS for questionnaires the subject answers; CDISC publishes no
CLASI or SLEDAI-2K supplement, so their test codes are sponsor-defined, ``RSCAT`` is the
instrument, ``RSEVAL`` is ``INVESTIGATOR`` and the derived totals are rows of their own
(docs/references.md [SDTMIG 3.3]). Lab results carry ``LBTOXGR``, the CTCAE v5.0 grade the store
derived on save (``ctcaelabs``), never a grade computed here.

``RFSTDTC`` is the subject's first study-drug start date (EX ``EXSTDAT``), else the date of the
subject's first dated record at the first visit, else their earliest date; ``RFENDTC`` their
latest date. ``ACTARM`` is the planned arm (clestudy records no arm change). ``AEDECOD`` and the
other MedDRA variables come from the sponsor's coding file, or ``AELLT``/``AELLTCD`` from a CTCAE
v5.0 term (:mod:`clestudy.interop._sdtm_meddra`); a term left without ``AEDECOD`` is listed in the
manifest. A character value longer than the 200 bytes of SAS transport v5 is continued in SUPPxx
(:mod:`clestudy.interop._sdtm_dataset`). A form tagged with another domain (e.g. FA) is not
tabulated; the manifest lists it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeGuard

from clestudy.interop._sdtm_dataset import Dataset, Row, build_datasets
from clestudy.interop._sdtm_meddra import CTCAE_MEDDRA_VERSION, AeCoding, ae_coding_values
from clestudy.interop._sdtm_rules import ascii_text, short_code, study_day
from clestudy.interop._sdtm_vars import DOMAINS, DomainSpec, is_numeric, variable_label
from clestudy.protocol import FieldSpec, FormSpec, Protocol
from clestudy.protocol._missing_codes import coded_fields
from clestudy.protocol._sdtm_mapping import mapped_protocol
from clestudy.store import RecordState, Store

__all__ = ["Dataset", "reference_dates", "sdtm_datasets", "untabulated_forms"]

_PLAIN = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
_TEST = re.compile(r"^([A-Z]{2})ORRES \(\1TESTCD=([A-Z0-9_]{1,8})\)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEYED = re.compile(r"^([A-Z][A-Z0-9]{1,7}) \(([A-Z][A-Z0-9]{1,7})=([^)]+)\)$")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return ascii_text(str(value))


def _is_date_value(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _ISO_DATE.match(value) is not None


def _date_fields(form: FormSpec) -> list[FieldSpec]:
    """Fields holding dates: typed ``date``, or converted to study days by de-identification."""
    return [f for f in form.fields if f.type == "date" or "study_day_of" in f.annotations]


def _event_dates(form: FormSpec) -> list[FieldSpec]:
    """Date fields that date something done in the study (a date of birth does not)."""
    return [f for f in _date_fields(form) if f.cdash != "BRTHDAT"]


def _record_date(form: FormSpec, record: RecordState) -> Any:
    dates = _event_dates(form)
    chosen = form.field(form.visit_date) if form.visit_date else None
    spec = chosen or next(iter(dates), None)
    return record.values.get(spec.id) if spec else None


def reference_dates(protocol: Protocol, records: Sequence[RecordState]) -> dict[str, str]:
    """``RFSTDTC`` of every subject with a date (see the module docstring)."""
    first_visit = protocol.visits[0].id
    start: dict[str, str] = {}
    earliest: dict[str, str] = {}
    visit_dates: dict[str, str] = {}
    for record in records:
        form = protocol.form(record.form_id)
        if form is None:
            continue
        for spec in _event_dates(form):
            value = record.values.get(spec.id)
            if not _is_date_value(value):
                continue
            subject = record.subject_id
            earliest[subject] = min(earliest.get(subject, value), value)
            if spec.cdash == "EXSTDAT":
                start[subject] = min(start.get(subject, value), value)
        dated = _record_date(form, record)
        if record.visit_id == first_visit and _is_date_value(dated):
            subject = record.subject_id
            visit_dates[subject] = min(visit_dates.get(subject, dated), dated)
    return {s: start.get(s) or visit_dates.get(s) or earliest[s] for s in earliest}


class _Context:
    def __init__(self, store: Store, ae_coding: AeCoding | None) -> None:
        self.ae_coding = ae_coding
        self.uncoded: set[str] = set()
        self.protocol = mapped_protocol(store.protocol)
        self.study = ascii_text(self.protocol.id)
        self.records = store.records()
        self.subjects = store.subjects()
        self.rfst = reference_dates(self.protocol, self.records)
        self.visit_num = {v.id: float(n) for n, v in enumerate(self.protocol.visits, 1)}
        self.visit_name = {v.id: ascii_text(v.name) for v in self.protocol.visits}
        self.code_labels = {c.code: c.label for c in self.protocol.missing_codes}

    def base(self, domain: str, subject: str) -> dict[str, Any]:
        return {"STUDYID": self.study, "DOMAIN": domain, "USUBJID": f"{self.study}-{subject}"}

    def dated(self, row: dict[str, Any], dtc: str, value: Any, subject: str) -> None:
        """Fill ``dtc`` and its study day; a de-identified study day (an int) fills only the day."""
        dy = dtc[:-3] + "DY" if dtc.endswith(("STDTC", "ENDTC")) else dtc[:2] + "DY"
        if isinstance(value, int) and not isinstance(value, bool):
            row[dtc], row[dy] = "", value
        elif _is_date_value(value):
            row[dtc], row[dy] = value, study_day(value, self.rfst.get(subject))


def _dtc_name(cdash: str) -> str:
    return cdash[:-3] + "DTC" if cdash.endswith("DAT") else cdash


def _own_variable(domain: str, name: str) -> bool:
    return name.startswith(domain) and variable_label(name) != name


class _Qnams:
    """One ``QNAM`` per field of a domain, kept clear of the domain's own variable names."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.names: dict[str, str] = {}

    def __call__(self, spec: FieldSpec) -> str:
        if spec.id not in self.names:
            chosen = spec.annotations.get("sdtm_qnam")
            if chosen and chosen not in self.taken:
                self.taken.add(chosen)
                self.names[spec.id] = chosen
            else:
                self.names[spec.id] = short_code(spec.id, self.taken)
        return self.names[spec.id]


def _supp(rows: list[Row], spec: FieldSpec, value: Any, qnams: _Qnams) -> None:
    rows[-1].supp.append((qnams(spec), ascii_text(spec.label)[:40], _text(value)))


def _special_rows(ctx: _Context, forms: list[FormSpec]) -> list[Row]:
    """DM: one row per subject from the subject and the DM-tagged forms."""
    by_subject: dict[str, list[RecordState]] = {}
    ids = {f.id for f in forms}
    for record in ctx.records:
        if record.form_id in ids:
            by_subject.setdefault(record.subject_id, []).append(record)
    arms = {a.id: a.name for a in ctx.protocol.arms}
    latest: dict[str, str] = {}
    for record in ctx.records:
        for stored in record.values.values():
            if _is_date_value(stored):
                latest[record.subject_id] = max(latest.get(record.subject_id, ""), stored)
    taken = _Qnams({"AGE", "AGEU", "AGETXT", "SEX", "RACE", "ETHNIC", "BRTHDTC", "SITEID"})
    out: list[Row] = []
    for subject in ctx.subjects:
        row = Row(ctx.base("DM", subject.subject_id))
        row.values.update(SUBJID=subject.subject_id, RFSTDTC=ctx.rfst.get(subject.subject_id, ""),
                          RFENDTC=latest.get(subject.subject_id, ""), SITEID=subject.site)  # fmt: skip
        out.append(row)
        for record in by_subject.get(subject.subject_id, []):
            form = ctx.protocol.form(record.form_id)
            assert form is not None
            for spec in form.fields:
                value = record.values.get(spec.id)
                if value is None:
                    continue
                name = _dtc_name(spec.cdash or "")
                if name == "AGE":
                    _age(row.values, value, spec)
                elif name == "BRTHDTC":  # a de-identified study day (an int) has no DTC
                    row.values[name] = value if _is_date_value(value) else ""
                elif name in ("SEX", "RACE", "ETHNIC"):
                    row.values[name] = _text(value)
                else:
                    _supp(out, spec, value, taken)
        code, arm = ascii_text(subject.arm.upper())[:20], ascii_text(arms.get(subject.arm, ""))
        row.values.update(ARMCD=code, ARM=arm, ACTARMCD=code, ACTARM=arm)
    return out


def _age(row: dict[str, Any], value: Any, spec: FieldSpec) -> None:
    """``AGE`` for a number; ``AGETXT`` for a grouped age (a de-identified ``90+``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        row["AGE"] = float(value)
    elif str(value).replace(".", "", 1).isdigit():
        row["AGE"] = float(str(value))
    else:
        row["AGETXT"] = _text(value)
    if (spec.unit or "").lower().startswith("year"):
        row["AGEU"] = "YEARS"


def _event_rows(ctx: _Context, spec_: DomainSpec, forms: list[FormSpec]) -> list[Row]:
    """AE, CM, EX: one row per record, or per ``VAR (KEY=VALUE)`` field with a value."""
    domain = spec_.name
    out: list[Row] = []
    taken = _Qnams(set())
    for form in forms:
        keyed = [f for f in form.fields if f.cdash and _KEYED.match(f.cdash)]
        for record in (r for r in ctx.records if r.form_id == form.id):
            subject = record.subject_id
            common = Row(ctx.base(domain, subject))
            supp_rows = [common]
            if "VISITNUM" in spec_.keys:
                common.values.update(VISITNUM=ctx.visit_num[record.visit_id],
                                     VISIT=ctx.visit_name[record.visit_id])  # fmt: skip
            if domain == "AE":
                common.values["AEDECOD"] = ""
            for spec in form.fields:
                value = record.values.get(spec.id)
                if value is None or spec in keyed:
                    continue
                name = _dtc_name(spec.cdash or "")
                if spec.cdash and _PLAIN.match(spec.cdash) and name.endswith("DTC"):
                    ctx.dated(common.values, name, value, subject)
                elif spec.cdash and _PLAIN.match(spec.cdash) and _own_variable(domain, name):
                    common.values[name] = float(str(value)) if is_numeric(name) else _text(value)
                    if name.endswith("DOSE") and spec.unit:
                        common.values[domain + "DOSU"] = ascii_text(spec.unit)
                else:
                    _supp(supp_rows, spec, value, taken)
            if domain == "AE":
                _code_ae(ctx, common.values)
            if not keyed:
                out.append(common)
            for spec in keyed:
                value = record.values.get(spec.id)
                match = _KEYED.match(spec.cdash or "")
                if value is None or match is None:
                    continue
                row = Row(dict(common.values), list(common.supp))
                row.values[match[2]] = ascii_text(match[3])
                row.values[match[1]] = float(str(value)) if is_numeric(match[1]) else _text(value)
                if spec.unit:
                    row.values[domain + "DOSU"] = ascii_text(spec.unit)
                out.append(row)
    return out


def _code_ae(ctx: _Context, row: dict[str, Any]) -> None:
    """The MedDRA variables of an AE row (:func:`~clestudy.interop._sdtm_meddra.ae_coding_values`),
    codes as numbers; a reported term left without ``AEDECOD`` is noted for the manifest."""
    term = str(row.get("AETERM", ""))
    for name, value in ae_coding_values(term, ctx.ae_coding).items():
        row[name] = float(value) if is_numeric(name) else ascii_text(value)
    if term and not row.get("AEDECOD"):
        ctx.uncoded.add(term)


def _meddra(ctx: _Context, datasets: list[Dataset]) -> None:
    """Name the MedDRA version of the AE dictionary variables (Define-XML ``ExternalCodeList``)
    and the reported terms left uncoded."""
    ae = next((d for d in datasets if d.name == "AE"), None)
    if ae is None:
        return
    version = ctx.ae_coding.meddra_version if ctx.ae_coding else CTCAE_MEDDRA_VERSION
    for name in ("AELLT", "AEDECOD", "AESOC", "AEBODSYS"):
        if name in ae.frame.columns and (ae.frame[name] != "").any():
            ae.external[name] = ("MEDDRA", version)
    ae.uncoded_terms = sorted(ctx.uncoded)


def _finding(ctx: _Context, domain: str, record: RecordState, date: Any) -> dict[str, Any]:
    row = ctx.base(domain, record.subject_id)
    row.update(VISITNUM=ctx.visit_num[record.visit_id], VISIT=ctx.visit_name[record.visit_id])
    ctx.dated(row, f"{domain}DTC", date, record.subject_id)
    if domain == "RS":
        row["RSEVAL"] = "INVESTIGATOR"
    return row


def _result(row: dict[str, Any], domain: str, value: Any, unit: str | None) -> None:
    text = _text(value)
    row[f"{domain}ORRES"] = row[f"{domain}STRESC"] = text
    try:
        number = float(text) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    row[f"{domain}STRESN"] = number
    row[f"{domain}ORRESU"] = row[f"{domain}STRESU"] = ascii_text(unit or "")


NOT_DONE = "NOT DONE"
"""``--STAT`` of a test not done: the one term of the CDISC CT codelist ``ND`` ("Not Done")."""


def _not_done(row: dict[str, Any], domain: str, reason: str) -> None:
    """A test not done (SDTMIG v3.3 section 4.5.1.2): no result, ``--STAT`` ``NOT DONE`` and the
    reason in ``--REASND``."""
    row[f"{domain}ORRES"] = row[f"{domain}STRESC"] = ""
    row[f"{domain}STRESN"] = None
    row[f"{domain}ORRESU"] = row[f"{domain}STRESU"] = ""
    row[f"{domain}STAT"], row[f"{domain}REASND"] = NOT_DONE, ascii_text(reason)


def _test_codes(domain: str, forms: list[FormSpec]) -> dict[tuple[str, str], str]:
    codes: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for form in forms:
        for spec in form.fields:
            match = _TEST.match(spec.cdash or "")
            if match and match[1] == domain:
                codes[(form.id, spec.id)] = match[2]
                taken.add(match[2])
    for form in forms:
        for spec in form.fields:
            if (form.id, spec.id) not in codes and spec not in _date_fields(form):
                codes[(form.id, spec.id)] = spec.annotations.get("sdtm_testcd") or short_code(
                    spec.id, taken
                )
    return codes


def _category(ctx: _Context, domain: str, form: FormSpec) -> str:
    if domain == "RS":
        names = [d.instrument.upper() for d in ctx.protocol.derived_for_form(form.id)]
        return ascii_text(names[0] if names else form.name.upper())[:40]
    return ascii_text(form.name.upper())[:40] if domain == "LB" else ""


def _finding_rows(ctx: _Context, spec_: DomainSpec, forms: list[FormSpec]) -> list[Row]:
    """LB, VS, RS: one row per result; RS also one per derived total; LB with ``LBTOXGR``."""
    domain = spec_.name
    codes = _test_codes(domain, forms)
    taken = set(codes.values())
    out: list[Row] = []
    for form in forms:
        category = _category(ctx, domain, form)
        for record in (r for r in ctx.records if r.form_id == form.id):
            date = _record_date(form, record)
            grades = {k: v for s in record.derived.values() if s["instrument"] == "ctcaelabs"
                      for k, v in s["values"].items()}  # fmt: skip
            coded = coded_fields(record.values)
            for spec in form.fields:
                value = record.values.get(spec.id)
                if (value is None and spec.id not in coded) or (form.id, spec.id) not in codes:
                    continue
                row = _finding(ctx, domain, record, date)
                code = codes[(form.id, spec.id)]
                row.update({f"{domain}TESTCD": code, f"{domain}TEST": ascii_text(spec.label)[:40]})
                if category:
                    row[f"{domain}CAT"] = category
                if value is None:
                    missing = coded[spec.id]
                    _not_done(row, domain, ctx.code_labels.get(missing, missing))
                    out.append(Row(row))
                    continue
                _result(row, domain, value, spec.unit)
                grade = grades.get(f"{code.lower()}_grade")
                if domain == "LB" and grade is not None:
                    row["LBTOXGR"] = str(grade)
                out.append(Row(row))
            if domain != "RS":
                continue
            for score in record.derived.values():
                for item, value in score["values"].items():
                    if value is None:
                        continue
                    row = _finding(ctx, domain, record, date)
                    key = (form.id, f"derived:{item}")
                    if key not in codes:
                        codes[key] = short_code(item, taken)
                    code = codes[key]
                    row.update({"RSTESTCD": code, "RSTEST": ascii_text(item.replace("_", " "))[:40],
                                "RSCAT": category})  # fmt: skip
                    _result(row, domain, value, None)
                    out.append(Row(row))
    return out


def untabulated_forms(protocol: Protocol) -> list[str]:
    """Forms whose domain (after the protocol's ``sdtm:`` block) clestudy does not tabulate."""
    return [f.id for f in mapped_protocol(protocol).forms if f.domain not in DOMAINS]


def _written(dataset: Dataset, column: str) -> dict[str, str]:
    """The values written in ``column``, sorted, as a codelist without decodes."""
    return dict.fromkeys(sorted(set(dataset.frame[column]) - {""}), "")


def _codelists(protocol: Protocol, datasets: list[Dataset]) -> None:
    """Attach each coded field's codes to the variable it fills (for the Define-XML): a single
    choice its choices, a boolean the ``NY`` values ``Y``/``N``, ``AGEU`` its unit, ``--STAT``
    ``NOT DONE``, ``--ORRESU``/``--STRESU``/``--DOSU`` the units written (no decode) and a
    findings ``--TESTCD`` its test codes."""
    by_name = {d.name: d for d in datasets}
    for form in protocol.forms:
        dataset = by_name.get(form.domain or "")
        for spec in form.fields:
            name = _dtc_name(spec.cdash or "")
            if dataset is None or not _PLAIN.match(name) or name not in dataset.frame.columns:
                continue
            if spec.type == "single_choice":
                codes = {ascii_text(c.code): ascii_text(c.label) for c in spec.choices}
                dataset.codelists.setdefault(name, {}).update(codes)
            elif spec.type == "boolean":
                dataset.codelists[name] = {"Y": "Yes", "N": "No"}
    for dataset in datasets:  # a test not done: the one term of codelist ND, no decode
        if f"{dataset.name}STAT" in dataset.frame.columns:
            dataset.codelists[f"{dataset.name}STAT"] = {NOT_DONE: ""}
        for unit in (f"{dataset.name}{s}" for s in ("ORRESU", "STRESU", "DOSU")):  # the units
            if unit in dataset.frame.columns and (units := _written(dataset, unit)):
                dataset.codelists[unit] = units
    dm = by_name.get("DM")
    if dm is not None and "AGEU" in dm.frame.columns:  # assigned, not collected: no decode
        dm.codelists["AGEU"] = _written(dm, "AGEU")
    for dataset in datasets:  # each findings test code, decoded by its test name
        testcd, test = f"{dataset.name}TESTCD", f"{dataset.name}TEST"
        if testcd in dataset.frame.columns and test in dataset.frame.columns:
            pairs = dataset.frame.drop_duplicates(testcd).sort_values(testcd)
            dataset.codelists[testcd] = dict(zip(pairs[testcd], pairs[test], strict=True))


def sdtm_datasets(store: Store, *, ae_coding: AeCoding | None = None) -> list[Dataset]:
    """Every SDTM dataset of the study that has rows, in domain order (DM first); ``ae_coding``
    is the sponsor's MedDRA coding of the reported AE terms, if any."""
    ctx = _Context(store, ae_coding)
    out: list[Dataset] = []
    for name, spec in DOMAINS.items():
        forms = [f for f in ctx.protocol.forms if f.domain == name]
        if name == "DM":
            rows = _special_rows(ctx, forms)
        elif not forms:
            continue
        elif spec.domain_class == "FINDINGS":
            rows = _finding_rows(ctx, spec, forms)
        else:
            rows = _event_rows(ctx, spec, forms)
        if rows:
            out += build_datasets(spec, rows, ctx.study)
    _codelists(ctx.protocol, out)
    _meddra(ctx, out)
    return out
