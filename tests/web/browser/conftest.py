"""Browser fixtures: a served study, one user per role on two sites, headless Debian chromium.

One SQLite database per session holds the open-label demo protocol with a second site, subjects
on site01 and site02 (each test works on subjects of its own, so the tests run in any order), and
one user per role. ``clestudy serve`` serves it as a subprocess on a free port; one headless
chromium runs per session and each test gets a fresh browser context (its own cookies).

The tests skip, saying why, only when no chromium exists and ``CI`` is unset; in CI a missing
chromium or axe-core fails them. ``make browser-deps`` installs both.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from tests.conftest import missing_input
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"clestudy serve exited with {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the server answers (a redirect to the login page, a 401): it is up
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"clestudy serve did not answer at {url} within {seconds} s: {log.read_text()}")


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
    port = _free_port()
    log = folder / "serve.log"
    command = [
        sys.executable,
        "-c",
        "import sys; from clestudy.cli import main; sys.exit(main(sys.argv[1:]))",
        "serve",
        "--db",
        db_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url + "/", proc, log, seconds=30)
        yield Served(base_url, db_url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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
