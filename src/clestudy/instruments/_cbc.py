"""Lenalidomide complete-blood-count monitoring: due dates and overdue checks."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping

from clestudy.instruments._checks import check_choice
from clestudy.instruments._schedule import (
    ScheduledCheck,
    Window,
    check_date,
    check_dates,
    check_windows,
)

__all__ = [
    "CBC_SCHEDULES",
    "DEFAULT_CBC_SCHEDULE",
    "cbc_due_dates",
    "cbc_overdue",
    "cbc_schedule_setting",
]

# Day numbers (day 1 = first dose) of the label schedules before the "every 28 days" tail, and the
# day the tail starts. Cycles are 28 days; "monthly" is taken as every 28 days (one cycle).
_SCHEDULES: dict[str, tuple[tuple[int, ...], int]] = {
    # MDS: weekly for the first 8 weeks, then at least monthly [US PI 2010 highlights].
    "mds": ((1, 8, 15, 22, 29, 36, 43, 50), 57),
    # MCL: weekly in cycle 1, every 2 weeks in cycles 2-4, then monthly [US PI].
    "mcl": ((1, 8, 15, 22, 29, 43, 57, 71, 85, 99), 113),
    # MM: weekly for the first 2 cycles, days 1 and 15 of cycle 3, then every 28 days
    # [US PI; structure not re-read in clestudy's reference].
    "mm": ((1, 8, 15, 22, 29, 36, 43, 50, 57, 71), 85),
    # FL/MZL: weekly for the first 3 weeks of cycle 1, every 2 weeks in cycles 2-4, then monthly
    # [US PI; not re-read in clestudy's reference].
    "fl-mzl": ((1, 8, 15, 29, 43, 57, 71, 85, 99), 113),
}
CBC_SCHEDULES: tuple[str, ...] = tuple(_SCHEDULES)

DEFAULT_CBC_SCHEDULE = "mds"
"""Default ``cbc_schedule``: the MDS label schedule (weekly for 8 weeks, then every 28 days), the
one verified in clestudy's reference; lenalidomide has no CLE label schedule."""


def cbc_due_dates(
    start: dt.date, until: dt.date, schedule: str = DEFAULT_CBC_SCHEDULE
) -> tuple[dt.date, ...]:
    """CBC due dates from the first dose (day 1 = ``start``) up to ``until`` (inclusive).

    Schedules (US Prescribing Information of lenalidomide, by indication):

    * ``mds``: weekly for the first 8 weeks (days 1, 8, ..., 50), then every 28 days from day 57;
    * ``mcl``: weekly in cycle 1 (days 1-22), every 2 weeks in cycles 2-4 (days 29-99), then every
      28 days from day 113;
    * ``mm``: weekly for cycles 1-2 (days 1-50), days 1 and 15 of cycle 3 (57, 71), then every 28
      days from day 85;
    * ``fl-mzl``: weekly for the first 3 weeks (days 1, 8, 15), every 2 weeks in cycles 2-4, then
      every 28 days from day 113.

    "Monthly" is read as every 28 days (one cycle). The ``mm`` and ``fl-mzl`` schedules are
    tagged in reference/instruments.md 6.4 as consistent with the label but not re-read there.

    Notes
    -----
    Source: REVLIMID (lenalidomide) US Prescribing Information, Warnings and Precautions:
    hematologic toxicity (reference/instruments.md 6.4).
    Validated against: the day lists written out in tests/instruments/test_safety_schedules.py.

    Examples
    --------
    >>> [d.isoformat() for d in cbc_due_dates(dt.date(2026, 1, 1), dt.date(2026, 1, 20))]
    ['2026-01-01', '2026-01-08', '2026-01-15']
    """
    first = check_date("cbc", "start", start)
    last = check_date("cbc", "until", until)
    days, tail = _SCHEDULES[check_choice("cbc", "schedule", schedule, CBC_SCHEDULES)]
    out: list[dt.date] = []
    for day in days:
        due = first + dt.timedelta(days=day - 1)
        if due > last:
            return tuple(out)
        out.append(due)
    day = tail
    while (due := first + dt.timedelta(days=day - 1)) <= last:
        out.append(due)
        day += 28
    return tuple(out)


def cbc_overdue(
    start: dt.date,
    cbc_dates: Iterable[dt.date],
    as_of: dt.date,
    schedule: str = DEFAULT_CBC_SCHEDULE,
) -> tuple[ScheduledCheck, ...]:
    """Check recorded CBC dates against the on-treatment schedule; return the missing or late ones.

    Each due date after day 1 needs a CBC after the previous due date and on or before it
    (``(previous due, due]``); the first CBC after the previous due date that comes later is
    late. The day-1 (pre-treatment) CBC is an eligibility item of the protocol, not checked here.
    Schedules and source: :func:`cbc_due_dates`.

    Examples
    --------
    >>> start = dt.date(2026, 1, 1)
    >>> done = [dt.date(2026, 1, 1), dt.date(2026, 1, 8), dt.date(2026, 1, 17)]
    >>> [(c.label, c.status, c.days_late) for c in cbc_overdue(start, done, dt.date(2026, 1, 20))]
    [('CBC due 2026-01-15', 'late', 2)]
    """
    today = check_date("cbc", "as_of", as_of)
    dates = check_dates("cbc", "cbc_dates", cbc_dates)
    due = cbc_due_dates(start, today, schedule)
    windows = [
        Window(f"CBC due {d.isoformat()}", previous + dt.timedelta(days=1), d)
        for previous, d in itertools.pairwise(due)
    ]
    return tuple(c for c in check_windows(windows, dates, today) if c.status in ("missing", "late"))


def cbc_schedule_setting(settings: Mapping[str, object]) -> str:
    """The study's ``cbc_schedule`` (``"mds"`` default; ``"mcl"``, ``"mm"``, ``"fl-mzl"``).

    Examples
    --------
    >>> cbc_schedule_setting({"cbc_schedule": "mm"})
    'mm'
    """
    value = settings.get("cbc_schedule", DEFAULT_CBC_SCHEDULE)
    return check_choice("cbc", "cbc_schedule", value, CBC_SCHEDULES)
