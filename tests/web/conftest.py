"""A web app over a temporary SQLite store: a two-site protocol, subjects at both sites, users of
every role at each site, and clocks the tests move by hand."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI
from fastapi.testclient import TestClient

from clestudy.protocol import Protocol, Site, load_protocol
from clestudy.store import ROLES, Accounts, Store, open_accounts, open_store
from clestudy.web import WebSettings, create_app

STUDY = "lenalidomide-cle-open-label"
SITES = ("site01", "site02")
PASSWORD = "correct horse battery"
# after the real time at which open_store registers the study (audit times never go back)
START = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
#: Subjects by site (each site has two).
SUBJECTS = {"site01": ("S-01", "S-02"), "site02": ("S-03", "S-04")}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class FakeClock:
    """A clock the test moves by hand (``now`` and ``advance``)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def fake_clock() -> FakeClock:
    """A hand-moved clock starting at :data:`START`."""
    return FakeClock(START)


def two_site_protocol() -> Protocol:
    """The built-in open-label protocol with a second site."""
    protocol = load_protocol(STUDY)
    return protocol.model_copy(
        update={"sites": (*protocol.sites, Site(id="site02", name="Site 02"))}
    )


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


@dataclass
class WebWorld:
    """The app, its database, accounts and clock."""

    url: str
    app: FastAPI
    accounts: Accounts
    store: Store
    clock: FakeClock
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def login(self, username: str, client: TestClient | None = None) -> tuple[TestClient, str]:
        """A client logged in as ``username`` and its session's CSRF token."""
        client = client or self.client()
        page = client.get("/login")
        done = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert done.status_code == 303, done.text
        studies = client.get("/studies")
        assert studies.status_code == 200
        return client, csrf_of(studies.text)

    def token(self, username: str) -> dict[str, str]:
        """The ``Authorization`` header of an API token of ``username``."""
        if username not in self.tokens:
            self.tokens[username] = self.accounts.create_api_token(
                username, actor="setup", label="tests"
            )
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def user_name(role: str, site: str) -> str:
    """The test user of ``role`` at ``site`` (e.g. ``coordinator2`` at site02)."""
    return f"{role}{SITES.index(site) + 1}"


def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(profiles.CHEAPEST)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded database, built once; each test works on a copy."""
    path = tmp_path_factory.mktemp("web-template") / "web.db"
    url = f"sqlite:///{path}"
    clock = fake_clock()
    with open_store(url, two_site_protocol(), actor="setup") as store:
        store.clock = clock
        for site, subjects in SUBJECTS.items():
            for subject in subjects:
                store.add_subject(subject, arm="lenalidomide", site=site, actor="setup")
    with open_accounts(url, clock=clock, hasher=_hasher()) as accounts:
        for role in ROLES:
            for site in SITES:
                accounts.add_user(
                    user_name(role, site), role=role, sites=[site], password=PASSWORD,
                    actor="setup",
                )  # fmt: skip
    return path


@pytest.fixture
def world(template_db: Path, tmp_path: Path) -> Iterator[WebWorld]:
    path = tmp_path / "web.db"
    shutil.copyfile(template_db, path)
    url = f"sqlite:///{path}"
    clock = fake_clock()
    store = open_store(url, STUDY)
    store.clock = clock
    accounts = open_accounts(url, clock=clock, hasher=_hasher())
    app = create_app(url, settings=WebSettings(clock=clock), accounts=accounts)
    yield WebWorld(url, app, accounts, store, clock)
    app.state.web.studies.close()
    accounts.close()
    store.close()
