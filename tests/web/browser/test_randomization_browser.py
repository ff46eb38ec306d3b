"""Randomization in a real browser: a coordinator randomizes a subject (htmx confirm), and a
blinded statistician browses the subject list, the subject page, the dashboard, the audit view
and the API and never sees an arm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from playwright.sync_api import Dialog, Page, expect
from tests.web.browser._serve import serve
from tests.web.browser._support import PASSWORD, PageChecker, Served

from clestudy.protocol import load_protocol
from clestudy.store import open_accounts, open_store

PROTOCOL = load_protocol(Path(__file__).parents[2] / "randomization" / "randomized.yaml")
STUDY = PROTOCOL.id
#: Every arm id and name: none may reach the blinded statistician.
ARM_TEXTS = ("placebo", "Placebo", "lenalidomide", "Lenalidomide")
USERS = {
    "r_coord": ("coordinator", ["site01"]),
    "r_stat": ("statistician", ["site01", "site02"]),
}


@pytest.fixture(scope="module")
def rserved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    """The randomized study served: R-A1 randomized before the tests, R-A2 waiting, both with
    their baseline form; and an API token of the statistician."""
    folder = tmp_path_factory.mktemp("served-randomized")
    db_url = f"sqlite:///{folder / 'study.db'}"
    with open_store(db_url, PROTOCOL, actor="browser-fixture") as store:
        store.generate_allocation(per_stratum=8, actor="browser-fixture", seed=1)
        for subject, sex in (("R-A1", "F"), ("R-A2", "M")):
            store.add_subject(subject, arm="", site="site01", actor="browser-fixture")
            store.save_record(subject, "week_0", "dm", {"sex": sex, "age": 44}, actor="b")
        store.randomize("R-A1", actor="browser-fixture")
    accounts = open_accounts(db_url, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST))
    for username, (role, sites) in USERS.items():
        accounts.add_user(username, role=role, sites=sites, password=PASSWORD, actor="fixture")
    token = accounts.create_api_token("r_stat", actor="fixture", label="browser")
    accounts.close()
    with serve(db_url, folder) as base_url:
        yield Served(base_url, db_url), token


def _login(page: Page, served: Served, username: str) -> None:
    page.goto(served.url("/login"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/studies")


def _assert_blind(page: Page, where: str) -> None:
    text, html = page.locator("body").inner_text(), page.content()
    leaked = [arm for arm in ARM_TEXTS if arm in text or arm in html]
    assert leaked == [], f"{where} shows {leaked}"


def test_coordinator_randomizes_after_confirming(
    page: Page, rserved: tuple[Served, str], pages: PageChecker
) -> None:
    served, _ = rserved
    _login(page, served, "r_coord")
    page.goto(served.url(f"/studies/{STUDY}/subjects/R-A2"))
    expect(page.get_by_test_id("randomize")).to_be_visible()
    pages.check(page, "randomize")
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_test_id("randomize").click()
    expect(page.get_by_test_id("randomization-number")).to_contain_text("2-001")
    assert questions and "R-A2" in questions[0]
    pages.check(page, "randomized")


def test_a_blinded_statistician_never_sees_the_arm(page: Page, rserved: tuple[Served, str]) -> None:
    served, token = rserved
    _login(page, served, "r_stat")
    page.goto(served.url(f"/studies/{STUDY}"))
    expect(page.get_by_test_id("subject-row-R-A1")).to_contain_text("blinded")
    _assert_blind(page, "subject list")
    page.goto(served.url(f"/studies/{STUDY}/subjects/R-A1"))
    expect(page.get_by_test_id("randomization-number")).to_contain_text("1-001")
    expect(page.get_by_test_id("randomization-number")).to_contain_text("arm blinded")
    _assert_blind(page, "subject page")
    page.goto(served.url(f"/studies/{STUDY}/dashboard"))
    expect(page.get_by_test_id("dashboard")).to_contain_text("R-A1")
    _assert_blind(page, "dashboard")
    page.goto(served.url(f"/studies/{STUDY}/subjects/R-A1/records/week_0/dm/1/audit"))
    expect(page.get_by_test_id("audit-table")).to_be_visible()
    _assert_blind(page, "audit view")
    for path in ("/subjects", "/subjects/R-A1", "/subjects/R-A1/records"):
        response = page.request.get(
            served.url(f"/api/v1/studies/{STUDY}{path}"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 200, path
        body = response.text()
        assert [arm for arm in ARM_TEXTS if arm in body] == [], path
    report = page.request.get(
        served.url(f"/api/v1/studies/{STUDY}/randomization/report"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert report.status == 403
