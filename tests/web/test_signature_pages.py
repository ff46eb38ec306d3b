"""Electronic signatures through the JSON API and the pages: an investigator signs with her
password, a later edit voids the signature visibly, a wrong password counts toward the lockout,
and only the right role at the right site signs."""

from __future__ import annotations

import re

from tests.web.conftest import PASSWORD, STUDY, WebWorld

from clestudy.store import verify_audit

SUBJECT = f"/studies/{STUDY}/subjects/S-01"
API = f"/api/v1{SUBJECT}/signatures"
VS = f"/api/v1{SUBJECT}/records/week_0/vs/1"


def _save_vs(world: WebWorld) -> None:
    world.store.save_record("S-01", "week_0", "vs", {"vsdat": "2030-01-07"}, actor="coordinator1")


def test_the_api_signs_lists_and_shows_a_void_signature(world: WebWorld) -> None:
    _save_vs(world)
    api = world.client()
    inv = world.token("investigator1")
    signed = api.post(API, headers=inv, json={"meaning": "review", "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert (body["signer"], body["scope"], body["status"], body["visit_id"]) == (
        "investigator1", "subject", "valid", None,
    )  # fmt: skip
    assert body["records"] == [{"record": "week_0/vs", "version": 1}]
    edited = api.put(
        VS, headers=world.token("coordinator1"),
        json={"values": {"weight": "70"}, "expected_version": 1, "reason": "weighed"},
    )  # fmt: skip
    assert edited.status_code == 200
    [void] = api.get(API, headers=world.token("monitor1")).json()
    assert void["status"] == "void" and void["voided_by"] == "coordinator1"
    assert void["voided_by_event"] == {
        "entity_key": f"{STUDY}/S-01/week_0/vs", "action": "update", "version": 2,
    }  # fmt: skip
    again = api.post(
        API, headers=inv, json={"meaning": "approval", "password": PASSWORD, "visit": "week_0"}
    )
    assert again.status_code == 201 and again.json()["scope"] == "visit"
    assert [s["status"] for s in api.get(API, headers=inv).json()] == ["void", "valid"]
    assert verify_audit(world.url).ok


def test_the_api_refuses_a_wrong_password_other_roles_and_other_sites(world: WebWorld) -> None:
    _save_vs(world)
    api = world.client()
    wrong = api.post(
        API, headers=world.token("investigator1"), json={"meaning": "review", "password": "no"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "password"
    assert world.accounts.account_events("investigator1")[-1].action == "signing_failure"
    body = {"meaning": "review", "password": PASSWORD}
    for role in ("admin1", "coordinator1", "monitor1", "statistician1"):
        assert api.post(API, headers=world.token(role), json=body).status_code == 403, role
    # another site's subject: the same 404 whatever the body
    assert api.post(API, headers=world.token("investigator2"), json={}).status_code == 404
    assert api.get(API, headers=world.token("coordinator2")).status_code == 404
    nothing = api.post(API, headers=world.token("investigator1"), json=body | {"visit": "week_6"})
    assert nothing.status_code == 422 and "nothing to sign" in nothing.text
    unknown = api.post(API, headers=world.token("investigator1"), json=body | {"visit": "week_99"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "visit"
    assert world.store.signatures() == []


def test_the_signing_page_signs_and_the_subject_page_shows_the_void_banner(
    world: WebWorld,
) -> None:
    _save_vs(world)
    client, csrf = world.login("investigator1")
    dialog = client.get(f"{SUBJECT}/sign")
    assert dialog.status_code == 200
    assert world.store.signature_attestation() in dialog.text
    assert 'value="authorship"' in dialog.text and "investigator1" in dialog.text
    done = client.post(
        f"{SUBJECT}/sign", data={"csrf_token": csrf, "meaning": "review", "password": PASSWORD}
    )
    assert done.status_code == 303
    panel = client.get(f"{SUBJECT}/signatures", headers={"HX-Request": "true"})
    assert "valid" in panel.text and "<html" not in panel.text
    world.clock.advance(minutes=5)
    world.store.save_record("S-01", "week_0", "vs", {"weight": "71"}, actor="coordinator1",
                            reason="re-weighed", expected_version=1)  # fmt: skip
    page = client.get(f"{SUBJECT}/signatures").text
    banner = re.search(r'data-testid="signature-void-casebook">([^<]+)<', page)
    assert banner is not None
    assert re.fullmatch(
        r"Signature of the whole casebook by investigator1 \(investigator1\) on 2030-01-07T09:00"
        r"[^ ]+ is void: data changed on 2030-01-07T09:05[^ ]+ by coordinator1 \(.*/S-01/week_0/"
        r"vs, update\)\.",
        banner.group(1),
    ), banner.group(1)


def test_wrong_passwords_on_the_signing_page_lock_the_account_and_end_the_session(
    world: WebWorld,
) -> None:
    _save_vs(world)
    client, csrf = world.login("investigator1")
    url = f"{SUBJECT}/visits/week_0/sign"
    for _ in range(world.accounts.max_failures):
        refused = client.post(
            url, data={"csrf_token": csrf, "meaning": "review", "password": "not mine"}
        )
        assert refused.status_code == 422
        assert "Wrong password, or the account is locked" in refused.text
    after = client.get(url)  # the lockout ended the session: back to the login page
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    assert world.store.signatures() == []


def test_the_signing_page_needs_a_meaning_and_a_password_and_the_role(world: WebWorld) -> None:
    _save_vs(world)
    client, csrf = world.login("investigator1")
    no_meaning = client.post(f"{SUBJECT}/sign", data={"csrf_token": csrf, "password": PASSWORD})
    assert no_meaning.status_code == 422 and "Choose what your signature means" in no_meaning.text
    no_password = client.post(f"{SUBJECT}/sign", data={"csrf_token": csrf, "meaning": "review"})
    assert no_password.status_code == 422 and "Enter your password" in no_password.text
    coordinator, _ = world.login("coordinator1")
    assert coordinator.get(f"{SUBJECT}/sign").status_code == 403
    panel = coordinator.get(f"{SUBJECT}/signatures").text
    assert "Not signed yet" in panel and 'data-testid="sign-casebook"' not in panel
    assert world.store.signatures() == []
