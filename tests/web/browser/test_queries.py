"""Queries in a real browser: a monitor raises a query on a field, the coordinator answers it from
the record page's badge, and the monitor closes it; the query page and the study's query list are
screenshot and checked with axe-core.

The subject (``A-Q1``) is this test's own, enrolled through the store, not one of
``conftest.SUBJECTS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect
from tests.web.browser._support import PageChecker, Served
from tests.web.conftest import STUDY

from clestudy.store import open_store, verify_audit

Login = Callable[[Page, str], None]
RECORD = f"/studies/{STUDY}/subjects/A-Q1/records/week_0/vs/1"


def test_monitor_raises_coordinator_answers_monitor_closes(
    page: Page, served: Served, login: Login, pages: PageChecker
) -> None:
    with open_store(served.db_url, STUDY) as store:
        store.add_subject("A-Q1", arm="lenalidomide", site="site01", actor="coord_a")
        store.save_record("A-Q1", "week_0", "vs", {"vsdat": "2025-01-06", "weight": "70"},
                          actor="coord_a")  # fmt: skip

    login(page, "monitor")
    page.goto(served.url(RECORD))
    page.get_by_text("Raise a query on a field").click()
    page.get_by_test_id("raise-query-weight").click()
    expect(page.get_by_test_id("query-status")).to_have_text("no query")
    page.get_by_label("Message (required)").fill("The source document says 72 kg.")
    page.get_by_test_id("query-raise").click()
    expect(page.get_by_test_id("notice")).to_have_text("Query raised.")
    expect(page.get_by_test_id("query-status")).to_have_text("open")
    expect(page.get_by_test_id("query-message-1")).to_contain_text("72 kg")
    pages.check(page, "query")

    page.context.clear_cookies()
    login(page, "coord_a")
    page.goto(served.url(RECORD))
    expect(page.get_by_test_id("query-badge-weight")).to_have_text("Query open")
    expect(page.get_by_test_id("record-query-weight")).to_contain_text("open")
    pages.check(page, "record-queries")
    page.get_by_test_id("query-badge-weight").click()
    expect(page.get_by_test_id("query-form-close")).to_have_count(0)  # not the site's right
    page.get_by_label("Message (required)").fill("Checked: 70 kg was measured on the day.")
    page.get_by_test_id("query-answer").click()
    expect(page.get_by_test_id("query-status")).to_have_text("answered")

    page.context.clear_cookies()
    login(page, "monitor")
    page.goto(served.url(f"/studies/{STUDY}/queries?status=answered"))
    expect(page.get_by_test_id("query-row-A-Q1-weight")).to_be_visible()
    pages.check(page, "queries")
    page.get_by_test_id("query-row-A-Q1-weight").get_by_role("link", name="weight").click()
    page.get_by_label("Message (optional)").fill("Thank you.")
    page.get_by_test_id("query-close").click()
    expect(page.get_by_test_id("query-status")).to_have_text("closed")
    expect(page.get_by_test_id("query-thread").locator("li")).to_have_count(3)
    pages.check(page, "query")
    page.goto(served.url(f"/studies/{STUDY}/queries"))  # the filters refresh the list (htmx)
    page.get_by_label("Subject").fill("A-Q1")
    page.get_by_label("Status").select_option("open")
    expect(page.get_by_test_id("no-queries")).to_be_visible()
    page.get_by_label("Status").select_option("closed")
    expect(page.get_by_test_id("query-row-A-Q1-weight")).to_contain_text("closed")
    expect(page).to_have_url(re.compile(r"status=closed"))

    with open_store(served.db_url, STUDY) as store:
        query = store.query("A-Q1", "week_0", "vs", "weight")
    assert [(m.action, m.author) for m in query.messages] == [
        ("raise", "monitor"), ("answer", "coord_a"), ("close", "monitor"),
    ]  # fmt: skip
    assert verify_audit(served.db_url).ok
