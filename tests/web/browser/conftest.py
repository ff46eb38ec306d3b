"""Browser fixtures: a served study, one user per role on two sites, headless Debian chromium.

One SQLite database per session holds the open-label demo protocol with a second site, subjects
on site01 and site02 (each test works on subjects of its own, so the tests run in any order), and
one user per role. ``clestudy serve`` serves it as a subprocess on a free port; one headless
chromium runs per session and each test gets a fresh browser context (its own cookies).

The tests skip, saying why, only when no chromium exists and ``CI`` is unset; in CI a missing
chromium or axe-core fails them. ``make test`` installs both (``browser-deps``, ``npm ci``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher, profiles
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from tests.conftest import missing_input
from tests.web.browser._serve import serve
from tests.web.browser._support import (
    AXE_SCRIPT,
    PASSWORD,
    SUBJECTS,
    USERS,
    PageChecker,
    Served,
    artifacts_dir,
    find_chromium,
    in_ci,
)
from tests.web.conftest import two_site_protocol

from clestudy.store import open_accounts, open_store

# A save on a loaded CI machine (two cores shared by the whole suite) can take longer than
# Playwright's 5 s default for assertions: wait as long as for actions (10 s, below). A writer lock
# left held would still fail them, since a waiting writer gives up only after 30 s.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The study database with users and subjects, served by ``clestudy serve``."""
    folder = tmp_path_factory.mktemp("served")
    db_url = f"sqlite:///{folder / 'study.db'}"
    with open_store(db_url, two_site_protocol(), actor="browser-fixture") as store:
        for site, subjects in SUBJECTS.items():
            for subject in subjects:
                store.add_subject(subject, arm="lenalidomide", site=site, actor="browser-fixture")
    # the cheapest argon2id profile keeps set-up fast; the served app verifies each hash by its
    # own parameters (and re-hashes it at the default profile on the first login)
    accounts = open_accounts(db_url, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST))
    for username, (role, sites) in USERS.items():
        accounts.add_user(
            username, role=role, sites=sites, password=PASSWORD, actor="browser-fixture"
        )
    accounts.close()
    with serve(db_url, folder) as base_url:
        yield Served(base_url, db_url)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    """Headless Debian chromium; skips (fails in CI) when there is none or no axe-core."""
    chromium = find_chromium()
    required = "CI=true" if in_ci() else None
    if chromium is None:
        missing_input(
            "no chromium binary (install Debian's: apt-get install --no-install-recommends "
            "chromium, or run make browser-deps)",
            required=required,
        )
    if not AXE_SCRIPT.is_file():
        missing_input(f"axe-core is not installed at {AXE_SCRIPT} (run npm ci)", required=required)
    browser = playwright_session.chromium.launch(executable_path=str(chromium), headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh context per test (its own cookies). ``bypass_csp`` lets axe-core be injected into
    pages whose Content-Security-Policy forbids inline scripts; the app's policy is still sent."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def pages() -> PageChecker:
    """Screenshot (once per page kind) and axe check: ``pages.check(page, "login")``."""
    return PageChecker(artifacts_dir())


@pytest.fixture
def login(served: Served) -> Callable[[Page, str], None]:
    """``login(page, "coord_a")``: sign in through the login page."""

    def _login(page: Page, username: str) -> None:
        page.goto(served.url("/login"))
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/studies")

    return _login
