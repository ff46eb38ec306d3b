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
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import RecordValidationError
from clestudy.protocol import CheckContext, EditFinding, FormSpec, Protocol, run_edit_checks

if TYPE_CHECKING:
    from clestudy.store._service import Store

from clestudy.store._schema import RecordRow

__all__ = ["check_context", "run_checks"]

#: CDASH variables of the informed consent date (DM ``RFICDAT``, disposition ``DSSTDAT``).
CONSENT_CDASH = ("RFICDAT", "DSSTDAT")


def _baseline_visit(protocol: Protocol) -> str:
    return min(protocol.visits, key=lambda v: (v.day != 0, v.day)).id


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _field_with_cdash(protocol: Protocol, names: tuple[str, ...]) -> tuple[str, str] | None:
    for form in protocol.forms:
        for field in form.fields:
            if field.cdash in names and field.type == "date":
                return form.id, field.id
    return None


def subject_records(session: Session, subject_pk: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The subject's stored values, ``{(visit, form): values}`` (first instance of each form)."""
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for visit_key, form_key, values_json in session.execute(
        select(RecordRow.visit_key, RecordRow.form_key, RecordRow.values_json)
        .where(RecordRow.subject_id == subject_pk, RecordRow.instance == 1)
        .order_by(RecordRow.id)
    ):
        stored[(visit_key, form_key)] = json.loads(values_json)
    return stored


def check_context(
    store: Store, session: Session, subject_pk: int, visit_id: str, form: FormSpec,
    values: Mapping[str, Any],
) -> CheckContext:  # fmt: skip
    """The :class:`~clestudy.protocol.CheckContext` of a record about to be saved."""
    protocol = store.protocol
    stored = subject_records(session, subject_pk)
    stored[(visit_id, form.id)] = dict(values)  # this save's values count
    by_form = {form_key: v for (_, form_key), v in stored.items()}

    baseline = _baseline_visit(protocol)
    baseline_date = None
    visit = protocol.visit(baseline)
    for form_id in visit.forms if visit is not None else ():
        spec = protocol.form(form_id)
        if spec is not None and spec.visit_date:
            baseline_date = _date(stored.get((baseline, form_id), {}).get(spec.visit_date))
            if baseline_date is not None:
                break
    dates: list[dt.date | None] = []
    for names in (("BRTHDAT",), CONSENT_CDASH):
        found = _field_with_cdash(protocol, names)
        dates.append(None if found is None else _date(by_form.get(found[0], {}).get(found[1])))
    return CheckContext.for_visit(
        protocol,
        visit_id,
        today=store.clock().date(),
        baseline_date=baseline_date,
        birth_date=dates[0],
        enrolment_date=dates[1],
    )


def run_checks(
    store: Store,
    session: Session,
    subject_pk: int,
    visit_id: str,
    form: FormSpec,
    values: Mapping[str, Any],
    problems: list[str],
    where: str,
) -> list[EditFinding]:
    """Run the edit checks; refuse the save with every field problem and error at once.

    Returns the warnings (each opens a discrepancy).

    Raises
    ------
    RecordValidationError
        One message listing every field problem of ``problems`` and every ``error`` finding,
        each naming its field(s) and check id.
    """
    context = check_context(store, session, subject_pk, visit_id, form, values)
    findings = run_edit_checks(store.protocol, form.id, values, context)
    errors = [
        f"{where}: {', '.join(f.fields) or form.id}: {f.message} [{f.check_id}]"
        for f in findings
        if f.severity == "error"
    ]
    if problems or errors:
        raise RecordValidationError("\n".join([*problems, *errors]))
    return [f for f in findings if f.severity == "warning"]
