"""Data-quality rules over a whole study: the pure runner behind ``clestudy dq run``.

Edit checks (:mod:`clestudy.protocol._checks`) judge one record as it is saved. A data manager
also needs the whole study judged as it stands now, against the protocol in force now (a range
tightened by an amendment, a visit whose window has since closed). :func:`run_quality_rules` does
that over plain data (the subjects and their stored records) and returns every finding, in one
deterministic order, whatever order the records come in.

Built-in rules
--------------
=====================  ============  ======================================================
rule                   category      what it finds
=====================  ============  ======================================================
``dq.missing_form``    missing       a form the schedule expects that has no record: every
                                     non-repeating form of the baseline visit (due from
                                     enrolment), and of each later visit whose window has
                                     closed (baseline date + ``day`` + ``window_after``
                                     before today). A repeating form (adverse events) is
                                     never expected: an empty log is a valid answer. Without
                                     a baseline date no later visit is due yet.
``dq.missing_value``   missing       a stored record with a needed field empty: a
                                     ``required`` field or an input of one of the form's
                                     derived scores (what keeps a record ``incomplete``).
                                     One finding per record, naming every such field.
``dq.out_of_range``    range         a stored value its field no longer accepts: outside
                                     ``min``/``max`` or ``allowed``, a choice code no longer
                                     offered, a value of the wrong type. Saves refuse these,
                                     so they are values saved before an amendment tightened
                                     the field. One finding per field.
``dq.visit_window``    window        a record whose visit date (the form's ``visit_date``)
                                     lies outside its visit's window counted from the
                                     baseline date, with the windows of the protocol now in
                                     force.
edit-check ids         edit-check    every edit check (built-in and declared) re-run on
                                     every stored record with today's context: errors a
                                     save would now refuse and warnings, except
                                     ``builtin.visit_window`` (that is ``dq.visit_window``).
study rule ids         study-rule    the protocol's ``quality_rules``
=====================  ============  ======================================================

"Missing" therefore means two things, reported apart: a record that exists but lacks a needed
value (``dq.missing_value``), and a record that should exist by now and does not
(``dq.missing_form``). Records of a visit or form the protocol no longer has (after a forced
amendment, whose audit event lists them) are left out.

The context of a record's checks is the store's (:mod:`clestudy.store._checks`): the baseline
date is the visit date of the baseline visit (day 0, else the earliest), from the first of its
dated forms that holds one; the date of birth (CDASH ``BRTHDAT``) and of consent (``RFICDAT`` or
``DSSTDAT``) are read from the subject's records in protocol visit order, the last one winning.

Each finding has a stable key, ``SUBJECT/VISIT/FORM[#N]/RULE`` (``/FIELD`` added for a per-field
rule), so two runs over the same data give the same keys, and ``data_sha256``, a hash of the
values the finding read (the field's value for a per-field finding, the needed fields for
``dq.missing_value``, the record's values and context dates for edit checks and study rules), so
an exclusion can tell whether the data changed since it was made.

The same idea as REDCap's data-quality module (rules "blank required fields", "out of range",
custom rules; results excluded per record), per docs/data-management.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from clestudy.errors import RecordValidationError
from clestudy.protocol._checks import CheckContext, _show, run_edit_checks
from clestudy.protocol._expressions import (
    CONTEXT_NAMES,
    evaluate,
    expression_names,
    expression_problems,
    typed_value,
)
from clestudy.protocol._field_types import FIELD_TYPES, stored_date
from clestudy.protocol._missing_codes import coded_fields, score_inputs
from clestudy.protocol._model import FieldSpec, FormSpec, Protocol, QualityRuleSpec, Visit

__all__ = [
    "BUILTIN_QUALITY_RULES",
    "MISSING_FORM",
    "MISSING_VALUE",
    "OUT_OF_RANGE",
    "VISIT_WINDOW",
    "QualityFinding",
    "QualityRecord",
    "cross_form_names",
    "quality_rule_errors",
    "run_quality_rules",
]

MISSING_FORM = "dq.missing_form"
MISSING_VALUE = "dq.missing_value"
OUT_OF_RANGE = "dq.out_of_range"
VISIT_WINDOW = "dq.visit_window"
#: The built-in data-quality rules, in the order their findings are listed.
BUILTIN_QUALITY_RULES = (MISSING_FORM, MISSING_VALUE, OUT_OF_RANGE, VISIT_WINDOW)
_CATEGORY = {
    MISSING_FORM: "missing",
    MISSING_VALUE: "missing",
    OUT_OF_RANGE: "range",
    VISIT_WINDOW: "window",
}
#: Checked by ``dq.visit_window`` with the current baseline; not re-run as an edit check.
_WINDOW_CHECK = "builtin.visit_window"
_BIRTH = ("BRTHDAT",)
_CONSENT = ("RFICDAT", "DSSTDAT")
_SHOWN_FIELDS = 10


@dataclass(frozen=True)
class QualityRecord:
    """One stored record as the runner reads it (values as stored, JSON scalars and lists)."""

    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    values: Mapping[str, object]


@dataclass(frozen=True)
class QualityFinding:
    """One finding of a data-quality run.

    ``field`` is the one field of a per-field finding (``dq.out_of_range``), else empty;
    ``fields`` every field the finding names.
    """

    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    rule: str
    category: str
    severity: str
    fields: tuple[str, ...]
    message: str
    data_sha256: str
    field: str = ""

    @property
    def record(self) -> str:
        """``SUBJECT/VISIT/FORM[#N]``: the record (or the absent form) the finding is about."""
        suffix = f"#{self.instance}" if self.instance != 1 else ""
        return f"{self.subject_id}/{self.visit_id}/{self.form_id}{suffix}"

    @property
    def key(self) -> str:
        """The finding's stable id: ``SUBJECT/VISIT/FORM[#N]/RULE[/FIELD]``."""
        return f"{self.record}/{self.rule}" + (f"/{self.field}" if self.field else "")


def _digest(data: object) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _empty(value: object) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def needed_fields(protocol: Protocol, form: FormSpec) -> tuple[str, ...]:
    """The fields a record of ``form`` needs to be complete: the required ones and the inputs of
    the form's derived scores. The store's completeness rule uses this one too."""
    inputs = score_inputs(protocol, form)
    return tuple(f.id for f in form.fields if f.required or f.id in inputs)


def cross_form_names(protocol: Protocol) -> dict[str, tuple[str, str, FieldSpec]]:
    """``{"VISIT__FORM__FIELD": (visit, form, field)}``: every other-form value a quality rule may
    read (instance 1 of each form collected at each visit).

    >>> from clestudy.protocol import load_protocol
    >>> names = cross_form_names(load_protocol("pediatric-cle-chart-review"))
    >>> names["initiation__labs__esr"][:2]
    ('initiation', 'labs')
    """
    names: dict[str, tuple[str, str, FieldSpec]] = {}
    for visit in protocol.visits:
        for form_id in visit.forms:
            form = protocol.form(form_id)
            for field in form.fields if form is not None else ():
                names.setdefault(f"{visit.id}__{form_id}__{field.id}", (visit.id, form_id, field))
    return names


def quality_rule_errors(p: Protocol) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Load-time problems of ``quality_rules``: ids (unique, not reserved, not an edit check's),
    the form, and rules that parse, name known values and give true or false on sample values."""
    seen: set[str] = set()
    check_ids = {c.id for c in p.edit_checks}
    cross = cross_form_names(p) if p.quality_rules else {}
    for ri, spec in enumerate(p.quality_rules):
        if spec.id in seen or spec.id.startswith(("dq.", "builtin")) or spec.id in check_ids:
            what = "duplicated" if spec.id in seen else "reserved (built-in or edit-check)"
            yield ("quality_rules", ri, "id"), f"{what} rule id '{spec.id}'"
        seen.add(spec.id)
        form = p.form(spec.form)
        if form is None:
            yield ("quality_rules", ri, "form"), f"unknown form '{spec.form}'"
            continue
        allowed = {f.id for f in form.fields} | set(CONTEXT_NAMES) | set(cross)
        for key in ("rule", "when"):
            expression = getattr(spec, key)
            if expression is None:
                continue
            problems = expression_problems(expression, allowed)
            if not problems:
                trial = _trial(expression, form, cross)
                problems = [trial] if trial else []
            for problem in problems:
                yield ("quality_rules", ri, key), f"{expression!r}: {problem}"
        for k, field_id in enumerate(spec.fields):
            if form.field(field_id) is None:
                yield (
                    ("quality_rules", ri, "fields", k),
                    f"'{field_id}' is not a field of form '{form.id}'",
                )


def _trial(expression: str, form: FormSpec, cross: Mapping[str, tuple[str, str, FieldSpec]]) -> str:
    names: dict[str, object] = dict.fromkeys(CONTEXT_NAMES, dt.date(2000, 1, 1))
    for name in expression_names(expression):
        if name in cross:
            field = cross[name][2]
            names[name] = FIELD_TYPES[field.type].sample(field)
    names.update({f.id: FIELD_TYPES[f.type].sample(f) for f in form.fields})
    try:
        result = evaluate(expression, names)
    except ZeroDivisionError:
        return ""
    except (TypeError, ValueError, ArithmeticError) as exc:
        return f"cannot be evaluated on values of the fields' types ({exc})"
    if not isinstance(result, bool):
        return f"must give true or false, not a {type(result).__name__}"
    return ""


# -- the run ------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    """A record placed in the protocol: its form, raw values and the values its fields accept."""

    record: QualityRecord
    visit: Visit
    form: FormSpec
    order: tuple[int, int, int]
    valid: dict[str, object]


class _Run:
    def __init__(self, protocol: Protocol, today: dt.date) -> None:
        self.protocol, self.today = protocol, today
        self.visits = {v.id: (i, v) for i, v in enumerate(protocol.visits)}
        self.baseline = min(protocol.visits, key=lambda v: (v.day != 0, v.day))
        self.cross = cross_form_names(protocol) if protocol.quality_rules else {}
        self.needed = {f.id: needed_fields(protocol, f) for f in protocol.forms}
        self.findings: list[tuple[tuple[object, ...], QualityFinding]] = []

    def add(self, order: tuple[object, ...], finding: QualityFinding) -> None:
        self.findings.append((order, finding))

    def place(self, record: QualityRecord) -> _Parsed | None:
        found = self.visits.get(record.visit_id)
        form = self.protocol.form(record.form_id)
        if found is None or form is None or record.form_id not in found[1].forms:
            return None
        index, visit = found
        order = (index, visit.forms.index(record.form_id), record.instance)
        return _Parsed(record, visit, form, order, {})

    def subject(self, subject_id: str, records: list[QualityRecord]) -> None:
        placed = [p for p in map(self.place, records) if p is not None]
        placed.sort(key=lambda p: p.order)
        for parsed in placed:
            self._ranges(subject_id, parsed)
        first = {(p.visit.id, p.form.id): p.valid for p in placed if p.record.instance == 1}
        base = self._baseline_date(first)
        context_dates = (
            base,
            _last_date(self.protocol, placed, _BIRTH),
            _last_date(self.protocol, placed, _CONSENT),
        )
        self._missing_forms(subject_id, placed, base)
        for parsed in placed:
            self._missing_values(subject_id, parsed)
            self._window(subject_id, parsed, base)
            context = CheckContext(
                today=self.today,
                visit_id=parsed.visit.id,
                baseline_date=context_dates[0],
                birth_date=context_dates[1],
                enrolment_date=context_dates[2],
                visit_day=parsed.visit.day,
                window_before=parsed.visit.window_before,
                window_after=parsed.visit.window_after,
            )
            found = len(self.findings)
            self._edit_checks(subject_id, parsed, context)
            self._study_rules(subject_id, parsed, context, first)
            if len(self.findings) > found:  # hashed only for a finding: most records have none
                data = _digest([parsed.record.values, [str(d) for d in context_dates]])
                self.findings[found:] = [
                    (order, replace(f, data_sha256=data)) for order, f in self.findings[found:]
                ]

    def _finding(
        self, parsed: _Parsed, rule: str, category: str, severity: str, fields: tuple[str, ...],
        message: str, data: str, field: str = "",
    ) -> QualityFinding:  # fmt: skip
        r = parsed.record
        return QualityFinding(
            r.subject_id, r.visit_id, r.form_id, r.instance, rule, category, severity, fields,
            message, data, field,
        )  # fmt: skip

    def _ranges(self, subject_id: str, parsed: _Parsed) -> None:
        where = parsed.record.subject_id
        for fi, field in enumerate(parsed.form.fields):
            raw = parsed.record.values.get(field.id)
            if _empty(raw):
                continue
            try:
                parsed.valid[field.id] = FIELD_TYPES[field.type].parse(field, raw, where)
            except RecordValidationError as exc:
                message = str(exc).removeprefix(f"{where}: ")
                finding = self._finding(
                    parsed, OUT_OF_RANGE, "range", "warning", (field.id,), message,
                    _digest({field.id: raw}), field.id,
                )  # fmt: skip
                self.add((subject_id, *parsed.order, 2, 0, fi), finding)

    def _baseline_date(
        self, first: Mapping[tuple[str, str], Mapping[str, object]]
    ) -> dt.date | None:
        for form_id in self.baseline.forms:
            form = self.protocol.form(form_id)
            if form is None or form.visit_date is None:
                continue
            found = stored_date(first.get((self.baseline.id, form_id), {}).get(form.visit_date))
            if found is not None:
                return found
        return None

    def _missing_forms(self, subject_id: str, placed: list[_Parsed], base: dt.date | None) -> None:
        present = {(p.visit.id, p.form.id) for p in placed}
        for vi, visit in enumerate(self.protocol.visits):
            if visit.id == self.baseline.id:
                why = "the baseline visit is due from enrolment"
            elif base is None:
                continue
            else:
                closed = base + dt.timedelta(days=visit.day + visit.window_after)
                if closed >= self.today:
                    continue
                why = f"visit '{visit.id}' window closed on {closed.isoformat()}"
            for fi, form_id in enumerate(visit.forms):
                form = self.protocol.form(form_id)
                if form is None or form.repeating or (visit.id, form_id) in present:
                    continue
                finding = QualityFinding(
                    subject_id, visit.id, form_id, 1, MISSING_FORM, "missing", "warning", (),
                    f"form '{form_id}' has no record ({why})", _digest("absent"),
                )  # fmt: skip
                self.add((subject_id, vi, fi, 1, 0, 0, 0), finding)

    def _missing_values(self, subject_id: str, parsed: _Parsed) -> None:
        needed = self.needed[parsed.form.id]
        raw = parsed.record.values
        coded = coded_fields(raw)  # a missing-data code answers a field a score does not read
        answered = set(coded) - score_inputs(self.protocol, parsed.form) if coded else set()
        missing = tuple(name for name in needed if _empty(raw.get(name)) and name not in answered)
        if not missing:
            return
        shown = ", ".join(missing[:_SHOWN_FIELDS])
        if len(missing) > _SHOWN_FIELDS:
            shown += f" and {len(missing) - _SHOWN_FIELDS} more"
        message = f"{len(missing)} needed value(s) missing: {shown}"
        data = _digest({name: raw.get(name) for name in needed})
        finding = self._finding(parsed, MISSING_VALUE, "missing", "warning", missing, message, data)
        self.add((subject_id, *parsed.order, 1, 0, 0), finding)

    def _window(self, subject_id: str, parsed: _Parsed, base: dt.date | None) -> None:
        form, visit = parsed.form, parsed.visit
        date = stored_date(parsed.valid.get(form.visit_date)) if form.visit_date else None
        if date is None or base is None or form.visit_date is None:
            return
        study_day = (date - base).days
        lo, hi = visit.day - visit.window_before, visit.day + visit.window_after
        if lo <= study_day <= hi:
            return
        message = (
            f"field '{form.visit_date}' {date.isoformat()} is study day {study_day} (baseline "
            f"{base.isoformat()}); visit '{visit.id}' allows days {lo} to {hi}"
        )
        data = _digest({form.visit_date: date.isoformat(), "baseline": base.isoformat(),
                        "window": [lo, hi]})  # fmt: skip
        finding = self._finding(
            parsed, VISIT_WINDOW, "window", "warning", (form.visit_date,), message, data
        )
        self.add((subject_id, *parsed.order, 3, 0, 0), finding)

    def _edit_checks(self, subject_id: str, parsed: _Parsed, context: CheckContext) -> None:
        for index, found in enumerate(
            run_edit_checks(self.protocol, parsed.form.id, parsed.valid, context)
        ):
            if found.check_id == _WINDOW_CHECK:
                continue
            finding = self._finding(
                parsed, found.check_id, "edit-check", found.severity, found.fields,
                found.message, "",
            )  # fmt: skip
            self.add((subject_id, *parsed.order, 4, index, 0), finding)

    def _study_rules(
        self, subject_id: str, parsed: _Parsed, context: CheckContext,
        first: Mapping[tuple[str, str], Mapping[str, object]],
    ) -> None:  # fmt: skip
        for index, spec in enumerate(self.protocol.quality_rules):
            if spec.form != parsed.form.id:
                continue
            message = self._study_rule(spec, parsed, context, first)
            if message is None:
                continue
            severity, text = message
            fields = spec.fields or tuple(
                n for n in expression_names(spec.rule) if parsed.form.field(n) is not None
            )
            finding = self._finding(parsed, spec.id, "study-rule", severity, fields, text, "")
            self.add((subject_id, *parsed.order, 5, index, 0), finding)

    def _study_rule(
        self, spec: QualityRuleSpec, parsed: _Parsed, context: CheckContext,
        first: Mapping[tuple[str, str], Mapping[str, object]],
    ) -> tuple[str, str] | None:  # fmt: skip
        where = parsed.record.subject_id
        names: dict[str, object] = {n: getattr(context, n) for n in CONTEXT_NAMES}
        for expression in (spec.when, spec.rule):
            for name in expression_names(expression) if expression else ():
                if name in self.cross and parsed.form.field(name) is None:
                    visit_id, form_id, field = self.cross[name]
                    value = first.get((visit_id, form_id), {}).get(field.id)
                    names[name] = None if value is None else typed_value(field, value, where)
        for field in parsed.form.fields:
            value = parsed.valid.get(field.id)
            names[field.id] = None if value is None else typed_value(field, value, where)
        try:
            for expression in (spec.when, spec.rule):
                if expression is None:
                    continue
                if any(names.get(n) is None for n in expression_names(expression)):
                    return None
                if not evaluate(expression, names):
                    if expression is spec.when:
                        return None
                    read = [n for n in expression_names(spec.rule) if n not in CONTEXT_NAMES]
                    shown = ", ".join(f"{n}={_show(names.get(n))}" for n in read)
                    return spec.severity, f"{spec.message} ({shown})"
        except (ArithmeticError, TypeError, ValueError) as exc:
            return "error", f"rule '{spec.id}' could not be evaluated: {exc}"
        return None


def _last_date(protocol: Protocol, placed: list[_Parsed], cdash: tuple[str, ...]) -> dt.date | None:
    where = next(
        (
            (form.id, field.id)
            for form in protocol.forms
            for field in form.fields
            if field.cdash in cdash and field.type == "date"
        ),
        None,
    )
    if where is None:
        return None
    found = None
    for parsed in placed:
        if parsed.form.id == where[0] and parsed.record.instance == 1:
            found = stored_date(parsed.valid.get(where[1])) or found
    return found


def run_quality_rules(
    protocol: Protocol,
    subjects: Iterable[str],
    records: Iterable[QualityRecord],
    *,
    today: dt.date,
) -> list[QualityFinding]:
    """Run every data-quality rule over a study's subjects and stored records.

    Parameters
    ----------
    protocol
        The protocol in force (its schedule, fields, edit checks and ``quality_rules``).
    subjects
        The ids of the enrolled subjects (a subject without records still has forms due).
    records
        The stored records, in any order; records of other subjects are judged too.
    today
        The date the run is made (which visits are due; the edit checks' ``today``).

    Returns
    -------
    list of QualityFinding
        Ordered by subject id, then visit and form in protocol order, instance, rule
        (:data:`BUILTIN_QUALITY_RULES`, then edit checks, then study rules) and field: the same
        list for the same data, whatever the order of ``subjects`` and ``records``.

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> p = load_protocol("pediatric-cle-chart-review")
    >>> found = run_quality_rules(
    ...     p, ["P01"], [QualityRecord("P01", "initiation", "labs", 1, {"esr": 26})],
    ...     today=dt.date(2025, 1, 1))
    >>> [f.key for f in found if f.visit_id == "initiation" and f.form_id == "labs"]
    ['P01/initiation/labs/dq.missing_value']
    """
    run = _Run(protocol, today)
    by_subject: dict[str, list[QualityRecord]] = {s: [] for s in subjects}
    for record in records:
        by_subject.setdefault(record.subject_id, []).append(record)
    for subject_id in sorted(by_subject):
        run.subject(subject_id, by_subject[subject_id])
    run.findings.sort(key=lambda item: (item[0], item[1].key))
    return [finding for _, finding in run.findings]
