"""Windows of a monitoring schedule and the check of recorded dates against them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clestudy.instruments._checks import InstrumentInputError

__all__ = ["ScheduledCheck", "Window", "check_date", "check_dates", "check_windows"]


@dataclass(frozen=True)
class Window:
    """A required test: acceptable from ``start`` to ``due`` (both inclusive)."""

    label: str
    start: dt.date
    due: dt.date
    late_allowed: bool = True


@dataclass(frozen=True)
class ScheduledCheck:
    """One required test and what the record shows.

    Attributes
    ----------
    label : str
    window_start, due : date
        The acceptable dates (inclusive).
    status : str
        ``"done"`` (a test inside the window), ``"late"`` (the first test after the window
        start came after ``due``), ``"missing"`` (none, and ``due`` has passed) or
        ``"not yet due"``.
    done_on : date or None
    days_late : int or None
    """

    label: str
    window_start: dt.date
    due: dt.date
    status: str
    done_on: dt.date | None
    days_late: int | None


def check_date(instrument: str, item: str, value: object) -> dt.date:
    """Return ``value`` if it is a calendar date (not a datetime); raise otherwise.

    Examples
    --------
    >>> check_date("cbc", "start", dt.date(2026, 1, 5))
    datetime.date(2026, 1, 5)
    """
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InstrumentInputError(f"{instrument}: {item}: got {value!r}; allowed: a date")
    return value


def check_dates(instrument: str, item: str, values: Iterable[object]) -> list[dt.date]:
    """Check every date of ``values`` (named ``item[i]`` in errors); return them sorted."""
    return sorted(check_date(instrument, f"{item}[{i}]", v) for i, v in enumerate(values))


def check_windows(
    windows: Sequence[Window], dates: Sequence[dt.date], as_of: dt.date
) -> tuple[ScheduledCheck, ...]:
    """Check sorted ``dates`` against each window, as known on ``as_of``.

    A window is met by a date in ``[start, due]``. Otherwise the first date after ``start`` makes
    the test late (when the window allows it); with no such date the test is missing once
    ``as_of`` is past ``due``, else not yet due. A date may serve consecutive windows (a late
    weekly test is on time for the following week).

    Examples
    --------
    >>> w = [Window("week 1", dt.date(2026, 1, 2), dt.date(2026, 1, 8))]
    >>> check_windows(w, [dt.date(2026, 1, 10)], dt.date(2026, 2, 1))[0].status
    'late'
    """
    out: list[ScheduledCheck] = []
    known = [d for d in dates if d <= as_of]
    for window in windows:
        after = [d for d in known if d >= window.start]
        first = after[0] if after else None
        if first is not None and first <= window.due:
            out.append(ScheduledCheck(window.label, window.start, window.due, "done", first, None))
        elif first is not None and window.late_allowed:
            late = (first - window.due).days
            out.append(ScheduledCheck(window.label, window.start, window.due, "late", first, late))
        elif as_of > window.due:
            out.append(
                ScheduledCheck(window.label, window.start, window.due, "missing", None, None)
            )
        else:
            out.append(
                ScheduledCheck(window.label, window.start, window.due, "not yet due", None, None)
            )
    return tuple(out)
