"""A monitor source-verifies and locks a form in the browser; the locked form then refuses an edit
from the web page, from the API and from an import, each naming the locked record."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.web.browser._support import PageChecker, Served
from tests.web.conftest import STUDY

from clestudy.errors import RecordLockedError
from clestudy.store import RecordInput, open_accounts, open_store, save_import

Login = Callable[[Page, str], None]
SUBJECT = "A-LK1"  # enrolled by this test only
RECORD = f"/studies/{STUDY}/subjects/{SUBJECT}/records/week_0/vs/1"


def test_a_monitor_verifies_and_locks_a_form_that_then_refuses_every_edit(
    page: Page, browser: Browser, served: Served, login: Login, pages: PageChecker
) -> None:
    with open_store(served.db_url, STUDY, migrate=False) as store:
        store.add_subject(SUBJECT, arm="lenalidomide", site="site01", actor="browser-fixture")
        store.save_record(SUBJECT, "week_0", "vs", {"weight": "70", "height": "170"},
                          actor="coord_a")  # fmt: skip
    # the coordinator has the form open before the monitor locks it
    coordinator = browser.new_context(viewport={"width": 1280, "height": 900})
    coord_page = coordinator.new_page()
    login(coord_page, "coord_a")
    coord_page.goto(served.url(RECORD))
    expect(coord_page.get_by_test_id("save")).to_be_visible()

    login(page, "monitor")
    page.goto(served.url(RECORD))
    expect(page.get_by_test_id("sdv-count")).to_have_text("0/3")
    expect(page.get_by_test_id("save")).to_have_count(0)  # a monitor does not edit
    page.get_by_label("Mark Weight source-verified").check()
    page.get_by_test_id("verify-fields").click()
    expect(page.get_by_test_id("sdv-tick-weight")).to_have_text("✓ verified")
    expect(page.get_by_test_id("sdv-count")).to_have_text("1/3")
    pages.check(page, "record-review")
    page.get_by_test_id("verify").click()
    expect(page.get_by_test_id("record-status")).to_have_text("verified")
    expect(page.get_by_test_id("sdv-count")).to_have_text("3/3")
    page.get_by_test_id("lock").click()
    expect(page.get_by_test_id("record-status")).to_have_text("locked")
    expect(page.get_by_test_id("lock-state")).to_contain_text("Locked at form level by monitor")
    expect(page.get_by_test_id("unlock")).to_have_count(0)  # only an admin unlocks

    page.goto(served.url(f"/studies/{STUDY}/lock-status?subject={SUBJECT}&visit=week_0"))
    row = page.get_by_test_id(f"lock-row-{SUBJECT}-week_0-vs-1")
    expect(row).to_contain_text("locked")
    expect(row).to_contain_text("3/3")
    expect(row).to_contain_text("monitor")
    pages.check(page, "lock-status")

    # the web: the coordinator's open form is refused when saved
    coord_page.locator("#field-weight").fill("75")
    coord_page.locator("#reason").fill("scale recalibrated")
    coord_page.get_by_test_id("save").click()
    expect(coord_page.get_by_test_id("notice")).to_contain_text(
        f"record {SUBJECT}/week_0/vs is locked"
    )
    coordinator.close()

    # the API
    with open_accounts(served.db_url) as accounts:
        token = accounts.create_api_token("coord_a", actor="browser-fixture", label="lock test")
    api = page.request.put(
        served.url(f"/api/v1{RECORD}"),
        headers={"Authorization": f"Bearer {token}"},
        data={"values": {"weight": "75"}, "expected_version": 3, "reason": "scale"},
    )
    assert api.status == 409
    assert f"record {SUBJECT}/week_0/vs is locked" in api.json()["error"]

    # an import (the REDCap and ODM importers save through save_import)
    with open_store(served.db_url, STUDY, migrate=False) as store:
        with pytest.raises(RecordLockedError, match=f"record {SUBJECT}/week_0/vs is locked"):
            save_import(
                store, records=[RecordInput(SUBJECT, "week_0", "vs", {"weight": "75"}, 1, 3)],
                actor="importer", reason="redcap export",
            )  # fmt: skip
        record = store.records(subject_id=SUBJECT, form_id="vs")[0]
    assert (record.status, record.values["weight"], record.version) == ("locked", "70", 3)
