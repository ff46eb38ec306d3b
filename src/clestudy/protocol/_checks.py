"""Edit checks: the pure engine that the store runs on every save.

:func:`run_edit_checks` returns every finding for one record at once: the built-in checks every
protocol gets (:mod:`clestudy.protocol._builtin_checks`) and the checks the protocol declares under
``edit_checks:``. The store refuses a save with any ``error`` finding and opens a discrepancy for
each ``warning`` (docs/architecture.md, "Agreed shapes").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from clestudy.errors import NotFoundError
from clestudy.protocol._expressions import CONTEXT_NAMES, evaluate, expression_names, typed_value
from clestudy.protocol._model import EditCheckSpec, FormSpec, Protocol, Severity

__all__ = ["CheckContext", "EditFinding", "run_edit_checks"]


@dataclass(frozen=True)
class CheckContext:
    """What a check knows beyond the record's own values; the store fills it in.

    Attributes
    ----------
    today
        The store clock's date: no date may lie after it.
    visit_id
        The visit the record belongs to (its window comes from the protocol).
    baseline_date
        The subject's study day 0 (the date of the baseline visit), if known.
    birth_date, enrolment_date
        The subject's date of birth and of enrolment (consent), if known.
    visit_day, window_before, window_after
        The visit's target study day and allowed window in days; :meth:`for_visit` copies them
        from the protocol.
    """

    today: dt.date
    visit_id: str | None = None
    baseline_date: dt.date | None = None
    birth_date: dt.date | None = None
    enrolment_date: dt.date | None = None
    visit_day: int | None = None
    window_before: int = 0
    window_after: int = 0

    @classmethod
    def for_visit(
        cls,
        protocol: Protocol,
        visit_id: str,
        *,
        today: dt.date,
        baseline_date: dt.date | None = None,
        birth_date: dt.date | None = None,
        enrolment_date: dt.date | None = None,
    ) -> CheckContext:
        """A context for a record of ``visit_id``, with the visit window from ``protocol``.

        Examples
        --------
        >>> from clestudy.protocol import load_protocol
        >>> p = load_protocol("lenalidomide-cle-open-label")
        >>> c = CheckContext.for_visit(p, "week_12", today=dt.date(2025, 1, 1))
        >>> (c.visit_day, c.window_before, c.window_after)
        (84, 7, 7)
        """
        visit = protocol.visit(visit_id)
        if visit is None:
            known = ", ".join(v.id for v in protocol.visits)
            raise NotFoundError(f"visit '{visit_id}' is not in {protocol.id} (visits: {known})")
        return cls(
            today=today,
            visit_id=visit_id,
            baseline_date=baseline_date,
            birth_date=birth_date,
            enrolment_date=enrolment_date,
            visit_day=visit.day,
            window_before=visit.window_before,
            window_after=visit.window_after,
        )


@dataclass(frozen=True)
class EditFinding:
    """One failed check: ``error`` refuses the save, ``warning`` opens a discrepancy."""

    check_id: str
    severity: Severity
    message: str
    fields: tuple[str, ...]


def _declared_finding(
    check: EditCheckSpec, form: FormSpec, typed: Mapping[str, object], context: CheckContext
) -> EditFinding | None:
    names: dict[str, object] = {n: getattr(context, n) for n in CONTEXT_NAMES}
    names.update({f.id: typed.get(f.id) for f in form.fields})
    fields = check.fields or tuple(
        n for n in expression_names(check.rule) if form.field(n) is not None
    )
    try:
        for expression in (check.when, check.rule):
            if expression is None:
                continue
            if any(names.get(n) is None for n in expression_names(expression)):
                return None  # the rule applies only when every name it reads holds a value
            if not evaluate(expression, names):
                if expression is check.when:
                    return None
                shown = ", ".join(f"{f}={_show(typed.get(f))}" for f in fields)
                return EditFinding(check.id, check.severity, f"{check.message} ({shown})", fields)
    except (ArithmeticError, TypeError, ValueError) as exc:
        return EditFinding(
            check.id, "error", f"check '{check.id}' could not be evaluated: {exc}", fields
        )
    return None


def _show(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def run_edit_checks(
    protocol: Protocol, form_id: str, values: Mapping[str, object], context: CheckContext
) -> list[EditFinding]:
    """Run every edit check of ``form_id`` on one record; return all the findings at once.

    Parameters
    ----------
    protocol
        The study protocol (its declared ``edit_checks`` and the form's fields).
    form_id
        The record's form.
    values
        The record's values, as :func:`~clestudy.protocol.validate_values` returns them (entered
        values of the right type are accepted too); a field absent or ``None`` holds no value.
    context
        Today's date, the subject's dates and the visit window (see :class:`CheckContext`).

    Returns
    -------
    list of EditFinding
        Built-in checks first, then the declared ones in protocol order; empty when all pass.

    Raises
    ------
    NotFoundError
        When ``form_id`` is not a form of the protocol.

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> p = load_protocol("lenalidomide-cle-open-label")
    >>> ctx = CheckContext.for_visit(p, "week_6", today=dt.date(2025, 1, 1))
    >>> ae = {"aeterm": "Rash", "aestdat": "2024-03-10", "aeendat": "2024-03-01",
    ...       "aetoxgr": 2, "aeser": False}
    >>> [(f.check_id, f.severity, f.fields) for f in run_edit_checks(p, "ae", ae, ctx)]
    [('builtin.end_not_before_start', 'error', ('aestdat', 'aeendat'))]
    """
    from clestudy.protocol._builtin_checks import builtin_findings

    form = protocol.form(form_id)
    if form is None:
        known = ", ".join(f.id for f in protocol.forms)
        raise NotFoundError(f"form '{form_id}' is not in {protocol.id} (forms: {known})")
    where = f"{context.visit_id or '?'}/{form_id}"
    typed: dict[str, object] = {}
    for field in form.fields:
        value = values.get(field.id)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        typed[field.id] = typed_value(field, value, where)
    findings = list(builtin_findings(form, typed, context))
    for check in protocol.checks_for_form(form_id):
        finding = _declared_finding(check, form, typed, context)
        if finding is not None:
            findings.append(finding)
    return findings
