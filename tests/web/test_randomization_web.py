"""Randomization on the web and the API: randomize once, the admin's list page, unblinding,
and blinding: a blinded statistician never sees an arm (list, subject page, dashboard, audit
view, API, error messages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from tests.web.conftest import PASSWORD, SITES, WebWorld, fake_clock, user_name

from clestudy.protocol import load_protocol
from clestudy.store import ROLES, audit_events, open_accounts, open_store, verify_audit
from clestudy.web import WebSettings, create_app

PROTOCOL = load_protocol(Path(__file__).parents[1] / "randomization" / "randomized.yaml")
STUDY = PROTOCOL.id
#: What must never reach a blinded user: every arm id and name.
ARM_TEXTS = ("placebo", "Placebo", "lenalidomide", "Lenalidomide")


@pytest.fixture
def rworld(tmp_path: Path) -> Iterator[WebWorld]:
    """The randomized study: subjects R-01 (site01) and R-03 (site02) with their baseline sex,
    R-02 (site01) without; a list of 8 per stratum; users of every role at each site."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    clock = fake_clock()
    store = open_store(url, PROTOCOL, actor="setup")
    store.clock = clock
    for subject, site, sex in (("R-01", "site01", "F"), ("R-02", "site01", None),
                               ("R-03", "site02", "M")):  # fmt: skip
        store.add_subject(subject, arm="", site=site, actor="setup")
        store.save_record(subject, "week_0", "dm", {"sex": sex, "age": 50}, actor="setup")
    store.generate_allocation(per_stratum=8, actor="setup", seed=4242)
    accounts = open_accounts(
        url, clock=clock, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)
    )
    for role in ROLES:
        for site in SITES:
            accounts.add_user(
                user_name(role, site), role=role, sites=list(SITES) if role == "statistician"
                else [site], password=PASSWORD, actor="setup",
            )  # fmt: skip
    app = create_app(url, settings=WebSettings(clock=clock), accounts=accounts)
    yield WebWorld(url, app, accounts, store, clock)
    app.state.web.studies.close()
    accounts.close()
    store.close()


def _assert_blind(text: str, where: str) -> None:
    leaked = [arm for arm in ARM_TEXTS if arm in text]
    assert leaked == [], f"{where} shows {leaked}"


def test_coordinator_randomizes_once_from_the_subject_page(rworld: WebWorld) -> None:
    client, csrf = rworld.login("coordinator1")
    page = client.get(f"/studies/{STUDY}/subjects/R-01")
    assert 'data-testid="randomize"' in page.text and "Not randomized yet" in page.text
    done = client.post(
        f"/studies/{STUDY}/subjects/R-01/randomize",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert done.status_code == 200, done.text
    assert "Randomization number <strong>1-001</strong>" in done.text
    arm = rworld.store.subject("R-01")
    assert arm is not None and arm.arm in ("placebo", "lenalidomide")
    # coordinators are not blinded in this study: they see the arm's name
    name = next(a.name for a in PROTOCOL.arms if a.id == arm.arm)
    assert name in done.text
    again = client.post(f"/studies/{STUDY}/subjects/R-01/randomize", data={"csrf_token": csrf})
    assert again.status_code == 422
    assert "already randomized (number 1-001)" in again.text
    incomplete = client.post(f"/studies/{STUDY}/subjects/R-02/randomize", data={"csrf_token": csrf})
    assert incomplete.status_code == 422
    assert "stratification incomplete: sex of form dm" in incomplete.text
    other_site = client.post(f"/studies/{STUDY}/subjects/R-03/randomize", data={"csrf_token": csrf})
    assert other_site.status_code == 404
    monitor, monitor_csrf = rworld.login("monitor1")
    refused = monitor.post(
        f"/studies/{STUDY}/subjects/R-01/randomize", data={"csrf_token": monitor_csrf}
    )
    assert refused.status_code == 403
    assert verify_audit(rworld.url).ok


def test_blinded_statistician_never_sees_the_arm(rworld: WebWorld) -> None:
    rworld.store.randomize("R-01", actor="coordinator1")
    rworld.store.randomize("R-03", actor="coordinator2")
    client, _ = rworld.login("statistician1")
    pages = {
        "subject list": f"/studies/{STUDY}",
        "subject page": f"/studies/{STUDY}/subjects/R-01",
        "other site's subject page": f"/studies/{STUDY}/subjects/R-03",
        "dashboard": f"/studies/{STUDY}/dashboard",
        "audit view": f"/studies/{STUDY}/subjects/R-01/records/week_0/dm/1/audit",
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        _assert_blind(response.text, where)
    subject_page = client.get(pages["subject page"]).text
    assert "Randomization number <strong>1-001</strong> · arm blinded" in subject_page
    headers = rworld.token("statistician1")
    api = rworld.client()
    for url in (
        f"/api/v1/studies/{STUDY}/subjects",
        f"/api/v1/studies/{STUDY}/subjects/R-01",
        f"/api/v1/studies/{STUDY}/subjects/R-01/records",
    ):
        response = api.get(url, headers=headers)
        assert response.status_code == 200, url
        _assert_blind(response.text, url)
    assert api.get(f"/api/v1/studies/{STUDY}/subjects/R-01", headers=headers).json()["arm"] == (
        "blinded"
    )
    # the blinded role may not see the report or unblind
    assert (
        api.get(f"/api/v1/studies/{STUDY}/randomization/report", headers=headers).status_code == 403
    )
    refused = api.post(
        f"/api/v1/studies/{STUDY}/subjects/R-01/unblind", headers=headers, json={"reason": "x"}
    )
    assert refused.status_code == 403
    _assert_blind(refused.text, "the refusal")
    # the OpenAPI schema stays valid with the new routes
    schema = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/studies/{study}/subjects/{subject}/randomize" in schema["paths"]


def test_investigator_unblinds_with_a_reason_and_it_is_audited(rworld: WebWorld) -> None:
    rworld.store.randomize("R-01", actor="coordinator1")
    arm = rworld.store.subject("R-01")
    assert arm is not None
    api = rworld.client()
    headers = rworld.token("investigator1")
    missing = api.post(
        f"/api/v1/studies/{STUDY}/subjects/R-01/unblind", headers=headers, json={"reason": " "}
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "reason"
    shown = api.post(
        f"/api/v1/studies/{STUDY}/subjects/R-01/unblind", headers=headers,
        json={"reason": "serious adverse event, emergency"},
    )  # fmt: skip
    assert shown.status_code == 200
    assert shown.json() == {"subject_id": "R-01", "number": "1-001", "arm": arm.arm}
    event = audit_events(rworld.url, entity_prefix=f"{STUDY}/R-01/unblinding")[-1]
    assert (event["actor"], event["reason"]) == (
        "investigator1",
        "serious adverse event, emergency",
    )
    other = api.post(
        f"/api/v1/studies/{STUDY}/subjects/R-03/unblind", headers=headers, json={"reason": "x"}
    )
    assert other.status_code == 404
    client, csrf = rworld.login("investigator1")
    page = client.post(
        f"/studies/{STUDY}/subjects/R-01/unblind",
        data={"csrf_token": csrf, "reason": "final analysis"},
    )
    assert page.status_code == 200
    assert 'data-testid="unblinded-arm"' in page.text


def test_api_randomize_and_the_admin_report(rworld: WebWorld) -> None:
    api = rworld.client()
    done = api.post(
        f"/api/v1/studies/{STUDY}/subjects/R-03/randomize", headers=rworld.token("coordinator2")
    )
    assert done.status_code == 200
    assert done.json()["number"] == "2-001"
    again = api.post(
        f"/api/v1/studies/{STUDY}/subjects/R-03/randomize", headers=rworld.token("coordinator2")
    )
    assert again.status_code == 422
    assert "already randomized" in again.json()["errors"][0]["message"]
    report = api.get(
        f"/api/v1/studies/{STUDY}/randomization/report", headers=rworld.token("admin1")
    )
    assert report.status_code == 200
    by_stratum = {row["stratum"]: row for row in report.json()}
    assert sum(by_stratum["sex=M"]["used"].values()) == 1
    assert sum(by_stratum["sex=F"]["used"].values()) == 0


def test_admin_page_generates_once_and_is_frozen_after_use(rworld: WebWorld) -> None:
    client, csrf = rworld.login("admin1")
    page = client.get(f"/studies/{STUDY}/randomization")
    assert page.status_code == 200 and 'data-testid="generate-form"' in page.text
    bad = client.post(
        f"/studies/{STUDY}/randomization/generate", data={"csrf_token": csrf, "per_stratum": "0"}
    )
    assert bad.status_code == 422 and "rows per stratum" in bad.text
    done = client.post(
        f"/studies/{STUDY}/randomization/generate",
        data={"csrf_token": csrf, "per_stratum": "10", "seed": ""},
    )
    assert done.status_code == 200 and 'data-testid="seed"' in done.text
    rworld.store.randomize("R-01", actor="coordinator1")
    frozen = client.get(f"/studies/{STUDY}/randomization")
    assert 'data-testid="frozen"' in frozen.text
    refused = client.post(
        f"/studies/{STUDY}/randomization/generate",
        data={"csrf_token": csrf, "per_stratum": "10"},
    )
    assert refused.status_code == 422 and "is frozen" in refused.text
    coordinator, _ = rworld.login("coordinator1")
    assert coordinator.get(f"/studies/{STUDY}/randomization").status_code == 403
    assert verify_audit(rworld.url).ok


def test_enrolment_in_a_randomized_study_takes_no_arm(rworld: WebWorld) -> None:
    client, csrf = rworld.login("coordinator1")
    form = client.get(f"/studies/{STUDY}/enrol")
    assert 'data-testid="arm-by-randomization"' in form.text
    done = client.post(
        f"/studies/{STUDY}/enrol", data={"csrf_token": csrf, "subject_id": "R-09", "site": "site01"}
    )
    assert done.status_code == 303
    api: TestClient = rworld.client()
    created = api.post(
        f"/api/v1/studies/{STUDY}/subjects", headers=rworld.token("coordinator1"),
        json={"subject_id": "R-10", "site": "site01"},
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["arm"] == ""


def test_a_blinded_coordinator_randomizing_sees_only_the_number(rworld: WebWorld) -> None:
    spec = PROTOCOL.randomization
    assert spec is not None
    blind = PROTOCOL.model_copy(
        update={
            "id": "randomized-blind-site",
            "randomization": spec.model_copy(update={"blinded_roles": ("coordinator",)}),
        }
    )
    with open_store(rworld.url, blind, actor="setup") as store:
        store.clock = rworld.clock
        store.generate_allocation(per_stratum=4, actor="setup", seed=7)
        for subject in ("B-01", "B-02"):
            store.add_subject(subject, arm="", site="site01", actor="setup")
            store.save_record(subject, "week_0", "dm", {"sex": "F"}, actor="setup")
    api = rworld.client()
    done = api.post(
        f"/api/v1/studies/{blind.id}/subjects/B-01/randomize",
        headers=rworld.token("coordinator1"),
    )
    assert done.status_code == 200
    assert done.json() == {"subject_id": "B-01", "number": "1-001", "arm": "blinded"}
    client, csrf = rworld.login("coordinator1")
    page = client.post(
        f"/studies/{blind.id}/subjects/B-02/randomize",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert page.status_code == 200
    assert "Randomization number <strong>1-002</strong> · arm blinded" in page.text
    _assert_blind(page.text, "the randomize response")
    _assert_blind(client.get(f"/studies/{blind.id}").text, "the subject list")


def test_the_live_preview_warns_of_a_changed_stratification_value(rworld: WebWorld) -> None:
    client, csrf = rworld.login("coordinator1")
    rworld.store.randomize("R-01", actor="setup")  # randomized with sex F
    dm = f"/studies/{STUDY}/subjects/R-01/records/week_0/dm/1/preview"
    changed = client.post(dm, data={"sex": "M", "age": "50", "csrf_token": csrf})
    assert changed.status_code == 200, changed.text
    assert "stratum at randomization was sex=F" in changed.text
    _assert_blind(changed.text, "the preview's stratification warning")
    same = client.post(dm, data={"sex": "F", "age": "50", "csrf_token": csrf})
    assert "stratum at randomization" not in same.text
