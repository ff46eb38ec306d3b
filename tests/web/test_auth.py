"""Sessions, CSRF, idle timeout, suspension and API tokens of the web app."""

from __future__ import annotations

from tests.web.conftest import PASSWORD, STUDY, WebWorld, csrf_of

FORM = f"/studies/{STUDY}/subjects/S-01/records/week_0/vs/1"


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(world: WebWorld) -> None:
    client = world.client()
    page = client.get("/login")
    done = client.post(
        "/login",
        data={"username": "coordinator1", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/studies"
    cookie = next(c for c in done.headers.get_list("set-cookie") if "clestudy_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP test client
    studies = client.get("/studies")
    assert studies.status_code == 200
    assert 'data-testid="current-user">coordinator1' in studies.text
    out = client.post("/logout", data={"csrf_token": csrf_of(studies.text)})
    assert out.status_code == 303
    assert client.get("/studies").headers["location"].startswith("/login")


def test_session_cookie_is_secure_over_https(world: WebWorld) -> None:
    client = world.client()
    client.base_url = client.base_url.copy_with(scheme="https")
    page = client.get("/login")
    done = client.post(
        "/login",
        data={"username": "coordinator1", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if "clestudy_session=" in c)
    assert "Secure" in cookie


def test_wrong_password_gets_one_generic_message(world: WebWorld) -> None:
    client = world.client()
    token = csrf_of(client.get("/login").text)
    wrong = client.post(
        "/login",
        data={"username": "coordinator1", "password": "nope-nope-nope", "csrf_token": token},
    )
    unknown = client.post(
        "/login", data={"username": "nobody", "password": PASSWORD, "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password" in wrong.text
    assert wrong.text.count("login-error") == unknown.text.count("login-error") == 1


def test_login_without_its_csrf_token_is_refused(world: WebWorld) -> None:
    client = world.client()
    client.get("/login")
    done = client.post("/login", data={"username": "coordinator1", "password": PASSWORD})
    assert done.status_code == 403
    assert "clestudy_session" not in done.headers.get("set-cookie", "")


def test_unsafe_requests_without_or_with_a_wrong_csrf_token_are_refused(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    data = {"vsdat": "2026-03-02", "version": ""}
    missing = client.post(FORM, data=data)
    wrong = client.post(FORM, data={**data, "csrf_token": "0" * 64})
    assert missing.status_code == wrong.status_code == 403
    assert "did not come from this site" in wrong.text
    assert world.store.records() == []  # nothing written
    header = client.post(FORM, data=data, headers={"X-CSRF-Token": csrf})
    assert header.status_code == 303


def test_csrf_token_of_another_session_is_refused(world: WebWorld) -> None:
    first, _ = world.login("coordinator1")
    _, other_csrf = world.login("investigator1")
    done = first.post(FORM, data={"vsdat": "2026-03-02", "csrf_token": other_csrf})
    assert done.status_code == 403


def test_idle_session_is_refused_after_the_timeout(world: WebWorld) -> None:
    client, _ = world.login("coordinator1")
    world.clock.advance(minutes=29)
    assert client.get("/studies").status_code == 200
    world.clock.advance(minutes=31)
    refused = client.get("/studies")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?next=/studies"


def test_htmx_request_of_an_expired_session_redirects_through_a_header(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    world.clock.advance(hours=1)
    done = client.post(FORM + "/preview", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert done.status_code == 401
    assert done.headers["HX-Redirect"].startswith("/login")


def test_suspension_takes_effect_on_the_next_request(world: WebWorld) -> None:
    client, _ = world.login("coordinator1")
    headers = world.token("coordinator1")
    api = world.client()
    assert api.get(f"/api/v1/studies/{STUDY}/subjects", headers=headers).status_code == 200
    world.accounts.suspend("coordinator1", actor="admin1", reason="left the study")
    assert client.get("/studies").status_code == 303
    refused = api.get(f"/api/v1/studies/{STUDY}/subjects", headers=headers)
    assert refused.status_code == 401
    assert refused.json() == {"error": "authentication required"}


def test_api_needs_a_bearer_token_and_ignores_cookies(world: WebWorld) -> None:
    client, _ = world.login("coordinator1")  # a browser session cookie is not an API credential
    assert client.get(f"/api/v1/studies/{STUDY}/subjects").status_code == 401
    bad = client.get(f"/api/v1/studies/{STUDY}/subjects", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == "Bearer"


def test_the_actor_is_the_authenticated_user_never_a_field(world: WebWorld) -> None:
    api = world.client()
    url = f"/api/v1/studies/{STUDY}/subjects/S-01/records/week_0/vs/1"
    headers = world.token("coordinator1")
    refused = api.put(url, headers=headers, json={"values": {}, "actor": "someone-else"})
    assert refused.status_code == 422
    assert any(e["field"] == "actor" for e in refused.json()["errors"])
    saved = api.put(url, headers=headers, json={"values": {"vsdat": "2026-03-02"}})
    assert saved.status_code == 200
    assert saved.json()["updated_by"] == "coordinator1"
    client, csrf = world.login("coordinator2")
    done = client.post(
        f"/studies/{STUDY}/subjects/S-03/records/week_0/vs/1",
        data={"vsdat": "2026-03-02", "actor": "someone-else", "csrf_token": csrf},
    )
    assert done.status_code == 303
    [record] = [r for r in world.store.records() if r.subject_id == "S-03"]
    assert record.updated_by == "coordinator2"


def test_login_redirects_only_to_a_local_path(world: WebWorld) -> None:
    client = world.client()
    token = csrf_of(client.get("/login").text)
    done = client.post(
        "/login",
        data={
            "username": "coordinator1", "password": PASSWORD, "csrf_token": token,
            "next": "//evil.example/",
        },
    )  # fmt: skip
    assert done.headers["location"] == "/studies"
