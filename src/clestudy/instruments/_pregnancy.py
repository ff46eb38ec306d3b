"""Lenalidomide REMS pregnancy-test schedule for a female of reproductive potential."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from clestudy.instruments._checks import check_bool
from clestudy.instruments._schedule import (
    ScheduledCheck,
    Window,
    check_date,
    check_dates,
    check_windows,
)

__all__ = ["PregnancyTestCheck", "pregnancy_test_check"]

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class PregnancyTestCheck:
    """The required pregnancy tests up to a date and which are missing or late.

    Attributes
    ----------
    applicable : bool
        ``False`` when the subject is not a female of reproductive potential (no tests required).
    checks : tuple of ScheduledCheck
        Every required test, in order.
    problems : tuple of ScheduledCheck
        The checks that are ``"missing"`` or ``"late"``.
    """

    applicable: bool
    checks: tuple[ScheduledCheck, ...]
    problems: tuple[ScheduledCheck, ...]


def pregnancy_test_check(
    start: dt.date,
    test_dates: Iterable[dt.date],
    as_of: dt.date,
    *,
    reproductive_potential: bool = True,
    regular_cycles: bool = True,
    therapy_end: dt.date | None = None,
) -> PregnancyTestCheck:
    """List the missing or late pregnancy tests of the lenalidomide REMS schedule.

    Required tests (``start`` is the prescribing / first-dose date, day 0):

    * before starting: test 1 between day -14 and day -10; test 2 "within 24 hours prior to
      prescribing", which with calendar dates is day -1 or day 0. Neither may be late;
    * weekly during the first 4 weeks: one test in each of days 1-7, 8-14, 15-21, 22-28;
    * then one test in every 4 weeks (regular menstrual cycles) or every 2 weeks (irregular),
      while on therapy (up to ``therapy_end`` when given) and up to ``as_of``.

    A test is late when the first test after its window opened came after its due date.
    Tests for a missed period or abnormal bleeding are extra and are not scheduled here.

    Parameters
    ----------
    start : date
    test_dates : iterable of date
        Dates of the pregnancy tests done (negative results).
    as_of : date
        The date the check is made for (the caller's today: the instruments never read the clock).
    reproductive_potential : bool
    regular_cycles : bool
    therapy_end : date, optional

    Notes
    -----
    Source: REVLIMID (lenalidomide) US Prescribing Information, Lenalidomide REMS: pregnancy
    testing (sections 5.1 and 8.3); reference/instruments.md 6.3. The thalidomide REMS schedule
    is described as the same, but that was not verified in clestudy's reference.
    Validated against: day-by-day schedules in tests/instruments/test_safety_schedules.py.

    Examples
    --------
    >>> start = dt.date(2026, 3, 1)
    >>> tests = [dt.date(2026, 2, 17), dt.date(2026, 3, 1), dt.date(2026, 3, 8)]
    >>> check = pregnancy_test_check(start, tests, dt.date(2026, 3, 12))
    >>> [(c.label, c.status) for c in check.checks]
    [('before start: test 1 (day -14 to -10)', 'done'), ('before start: test 2 (within 24 h)', 'done'), ('week 1', 'done'), ('week 2', 'not yet due')]
    """
    first = check_date("pregnancy_tests", "start", start)
    today = check_date("pregnancy_tests", "as_of", as_of)
    dates = check_dates("pregnancy_tests", "test_dates", test_dates)
    end = None if therapy_end is None else check_date("pregnancy_tests", "therapy_end", therapy_end)
    if not check_bool("pregnancy_tests", "reproductive_potential", reproductive_potential):
        return PregnancyTestCheck(False, (), ())
    interval = 28 if check_bool("pregnancy_tests", "regular_cycles", regular_cycles) else 14
    windows = [
        Window(
            "before start: test 1 (day -14 to -10)", first - 14 * _DAY, first - 10 * _DAY, False
        ),
        Window("before start: test 2 (within 24 h)", first - _DAY, first, False),
    ]
    windows += [
        Window(f"week {week}", first + (7 * week - 6) * _DAY, first + 7 * week * _DAY)
        for week in range(1, 5)
    ]
    last_day = today if end is None else min(today, end)
    opens, number = first + 29 * _DAY, 1
    while opens <= last_day:
        due = opens + (interval - 1) * _DAY
        windows.append(Window(f"every {interval // 7} weeks #{number}", opens, due))
        opens, number = due + _DAY, number + 1
    windows = [w for w in windows if w.start <= last_day]
    checks = check_windows(windows, dates, today)
    problems = tuple(c for c in checks if c.status in ("missing", "late"))
    return PregnancyTestCheck(True, checks, problems)
