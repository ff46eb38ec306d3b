"""Sites and accounts in a real browser: a user of site B never reaches a site-A subject, and
suspending a user ends the session that is open in the browser."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser, Page, expect
from tests.web.browser._support import PASSWORD, PageChecker, Served
from tests.web.conftest import STUDY

Login = Callable[[Page, str], None]


def test_a_site_b_user_cannot_reach_a_site_a_subject_by_url(
    page: Page, served: Served, login: Login, pages: PageChecker
) -> None:
    login(page, "coord_b")
    page.goto(served.url(f"/studies/{STUDY}"))
    expect(page.get_by_test_id("subject-row-B-01")).to_be_visible()
    expect(page.get_by_test_id("subjects-site01")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("A-01")

    page.goto(served.url(f"/studies/{STUDY}/dashboard"))
    expect(page.get_by_test_id("dashboard")).to_contain_text("B-01")
    expect(page.get_by_test_id("dashboard")).not_to_contain_text("A-01")
    pages.check(page, "dashboard")

    # another site's subject, its record and its audit trail: the same 404 as an unknown id
    unknown = page.goto(served.url(f"/studies/{STUDY}/subjects/Z-99"))
    assert unknown is not None and unknown.status == 404
    unknown_text = page.locator("main").inner_text()
    pages.check(page, "not-found")
    for path in (
        "/subjects/A-01",
        "/subjects/A-01/records/week_0/clasi/1",
        "/subjects/A-01/records/week_0/clasi/1/audit",
    ):
        response = page.goto(served.url(f"/studies/{STUDY}{path}"))
        assert response is not None and response.status == 404, path
        assert page.locator("main").inner_text() == unknown_text, path
        expect(page.locator("body")).not_to_contain_text("A-01")


def test_a_suspended_user_is_logged_out_at_once(
    page: Page, browser: Browser, served: Served, login: Login, pages: PageChecker
) -> None:
    login(page, "coord_gone")
    page.goto(served.url(f"/studies/{STUDY}"))
    expect(page.get_by_test_id("subject-row-A-06")).to_be_visible()

    # the admin, in a browser of their own, suspends the user on the users page
    admin_context = browser.new_context(bypass_csp=True)
    try:
        admin = admin_context.new_page()
        login(admin, "admin")
        admin.goto(served.url("/admin/users"))
        pages.check(admin, "users")
        row = admin.get_by_test_id("user-row-coord_gone")
        row.get_by_label("Reason").fill("left the study team")
        row.get_by_test_id("suspend-coord_gone").click()
        expect(admin.get_by_test_id("user-row-coord_gone")).to_contain_text("suspended")
    finally:
        admin_context.close()

    reloaded = page.reload()  # the open session ended with the suspension: back to the login
    assert reloaded is not None and reloaded.request.redirected_from is not None
    expect(page).to_have_url(served.url(f"/login?next=/studies/{STUDY}"))
    page.get_by_label("User name").fill("coord_gone")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("locked or suspended")
