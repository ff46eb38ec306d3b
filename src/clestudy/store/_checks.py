"""Edit checks on save: the store builds each record's check context and sorts the findings.

The pure engine is :func:`clestudy.protocol.run_edit_checks`; this module gives it what only the
database knows (:func:`check_context`):

* ``baseline_date``: the visit date (the form's ``visit_date`` field) of the subject's baseline
  visit, the protocol's visit on day 0 (else its earliest), taken from the first form of that visit
  that holds one (the record being saved counts with its new values);
* ``birth_date``: the subject's date of birth (the field whose CDASH variable is ``BRTHDAT``);
* ``enrolment_date``: the date of informed consent (CDASH ``RFICDAT`` or ``DSSTDAT``), when the
  protocol collects one; the date a subject was entered into clestudy is not used, because a
  retrospective study enters data that predate it;
* ``today``: the store clock's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clestudy.errors import RecordValidationError
from clestudy.protocol import CheckContext, EditFinding, FormSpec, Protocol, run_edit_checks
from clestudy.protocol._field_types import stored_date
from clestudy.store._edits import SavePlan

__all__ = ["SubjectFields", "check_context", "run_checks"]

#: CDASH variables of the informed consent date (DM ``RFICDAT``, disposition ``DSSTDAT``).
CONSENT_CDASH = ("RFICDAT", "DSSTDAT")


def _baseline_visit(protocol: Protocol) -> str:
    return min(protocol.visits, key=lambda v: (v.day != 0, v.day)).id


def _field_with_cdash(protocol: Protocol, names: tuple[str, ...]) -> tuple[str, str] | None:
    for form in protocol.forms:
        for field in form.fields:
            if field.cdash in names and field.type == "date":
                return form.id, field.id
    return None


@dataclass(frozen=True)
class SubjectFields:
    """Where a protocol keeps the dates a check context needs; looked up once per batch."""

    baseline: str
    baseline_forms: tuple[tuple[str, str], ...]
    birth: tuple[str, str] | None
    consent: tuple[str, str] | None

    @classmethod
    def of(cls, protocol: Protocol) -> SubjectFields:
        """The baseline visit and its dated forms, and the birth and consent date fields."""
        baseline = _baseline_visit(protocol)
        visit = protocol.visit(baseline)
        forms = []
        for form_id in visit.forms if visit is not None else ():
            spec = protocol.form(form_id)
            if spec is not None and spec.visit_date:
                forms.append((form_id, spec.visit_date))
        return cls(
            baseline,
            tuple(forms),
            _field_with_cdash(protocol, ("BRTHDAT",)),
            _field_with_cdash(protocol, CONSENT_CDASH),
        )


def check_context(
    plan: SavePlan, places: SubjectFields, today: dt.date,
    stored: Mapping[tuple[str, str], Mapping[str, Any]], visit_id: str, form: FormSpec,
    values: Mapping[str, Any],
) -> CheckContext:  # fmt: skip
    """The :class:`~clestudy.protocol.CheckContext` of a record about to be saved.

    ``stored`` is the subject's stored values, ``{(visit, form): values}`` of the first instance
    of each form in record order (the records saved earlier in the same batch included); the
    record being saved counts with ``values``.
    """
    this = (visit_id, form.id)  # this save's values count, in place of the stored ones
    baseline_date = None
    for form_id, field_id in places.baseline_forms:
        place = (places.baseline, form_id)
        record = values if place == this else stored.get(place, {})
        baseline_date = stored_date(record.get(field_id))
        if baseline_date is not None:
            break
    dates: list[dt.date | None] = []
    for found in (places.birth, places.consent):
        if found is None:
            dates.append(None)
            continue
        value = None
        for place, record in stored.items():  # the last record of the form wins
            if place[1] == found[0]:
                value = (values if place == this else record).get(found[1])
        if this not in stored and form.id == found[0]:  # a new record comes last
            value = values.get(found[1])
        dates.append(stored_date(value))
    visit = plan.visit(visit_id)
    if visit is None:
        return CheckContext.for_visit(plan.protocol, visit_id, today=today)  # names the visit
    return CheckContext(
        today=today,
        visit_id=visit_id,
        baseline_date=baseline_date,
        birth_date=dates[0],
        enrolment_date=dates[1],
        visit_day=visit.day,
        window_before=visit.window_before,
        window_after=visit.window_after,
    )


def run_checks(
    plan: SavePlan,
    context: Callable[[], CheckContext],
    form: FormSpec,
    values: Mapping[str, Any],
    problems: list[str],
    where: str,
) -> list[EditFinding]:
    """Run the edit checks; refuse the save with every field problem and error at once.

    ``context`` makes the record's :class:`~clestudy.protocol.CheckContext`
    (:func:`check_context`), called only when a check can fire on ``form``
    (:meth:`SavePlan.has_checks`). Returns the warnings (each opens a discrepancy).

    Raises
    ------
    RecordValidationError
        One message listing every field problem of ``problems`` and every ``error`` finding,
        each naming its field(s) and check id.
    """
    if not plan.has_checks(form):  # no check can fire: no context, no typed copy of the values
        if problems:
            raise RecordValidationError("\n".join(problems))
        return []
    findings = run_edit_checks(plan.protocol, form.id, values, context())
    errors = [
        f"{where}: {', '.join(f.fields) or form.id}: {f.message} [{f.check_id}]"
        for f in findings
        if f.severity == "error"
    ]
    if problems or errors:
        raise RecordValidationError("\n".join([*problems, *errors]))
    return [f for f in findings if f.severity == "warning"]
