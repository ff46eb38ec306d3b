"""Admins manage users in the browser through the accounts store; nobody else can."""

from __future__ import annotations

from tests.web.conftest import PASSWORD, WebWorld, csrf_of


def test_admin_adds_suspends_and_reinstates_a_user(world: WebWorld) -> None:
    admin, csrf = world.login("admin1")
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert 'data-testid="user-row-coordinator2"' in page.text
    added = admin.post(
        "/admin/users",
        data={
            "username": "newcoord", "role": "coordinator", "sites": ["site02"],
            "password": PASSWORD, "full_name": "New Coordinator", "csrf_token": csrf,
        },
    )  # fmt: skip
    assert added.status_code == 303
    user = world.accounts.get_user("newcoord")
    assert (user.role, user.sites) == ("coordinator", ("site02",))
    client, _ = world.login("newcoord")
    assert (
        admin.post(
            "/admin/users/newcoord/suspend", data={"reason": "left", "csrf_token": csrf}
        ).status_code
        == 303
    )
    assert client.get("/studies").status_code == 303  # the open session ended at once
    assert world.accounts.get_user("newcoord").suspended
    events = world.accounts.account_events("newcoord")
    assert any(e.action == "suspend" and e.actor == "admin1" for e in events)
    assert (
        admin.post(
            "/admin/users/newcoord/reinstate", data={"reason": "back", "csrf_token": csrf}
        ).status_code
        == 303
    )
    assert not world.accounts.get_user("newcoord").suspended


def test_admin_errors_are_shown_and_other_roles_are_refused(world: WebWorld) -> None:
    admin, csrf = world.login("admin1")
    short = admin.post(
        "/admin/users",
        data={"username": "x1", "role": "monitor", "password": "short", "csrf_token": csrf},
    )
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    other, other_csrf = world.login("investigator1")
    assert other.get("/admin/users").status_code == 403
    refused = other.post(
        "/admin/users/coordinator1/suspend", data={"reason": "x", "csrf_token": other_csrf}
    )
    assert refused.status_code == 403
    assert not world.accounts.get_user("coordinator1").suspended
    assert 'data-testid="nav-users"' not in other.get("/studies").text
    assert 'data-testid="nav-users"' in admin.get("/studies").text
    assert csrf_of(admin.get("/admin/users").text) == csrf
