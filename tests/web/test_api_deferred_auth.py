"""The record save checks its credentials in its own worker thread (``DeferredPermission``): the
same 401, 403 and 404 as every API route, in the same order before a body's 422, and a
suspension or a revoked token counts from the next save."""

from __future__ import annotations

import httpx2
import pytest
from fastapi.routing import APIRoute
from tests.web.conftest import STUDY, WebWorld

from clestudy.web._auth import DeferredPermission, Permission
from clestudy.web._rules import ENTER, PUBLIC

RECORD = f"/api/v1/studies/{STUDY}/subjects/{{subject}}/records/week_0/vs/1"
GOOD = {"values": {"vsdat": "2026-01-07", "weight": "70.5"}}
BAD_BODY = {"values": {}, "actor": "someone else"}  # an unknown field: 422 once authenticated


def _put(
    world: WebWorld, headers: dict[str, str], body: object, subject: str = "S-01"
) -> httpx2.Response:
    return world.client().put(RECORD.format(subject=subject), headers=headers, json=body)


@pytest.mark.parametrize("body", [GOOD, BAD_BODY])
def test_no_or_a_bad_token_gets_401_whatever_the_body(world: WebWorld, body: object) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        refused = _put(world, headers, body)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.json() == {"error": "authentication required"}
        assert refused.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("body", [GOOD, BAD_BODY])
def test_a_role_without_the_rule_gets_403_whatever_the_body(world: WebWorld, body: object) -> None:
    for user in ("monitor1", "statistician1"):
        refused = _put(world, world.token(user), body)
        assert refused.status_code == 403
        role = user.rstrip("1")
        assert refused.json() == {"error": f"your role ({role}) may not do this (enter-data)"}


def test_a_good_token_with_a_bad_body_gets_422_listing_the_field(world: WebWorld) -> None:
    refused = _put(world, world.token("coordinator1"), BAD_BODY)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["actor"]


def test_another_sites_and_a_deleted_subject_get_the_unknown_ids_404(world: WebWorld) -> None:
    world.store.delete_subject("S-02", actor="admin1", reason="enrolled in error")
    headers = world.token("coordinator1")
    answers = [_put(world, headers, GOOD, subject) for subject in ("S-03", "S-02", "S-99")]
    assert {a.status_code for a in answers} == {404}
    assert {a.content for a in answers} == {b'{"error":"not found"}'}
    assert world.store.records(subject_id="S-03") == []
    admin = _put(world, world.token("admin1"), GOOD, "S-03")  # admins see every site
    assert admin.status_code == 200
    assert admin.json()["updated_by"] == "admin1"


def test_suspension_and_revocation_count_from_the_next_save(world: WebWorld) -> None:
    headers = world.token("coordinator1")
    assert _put(world, headers, GOOD).status_code == 200
    world.accounts.suspend("coordinator1", actor="admin1", reason="left the study")
    edit = {**GOOD, "expected_version": 1, "reason": "typo"}
    assert _put(world, headers, edit).status_code == 401
    other = world.token("investigator1")
    world.accounts.revoke_api_token("investigator1", "tests", actor="admin1")
    assert _put(world, other, edit).status_code == 401
    assert world.store.records(subject_id="S-01")[0].version == 1


def test_the_record_save_is_the_one_deferred_route_and_keeps_its_rule(world: WebWorld) -> None:
    deferred = [
        (sorted(route.methods or ())[0], route.path, dependency.call.rule)
        for router in world.app.state.web.routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for dependency in route.dependant.dependencies
        if isinstance(dependency.call, DeferredPermission)
    ]
    assert deferred == [
        ("PUT", "/api/v1/studies/{study}/subjects/{subject}/records/{visit}/{form}/{instance}",
         ENTER),
    ]  # fmt: skip
    assert isinstance(DeferredPermission(ENTER), Permission)  # the route matrix reads its rule
    with pytest.raises(ValueError, match="a public route has no credentials to check"):
        DeferredPermission(PUBLIC)
