"""Electronic signatures in a real browser: an investigator signs a casebook with her password,
a coordinator's edit voids the signature (the subject page says so), and the investigator signs
again. The signing dialog and the void banner are screenshot and checked with axe-core."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from playwright.sync_api import Browser, Page, expect
from tests.web.browser._support import PASSWORD, PageChecker, Served
from tests.web.conftest import STUDY

from clestudy.store import open_store

Login = Callable[[Page, str], None]
SUBJECT = "A-SIG"  # enrolled here, not in conftest.SUBJECTS: this test's own subject


def _sign(page: Page, meaning: str) -> None:
    page.get_by_test_id("sign-casebook").click()
    dialog = page.get_by_test_id("sign-dialog")
    expect(dialog).to_contain_text("Sign the whole casebook of subject A-SIG")
    expect(page.get_by_test_id("attestation")).to_contain_text("legally binding equivalent")
    page.get_by_label(meaning).check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_test_id("sign-submit").click()
    page.wait_for_url(f"**/subjects/{SUBJECT}?signed=1")


def test_an_investigator_signs_an_edit_voids_and_she_signs_again(
    page: Page, browser: Browser, served: Served, login: Login, pages: PageChecker
) -> None:
    with open_store(served.db_url, STUDY) as store:
        store.add_subject(SUBJECT, arm="lenalidomide", site="site01", actor="coord_a")
        today = dt.datetime.now(dt.UTC).date().isoformat()
        store.save_record(SUBJECT, "week_0", "vs", {"vsdat": today, "weight": "70.5"},
                          actor="coord_a")  # fmt: skip
    subject_url = served.url(f"/studies/{STUDY}/subjects/{SUBJECT}")
    login(page, "inv_a")
    page.goto(subject_url)
    panel = page.get_by_test_id("signatures")
    expect(panel).to_contain_text("Not signed yet")

    page.get_by_test_id("sign-casebook").click()
    expect(page.get_by_test_id("sign-records")).to_contain_text("Vital signs")
    expect(page.get_by_test_id("signer")).to_have_text("inv_a")
    pages.check(page, "sign-dialog")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_label("Review").check()
    page.get_by_test_id("sign-submit").click()
    expect(page.get_by_test_id("sign-error")).to_contain_text("Wrong password")
    page.get_by_role("link", name="Cancel").click()

    _sign(page, "Review")
    expect(panel.get_by_test_id("signature-table")).to_contain_text("review")
    expect(panel.get_by_test_id("signature-table")).to_contain_text("valid")

    # a coordinator, in a browser of their own, corrects the weight
    other = browser.new_context(bypass_csp=True)
    try:
        coordinator = other.new_page()
        login(coordinator, "coord_a")
        coordinator.goto(served.url(f"/studies/{STUDY}/subjects/{SUBJECT}/records/week_0/vs/1"))
        coordinator.get_by_label("Weight").fill("71.0")
        coordinator.get_by_label("Reason for change (required to change a saved value)").fill(
            "scale recalibrated"
        )
        coordinator.get_by_test_id("save").click()
        expect(coordinator.get_by_test_id("notice")).to_have_text("Saved.")
    finally:
        other.close()

    page.goto(subject_url)
    banner = page.get_by_test_id("signature-void-casebook")
    expect(banner).to_contain_text("Signature of the whole casebook by inv_a")
    expect(banner).to_contain_text("is void: data changed on")
    expect(banner).to_contain_text("by coord_a")
    expect(panel.get_by_test_id("signature-table")).to_contain_text("void")
    pages.check(page, "signature-void")

    _sign(page, "Approval")
    expect(page.get_by_test_id("signature-void-casebook")).to_have_count(0)
    rows = panel.get_by_test_id("signature-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("approval")
    expect(rows.first).to_contain_text("valid")
    expect(rows.nth(1)).to_contain_text("void")
