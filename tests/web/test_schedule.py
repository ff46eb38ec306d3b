"""Visit schedule: target dates from the baseline, windows, status, overdue and out of window."""

from __future__ import annotations

import datetime as dt
import re

from tests.web.conftest import STUDY, WebWorld, two_site_protocol

from clestudy.web._visits import visit_schedule


def test_schedule_counts_from_the_baseline_and_flags_overdue_and_out_of_window(
    world: WebWorld,
) -> None:
    store = world.store
    world.clock.now = dt.datetime(2030, 4, 20, 9, 0, tzinfo=dt.UTC)
    store.save_record("S-01", "week_0", "vs", {"vsdat": "2030-01-07"}, actor="coordinator1")
    # week 6 (day 42, window +-7): dated on day 52, outside its window
    store.save_record("S-01", "week_6", "vs", {"vsdat": "2030-02-28"}, actor="coordinator1")
    records = [r for r in store.records() if r.subject_id == "S-01"]
    rows = {
        r.visit.id: r for r in visit_schedule(two_site_protocol(), records, dt.date(2030, 4, 20))
    }
    week_6, week_12, week_24 = rows["week_6"], rows["week_12"], rows["week_24"]
    assert week_6.target == dt.date(2030, 2, 18)
    assert (week_6.window_start, week_6.window_end) == (dt.date(2030, 2, 11), dt.date(2030, 2, 25))
    assert week_6.out_of_window
    assert week_6.status == "incomplete"  # clasi, labs not started
    assert week_12.target == dt.date(2030, 4, 1)
    assert week_12.status == "not started"
    assert week_12.overdue  # window ended 2030-04-08
    assert not week_24.overdue
    assert rows["week_0"].status == "incomplete"


def test_schedule_page_shows_the_flags(world: WebWorld) -> None:
    world.store.save_record("S-01", "week_0", "vs", {"vsdat": "2029-10-01"}, actor="coordinator1")
    client, _ = world.login("coordinator1")
    page = client.get(f"/studies/{STUDY}/subjects/S-01").text
    assert 'data-testid="overdue-week_6"' in page
    assert re.search(r'visit-status-week_0">incomplete<', page)
    assert "2029-11-12" in page  # week 6 target: baseline + 42 days
