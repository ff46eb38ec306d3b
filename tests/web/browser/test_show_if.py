"""Show-if in a real browser, 768 px wide: a field appears, is filled, hiding it asks, and
confirming (with the keyboard) clears it.

The adverse-event end date of the built-in protocols shows unless the outcome says the event is
ongoing (docs/protocols.md, "Show-if").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from playwright.sync_api import Page, expect
from tests.web.browser._support import PageChecker, Served
from tests.web.conftest import STUDY

from clestudy.store import open_store

Login = Callable[[Page, str], None]
SUBJECT = "A-91"  # enrolled here, not in conftest.SUBJECTS


def test_hiding_a_filled_field_asks_and_confirming_clears_it(
    page: Page, served: Served, login: Login, pages: PageChecker
) -> None:
    with open_store(served.db_url, STUDY, migrate=False) as store:
        store.add_subject(SUBJECT, arm="lenalidomide", site="site01", actor="browser-fixture")
    page.set_viewport_size({"width": 768, "height": 1000})
    login(page, "coord_a")
    path = f"/studies/{STUDY}/subjects/{SUBJECT}/records/week_6/ae/1"
    page.goto(served.url(path))
    end_date = page.get_by_test_id("field-aeendat")
    today = dt.datetime.now(dt.UTC).date()

    page.get_by_label("Reported term for the adverse event").fill("Rash")
    page.get_by_label("Start date").fill((today - dt.timedelta(days=5)).isoformat())
    page.get_by_label("CTCAE grade").select_option("1")
    page.get_by_label("Serious").select_option("false")
    page.get_by_label("Outcome").select_option("RECOVERING/RESOLVING")
    expect(end_date).to_be_hidden()  # the server's answer, toggled by the page
    page.get_by_label("Outcome").select_option("RECOVERED/RESOLVED")
    expect(end_date).to_be_visible()
    page.get_by_label("End date").fill(today.isoformat())
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")

    page.get_by_label("Outcome").select_option("NOT RECOVERED/NOT RESOLVED")
    expect(end_date).to_be_hidden()
    expect(page.get_by_test_id("would-clear")).to_contain_text("Saving will ask to clear End date")
    page.get_by_label("Reason for change (required to change a saved value)").fill(
        "the rash came back"
    )
    page.get_by_test_id("save").click()
    confirm = page.get_by_test_id("confirm-clear")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(f"End date (now {today.isoformat()})")
    expect(page.get_by_test_id("record-meta")).to_contain_text("version 1")  # not saved yet
    clear = page.get_by_test_id("confirm-clear-save")
    expect(clear).to_be_focused()  # Enter confirms
    pages.check(page, "confirm-clear")

    page.keyboard.press("Enter")
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    expect(page.get_by_test_id("record-meta")).to_contain_text("version 2")
    expect(end_date).to_be_hidden()
    with open_store(served.db_url, STUDY, migrate=False) as store:
        [record] = store.records(subject_id=SUBJECT)
    assert "aeendat" not in record.values
    assert record.values["aeout"] == "NOT RECOVERED/NOT RESOLVED"

    page.get_by_label("Outcome").select_option("RECOVERED/RESOLVED")  # shown again, empty
    expect(end_date).to_be_visible()
    expect(page.get_by_label("End date")).to_have_value("")
