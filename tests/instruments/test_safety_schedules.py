"""Lenalidomide pregnancy-test schedule, CBC due dates, thalidomide neuropathy check.

Provenance: reference/instruments.md 6.3 (REMS: tests 10-14 days and within 24 h before start,
weekly for 4 weeks, then every 4 weeks or 2 weeks with irregular cycles), 6.4 (CBC schedules by
indication) and 6.5 (sural SNAP decline thresholds; cumulative dose > 20 g). Dates are written out
day by day in the comments.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    InstrumentInputError,
    cbc_due_dates,
    cbc_overdue,
    cbc_schedule_setting,
    pregnancy_test_check,
    thalidomide_neuropathy_check,
    thalidomide_settings,
)

START = dt.date(2026, 3, 1)


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


# --- pregnancy tests --------------------------------------------------------------------------


def test_complete_schedule_has_no_problems() -> None:
    # Pre-start day -12 and day 0; weekly days 7, 14, 21, 28; every 4 weeks days 56, 84.
    tests = [day(-12), day(0), day(7), day(14), day(21), day(28), day(56), day(84)]
    check = pregnancy_test_check(START, tests, day(84))
    assert check.problems == ()
    assert [c.label for c in check.checks][-2:] == ["every 4 weeks #1", "every 4 weeks #2"]


@pytest.mark.parametrize(
    ("first_test", "status"),
    [(-14, "done"), (-10, "done"), (-15, "missing"), (-9, "missing")],
)
def test_first_pre_start_test_window_is_day_minus_14_to_minus_10(
    first_test: int, status: str
) -> None:
    check = pregnancy_test_check(START, [day(first_test), day(0)], day(3))
    assert check.checks[0].status == status


@pytest.mark.parametrize(("second_test", "status"), [(-1, "done"), (0, "done"), (-2, "missing")])
def test_second_pre_start_test_within_24_hours(second_test: int, status: str) -> None:
    check = pregnancy_test_check(START, [day(-12), day(second_test)], day(3))
    assert check.checks[1].status == status


def test_missing_and_late_weekly_tests() -> None:
    # Week 1 (days 1-7) tested day 9: late by 2 days, and on time for week 2 (days 8-14).
    # Week 3 (days 15-21): no test -> missing by day 25. Week 4 (22-28): not yet due on day 25.
    check = pregnancy_test_check(START, [day(-12), day(0), day(9)], day(25))
    statuses = {c.label: (c.status, c.days_late) for c in check.checks}
    assert statuses["week 1"] == ("late", 2)
    assert statuses["week 2"] == ("done", None)
    assert statuses["week 3"] == ("missing", None)
    assert statuses["week 4"] == ("not yet due", None)
    assert [c.label for c in check.problems] == ["week 1", "week 3"]


def test_irregular_cycles_need_a_test_every_2_weeks() -> None:
    # After week 4: windows days 29-42, 43-56. Tests on 40 and 56 satisfy them; 4-weekly would too.
    tests = [day(-12), day(0), day(7), day(14), day(21), day(28), day(40)]
    irregular = pregnancy_test_check(START, tests, day(57), regular_cycles=False)
    assert [c.label for c in irregular.problems] == ["every 2 weeks #2"]
    assert pregnancy_test_check(START, tests, day(57), regular_cycles=True).problems == ()


def test_not_applicable_and_therapy_end() -> None:
    assert (
        pregnancy_test_check(START, [], day(60), reproductive_potential=False).applicable is False
    )
    # Therapy stopped on day 20: no window opens after it.
    check = pregnancy_test_check(
        START, [day(-12), day(0), day(7), day(14)], day(60), therapy_end=day(20)
    )
    assert [c.label for c in check.problems] == ["week 3"]


def test_dates_are_checked() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^pregnancy_tests: test_dates\[1\]: got '2026-03-01'; allowed: a date$",
    ):
        pregnancy_test_check(START, [day(0), "2026-03-01"], day(3))  # type: ignore[list-item]
    with pytest.raises(InstrumentInputError, match=r"^pregnancy_tests: as_of: got datetime"):
        pregnancy_test_check(START, [], dt.datetime(2026, 3, 4, 10, 0))


# --- CBC --------------------------------------------------------------------------------------


def test_cbc_schedules() -> None:
    days = {
        name: [(d - START).days + 1 for d in cbc_due_dates(START, day(140), name)]
        for name in ("mds", "mcl", "mm", "fl-mzl")
    }
    # MDS: weekly x 8 (1..50), then every 28 days from day 57.
    assert days["mds"] == [1, 8, 15, 22, 29, 36, 43, 50, 57, 85, 113, 141]
    # MCL: weekly in cycle 1, every 2 weeks in cycles 2-4, monthly from day 113.
    assert days["mcl"] == [1, 8, 15, 22, 29, 43, 57, 71, 85, 99, 113, 141]
    # MM: weekly cycles 1-2, days 1 and 15 of cycle 3 (57, 71), then every 28 days from 85.
    assert days["mm"] == [1, 8, 15, 22, 29, 36, 43, 50, 57, 71, 85, 113, 141]
    assert days["fl-mzl"] == [1, 8, 15, 29, 43, 57, 71, 85, 99, 113, 141]


def test_cbc_overdue() -> None:
    # MDS due dates day(0), day(7), day(14), day(21), day(28). CBCs on day(0), day(7), day(17):
    # the day(14) CBC came 3 days late; day(17) also lies in (day(14), day(21)], so day(21) is
    # done; nothing after day(21) by day(30), so day(28) is missing.
    done = [day(0), day(7), day(17)]
    problems = cbc_overdue(START, done, day(30))
    assert [(c.due, c.status, c.days_late) for c in problems] == [
        (day(14), "late", 3),
        (day(28), "missing", None),
    ]
    assert cbc_schedule_setting({}) == "mds"
    with pytest.raises(
        InstrumentInputError,
        match=r"^cbc: schedule: got 'weekly'; allowed: mds, mcl, mm or fl-mzl$",
    ):
        cbc_due_dates(START, day(10), "weekly")


@settings(derandomize=True, database=None, max_examples=100, deadline=None)
@given(st.integers(0, 400), st.sampled_from(["mds", "mcl", "mm", "fl-mzl"]))
def test_cbc_due_dates_are_increasing_and_at_most_28_days_apart(length: int, schedule: str) -> None:
    due = cbc_due_dates(START, day(length), schedule)
    assert due[0] == START and all(d <= day(length) for d in due)
    gaps = [(b - a).days for a, b in itertools.pairwise(due)]
    assert all(0 < gap <= 28 for gap in gaps)


# --- thalidomide ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "rule", "action"),
    [
        (6.01, "zara-2008", "continue"),  # 39.9 % decline
        (6.0, "zara-2008", "stop"),  # 40 % decline (inclusive)
        (5.01, "briani-2006", "continue"),  # 49.9 %
        (5.0, "briani-2006", "reduce dose"),  # 50 %
        (3.0, "briani-2006", "stop"),  # 70 %
        (12.0, "briani-2006", "continue"),  # amplitude rose: -20 %
    ],
)
def test_snap_decline_thresholds(current: float, rule: str, action: str) -> None:
    check = thalidomide_neuropathy_check(10.0, current, 5.0, rule=rule)
    assert check.action == action


def test_cumulative_dose_flag_is_strictly_above_20_g() -> None:
    assert thalidomide_neuropathy_check(10, 10, 20).cumulative_dose_flag is False
    assert thalidomide_neuropathy_check(10, 10, 20.1).cumulative_dose_flag is True
    assert (
        thalidomide_neuropathy_check(10, 10, 15, cumulative_flag_g=10).cumulative_dose_flag is True
    )


def test_thalidomide_bad_inputs_and_settings() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^thalidomide: baseline_snap_uv: got 0; allowed: a number > 0 uV$",
    ):
        thalidomide_neuropathy_check(0, 5, 1)
    with pytest.raises(
        InstrumentInputError,
        match=r"^thalidomide: rule: got 'any'; allowed: zara-2008 or briani-2006$",
    ):
        thalidomide_neuropathy_check(10, 5, 1, rule="any")
    assert thalidomide_settings({"thalidomide_snap_rule": "briani-2006"}) == ("briani-2006", 20.0)
