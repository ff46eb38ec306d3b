"""The edit checks every protocol gets, whatever it declares.

Fields are found by their CDASH variable (``cdash:``), so the checks work on any protocol that
names its items the CDASH way: ``BRTHDAT`` (date of birth), ``--STDAT``/``--ENDAT`` pairs (start
and end dates of the same domain), ``AETOXGR``, ``AESER`` and ``AEOUT`` (adverse event grade,
seriousness and outcome). The visit window check uses the form's ``visit_date`` field.

=================================  ========  ====================================================
check id                           severity  rule and source
=================================  ========  ====================================================
``builtin.visit_window``           warning   the form's visit date lies in its visit's window,
                                             counted in study days from the baseline date (the
                                             protocol's ``day``, ``window_before`` and
                                             ``window_after``; an out-of-window visit is a
                                             protocol deviation to flag)
``builtin.date_not_in_future``     error     no date after today (the store clock)
``builtin.date_not_before_birth``  error     no date before the subject's date of birth
``builtin.not_before_enrolment``   warning   the visit date is not before enrolment: no trial
                                             procedure before consent (ICH E6(R2) 4.8.8)
``builtin.end_not_before_start``   error     an end date (``--ENDAT``) is not before the start
                                             date (``--STDAT``) of the same event (CDASH IG v2.1)
``builtin.grade5_fatal_serious``   error     CTCAE v5.0 defines grade 5 as "Death related to
                                             AE", so its outcome is ``FATAL`` and a fatal
                                             outcome is grade 5; an adverse event that results
                                             in death is serious (ICH E2A, II.B)
``builtin.recovered_has_end_date`` warning   an outcome of ``RECOVERED/RESOLVED`` (with or
                                             without sequelae, CDISC CT C66768) has an end date
=================================  ========  ====================================================

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017.
ICH E2A. Clinical Safety Data Management: Definitions and Standards for Expedited Reporting, 1994.
ICH E6(R2). Guideline for Good Clinical Practice, 2016.
CDISC. Clinical Data Acquisition Standards Harmonization Implementation Guide (CDASH IG) v2.1.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from clestudy.protocol._checks import CheckContext, EditFinding
from clestudy.protocol._model import FieldSpec, FormSpec, IdentityCache

__all__ = ["BUILTIN_CHECK_IDS", "builtin_checks_apply", "builtin_findings"]

BUILTIN_CHECK_IDS: tuple[str, ...] = (
    "builtin.visit_window",
    "builtin.date_not_in_future",
    "builtin.date_not_before_birth",
    "builtin.not_before_enrolment",
    "builtin.end_not_before_start",
    "builtin.grade5_fatal_serious",
    "builtin.recovered_has_end_date",
)

#: CDISC controlled terminology C66768 (Outcome of Event) codes meaning the event resolved.
RECOVERED_CODES: frozenset[str] = frozenset(
    {"RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE"}
)
FATAL_CODE = "FATAL"
_START = re.compile(r"^([A-Z]{2})STDAT$")


@dataclass(frozen=True)
class _FormIndex:
    """What the built-in checks look up in a form, found once per form (not once per record):
    the first field of each CDASH variable, the date fields, the start/end date pairs, and
    whether any built-in check can apply to the form at all (``applies``: every check reads a
    date field, the visit date or an adverse event's grade or outcome; a form of none of them,
    such as one of plain numbers, skips the checks)."""

    form: FormSpec
    by_cdash: dict[str, FieldSpec]
    dates: tuple[FieldSpec, ...]
    start_end: tuple[tuple[FieldSpec, FieldSpec], ...]
    applies: bool

    @classmethod
    def of(cls, form: FormSpec) -> _FormIndex:
        by_cdash: dict[str, FieldSpec] = {}
        for field in form.fields:
            if field.cdash is not None:
                by_cdash.setdefault(field.cdash, field)
        pairs = []
        for start_field in form.fields:
            match = _START.match(start_field.cdash or "")
            end_field = by_cdash.get(f"{match.group(1)}ENDAT") if match else None
            if end_field is not None:
                pairs.append((start_field, end_field))
        dates = tuple(f for f in form.fields if f.type == "date")
        applies = bool(
            dates
            or pairs
            or form.visit_date is not None
            or "AETOXGR" in by_cdash
            or "AEOUT" in by_cdash
        )
        return cls(form, by_cdash, dates, tuple(pairs), applies)


#: Each form's :class:`_FormIndex`, built on its first check.
_INDEXES: IdentityCache[FormSpec, _FormIndex] = IdentityCache(_FormIndex.of, 256)
_index = _INDEXES.get


def _by_cdash(form: FormSpec, cdash: str) -> FieldSpec | None:
    return _index(form).by_cdash.get(cdash)


def _dates(form: FormSpec, typed: Mapping[str, object]) -> Iterator[tuple[FieldSpec, dt.date]]:
    for field in _index(form).dates:
        value = typed.get(field.id)
        if isinstance(value, dt.date):
            yield field, value


def _visit_window(
    form: FormSpec, typed: Mapping[str, object], context: CheckContext
) -> Iterator[EditFinding]:
    visit_date = typed.get(form.visit_date) if form.visit_date else None
    base, day = context.baseline_date, context.visit_day
    if (
        not isinstance(visit_date, dt.date)
        or base is None
        or day is None
        or form.visit_date is None
    ):
        return
    study_day = (visit_date - base).days
    lo, hi = day - context.window_before, day + context.window_after
    if not lo <= study_day <= hi:
        yield EditFinding(
            "builtin.visit_window",
            "warning",
            f"field '{form.visit_date}' {visit_date.isoformat()} is study day {study_day} "
            f"(baseline {base.isoformat()}); visit '{context.visit_id}' allows days {lo} to {hi}",
            (form.visit_date,),
        )


def _date_bounds(
    form: FormSpec, typed: Mapping[str, object], context: CheckContext
) -> Iterator[EditFinding]:
    birth_field = _by_cdash(form, "BRTHDAT")
    entered_birth = typed.get(birth_field.id) if birth_field else None
    birth = entered_birth if isinstance(entered_birth, dt.date) else context.birth_date
    for field, value in _dates(form, typed):
        if value > context.today:
            yield EditFinding(
                "builtin.date_not_in_future",
                "error",
                f"field '{field.id}' {value.isoformat()} is in the future "
                f"(today is {context.today.isoformat()})",
                (field.id,),
            )
        if birth is not None and field is not birth_field and value < birth:
            yield EditFinding(
                "builtin.date_not_before_birth",
                "error",
                f"field '{field.id}' {value.isoformat()} is before the date of birth "
                f"{birth.isoformat()}",
                (field.id,),
            )
    enrolment = context.enrolment_date
    visit_date = typed.get(form.visit_date) if form.visit_date else None
    if enrolment is not None and isinstance(visit_date, dt.date) and visit_date < enrolment:
        yield EditFinding(
            "builtin.not_before_enrolment",
            "warning",
            f"field '{form.visit_date}' {visit_date.isoformat()} is before enrolment "
            f"{enrolment.isoformat()}",
            (str(form.visit_date),),
        )


def _start_end(form: FormSpec, typed: Mapping[str, object]) -> Iterator[EditFinding]:
    for start_field, end_field in _index(form).start_end:
        start, end = typed.get(start_field.id), typed.get(end_field.id)
        if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
            yield EditFinding(
                "builtin.end_not_before_start",
                "error",
                f"field '{end_field.id}' {end.isoformat()} is before field '{start_field.id}' "
                f"{start.isoformat()}",
                (start_field.id, end_field.id),
            )


def _adverse_event(form: FormSpec, typed: Mapping[str, object]) -> Iterator[EditFinding]:
    grade_f, serious_f = _by_cdash(form, "AETOXGR"), _by_cdash(form, "AESER")
    outcome_f, end_f = _by_cdash(form, "AEOUT"), _by_cdash(form, "AEENDAT")
    grade = typed.get(grade_f.id) if grade_f else None
    serious = typed.get(serious_f.id) if serious_f else None
    outcome = typed.get(outcome_f.id) if outcome_f else None
    problems: list[str] = []
    named: list[str] = []
    if grade_f and grade == 5 and outcome_f and outcome is not None and outcome != FATAL_CODE:
        problems.append(f"grade 5 (death related to AE) needs outcome {FATAL_CODE}, not {outcome}")
        named += [grade_f.id, outcome_f.id]
    if grade_f and outcome_f and outcome == FATAL_CODE and grade is not None and grade != 5:
        problems.append(f"outcome {FATAL_CODE} needs grade 5, not grade {grade}")
        named += [grade_f.id, outcome_f.id]
    is_fatal = grade == 5 or outcome == FATAL_CODE
    if serious_f and is_fatal and serious is False:
        problems.append(f"an AE resulting in death is serious ('{serious_f.id}' must be true)")
        named.append(serious_f.id)
    if problems:
        fields = tuple(dict.fromkeys(named))
        yield EditFinding("builtin.grade5_fatal_serious", "error", "; ".join(problems), fields)
    if outcome_f and end_f and outcome in RECOVERED_CODES and typed.get(end_f.id) is None:
        yield EditFinding(
            "builtin.recovered_has_end_date",
            "warning",
            f"field '{outcome_f.id}' is {outcome} but field '{end_f.id}' (end date) is empty",
            (outcome_f.id, end_f.id),
        )


def builtin_checks_apply(form: FormSpec) -> bool:
    """Whether any built-in check can find something on a record of ``form`` (see
    :class:`_FormIndex`): ``False`` for a form without date fields, visit date, start/end pairs
    or adverse-event grade or outcome."""
    return _index(form).applies


def builtin_findings(
    form: FormSpec, typed: Mapping[str, object], context: CheckContext
) -> Iterator[EditFinding]:
    """Every built-in finding for one record, in the order of :data:`BUILTIN_CHECK_IDS`."""
    if not builtin_checks_apply(form):
        return
    findings = [
        *_visit_window(form, typed, context),
        *_date_bounds(form, typed, context),
        *_start_end(form, typed),
        *_adverse_event(form, typed),
    ]
    if len(findings) > 1:
        findings.sort(key=lambda f: _ORDER[f.check_id])
    yield from findings


_ORDER = {check_id: i for i, check_id in enumerate(BUILTIN_CHECK_IDS)}
