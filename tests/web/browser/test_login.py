"""Logging in and out in a real browser, and a suspended user's session ending at once."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from tests.web.browser._support import PASSWORD, PageChecker, Served
from tests.web.conftest import STUDY

Login = Callable[[Page, str], None]


def test_login_shows_the_studies_and_who_is_logged_in(
    page: Page, served: Served, pages: PageChecker
) -> None:
    page.goto(served.url("/studies"))
    expect(page).to_have_url(served.url("/login?next=/studies"))  # no session: the login page
    pages.check(page, "login")

    page.get_by_label("User name").fill("coord_a")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong user name or password")

    page.get_by_label("User name").fill("coord_a")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(served.url("/studies"))
    expect(page.get_by_test_id("current-user")).to_have_text("coord_a (coordinator; site01)")
    expect(page.get_by_test_id(f"study-{STUDY}")).to_be_visible()
    pages.check(page, "studies")

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(served.url("/login"))
    page.goto(served.url(f"/studies/{STUDY}"))
    expect(page).to_have_url(served.url(f"/login?next=/studies/{STUDY}"))
