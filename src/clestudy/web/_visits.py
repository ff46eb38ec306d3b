"""A subject's visit schedule and the study's record-status dashboard.

Target dates count from the baseline date: the visit date (the form's ``visit_date`` field) of
the protocol's baseline visit (day 0, else its earliest), taken from the first of its forms that
holds one, as the store's edit checks do (:mod:`clestudy.store._checks`). A visit's window is
``[target - window_before, target + window_after]`` days (the protocol's visit).

Statuses: a form is ``not started`` (no record) or its record's status (a repeating form, its
lowest instance status; a repeating form without instances does not hold a visit back, since an
empty adverse-event log is a valid answer). A visit is ``not started`` when it has no record,
``incomplete`` while any form is not started or incomplete, else the lowest of its forms'
statuses (complete < verified < locked). A visit is **overdue** when its window has ended before
today and it is not complete, and **out of window** when one of its visit dates falls outside
the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from clestudy.protocol import FormSpec, Protocol, Visit
from clestudy.protocol._field_types import stored_date
from clestudy.store import RecordState

__all__ = ["FormCell", "VisitRow", "baseline_date", "visit_schedule"]

_ORDER = ("not started", "incomplete", "complete", "verified", "locked")


@dataclass
class FormCell:
    """One form of one visit: its status and records (several for a repeating form)."""

    form: FormSpec
    status: str
    records: list[RecordState] = field(default_factory=list)


@dataclass
class VisitRow:
    """One visit of a subject's schedule."""

    visit: Visit
    target: dt.date | None
    window_start: dt.date | None
    window_end: dt.date | None
    status: str
    visit_date: dt.date | None
    overdue: bool
    out_of_window: bool
    forms: list[FormCell]


def _visit_date(protocol: Protocol, visit: Visit, records: Iterable[RecordState]) -> dt.date | None:
    by_form = {(r.form_id, r.instance): r for r in records if r.visit_id == visit.id}
    for form_id in visit.forms:
        spec = protocol.form(form_id)
        found = by_form.get((form_id, 1))
        if spec is not None and spec.visit_date and found is not None:
            date = stored_date(found.values.get(spec.visit_date))
            if date is not None:
                return date
    return None


def baseline_date(protocol: Protocol, records: Iterable[RecordState]) -> dt.date | None:
    """The subject's baseline date, or ``None`` before the baseline visit is dated."""
    baseline = min(protocol.visits, key=lambda v: (v.day != 0, v.day))
    return _visit_date(protocol, baseline, records)


def _form_status(records: list[RecordState]) -> str:
    if not records:
        return "not started"
    return min((r.status for r in records), key=_ORDER.index)


def visit_schedule(
    protocol: Protocol, records: list[RecordState], today: dt.date
) -> list[VisitRow]:
    """The visit schedule of one subject from its current records, as known on ``today``."""
    base = baseline_date(protocol, records)
    rows = []
    for visit in protocol.visits:
        cells = []
        for form_id in visit.forms:
            spec = protocol.form(form_id)
            if spec is None:
                continue
            mine = sorted(
                (r for r in records if r.visit_id == visit.id and r.form_id == form_id),
                key=lambda r: r.instance,
            )
            cells.append(FormCell(spec, _form_status(mine), mine))
        counted = [c.status for c in cells if not (c.form.repeating and not c.records)]
        if not any(c.records for c in cells):
            status = "not started"
        elif any(s in ("not started", "incomplete") for s in counted):
            status = "incomplete"
        else:
            status = min(counted, key=_ORDER.index) if counted else "complete"
        target = start = end = None
        if base is not None:
            target = base + dt.timedelta(days=visit.day)
            start = target - dt.timedelta(days=visit.window_before)
            end = target + dt.timedelta(days=visit.window_after)
        dated = _visit_date(protocol, visit, records)
        rows.append(
            VisitRow(
                visit=visit,
                target=target,
                window_start=start,
                window_end=end,
                status=status,
                visit_date=dated,
                overdue=end is not None and today > end and _ORDER.index(status) < 2,
                out_of_window=(
                    dated is not None
                    and start is not None
                    and end is not None
                    and not start <= dated <= end
                ),
                forms=cells,
            )
        )
    return rows
