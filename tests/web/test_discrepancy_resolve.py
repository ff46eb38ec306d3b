"""Resolving a save-time discrepancy with a reason, from the API and the discrepancy list
(rule ``discrepancy-resolve``: admin, investigator, coordinator, at their own sites)."""

from __future__ import annotations

from tests.web.conftest import STUDY, WebWorld

from clestudy.store import audit_events

AE = {"aeterm": "Rash", "aestdat": "2030-01-01", "aetoxgr": 1, "aeser": False,
      "aeout": "RECOVERED/RESOLVED"}  # fmt: skip
CHECK = "builtin.recovered_has_end_date"


def _warn(world: WebWorld, subject: str, user: str) -> None:
    """Save an AE whose outcome is recovered without an end date: an open discrepancy."""
    url = f"/api/v1/studies/{STUDY}/subjects/{subject}/records/week_6/ae/1"
    saved = world.client().put(url, headers=world.token(user), json={"values": AE})
    assert saved.status_code == 200, saved.text
    assert [d.status for d in world.store.discrepancies(subject_id=subject)] == ["open"]


def _api(subject: str, check: str = CHECK) -> str:
    return f"/api/v1/studies/{STUDY}/discrepancies/{subject}/week_6/ae/1/{check}/resolve"


def _page(subject: str, check: str = CHECK) -> str:
    return f"/studies/{STUDY}/discrepancies/{subject}/week_6/ae/1/{check}/resolve"


def test_the_api_resolves_with_a_reason_and_audits_it_with_the_actor(world: WebWorld) -> None:
    _warn(world, "S-01", "coordinator1")
    api = world.client()
    done = api.post(
        _api("S-01"), headers=world.token("investigator1"), json={"reason": "end date unknown"}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["record"], body["check_id"], body["status"]) == (
        "S-01/week_6/ae",
        CHECK,
        "resolved",
    )
    assert (body["resolution"], body["updated_by"]) == ("end date unknown", "investigator1")
    (event,) = [
        e
        for e in audit_events(world.url, entity_prefix=f"{STUDY}/S-01/week_6/ae/{CHECK}")
        if e["action"] == "resolve"
    ]
    assert (event["actor"], event["reason"]) == ("investigator1", "end date unknown")
    assert event["entity_type"] == "discrepancy"
    again = api.post(_api("S-01"), headers=world.token("coordinator1"), json={"reason": "x"})
    assert again.status_code == 409


def test_the_api_needs_a_reason(world: WebWorld) -> None:
    _warn(world, "S-01", "coordinator1")
    api = world.client()
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        refused = api.post(_api("S-01"), headers=world.token("coordinator1"), json=body)
        assert refused.status_code == 422, body
    assert [d.status for d in world.store.discrepancies(subject_id="S-01")] == ["open"]


def test_monitors_and_statisticians_may_not_resolve(world: WebWorld) -> None:
    _warn(world, "S-01", "coordinator1")
    api = world.client()
    for user in ("monitor1", "statistician1"):
        refused = api.post(_api("S-01"), headers=world.token(user), json={"reason": "ok"})
        assert refused.status_code == 403, user
    assert [d.status for d in world.store.discrepancies(subject_id="S-01")] == ["open"]


def test_another_sites_discrepancy_is_the_same_404_as_an_unknown_one(world: WebWorld) -> None:
    _warn(world, "S-03", "coordinator2")
    api = world.client()
    headers = world.token("coordinator1")
    other = api.post(_api("S-03"), headers=headers, json={"reason": "ok"})
    unknown_subject = api.post(_api("S-99"), headers=headers, json={"reason": "ok"})
    unknown_check = api.post(_api("S-01", "builtin.nope"), headers=headers, json={"reason": "ok"})
    assert other.status_code == unknown_subject.status_code == unknown_check.status_code == 404
    assert other.json() == unknown_subject.json() == unknown_check.json()
    assert [d.status for d in world.store.discrepancies(subject_id="S-03")] == ["open"]
    # the other site's own coordinator may
    mine = api.post(_api("S-03"), headers=world.token("coordinator2"), json={"reason": "ok"})
    assert mine.status_code == 200


def test_the_list_offers_resolve_and_the_form_post_needs_csrf_and_a_reason(
    world: WebWorld,
) -> None:
    _warn(world, "S-01", "coordinator1")
    client, csrf = world.login("coordinator1")
    listed = client.get(f"/studies/{STUDY}/quality", params={"source": "edit-check"}).text
    assert f'data-testid="resolve-S-01/week_6/ae/{CHECK}"' in listed
    assert f'action="{_page("S-01")}"' in listed
    monitor, _ = world.login("monitor1")
    assert 'data-testid="resolve-' not in monitor.get(f"/studies/{STUDY}/quality").text
    no_csrf = client.post(_page("S-01"), data={"reason": "ok"})
    assert no_csrf.status_code == 403
    no_reason = client.post(_page("S-01"), data={"csrf_token": csrf, "reason": ""})
    assert no_reason.status_code == 422 and "resolving needs a reason" in no_reason.text
    assert [d.status for d in world.store.discrepancies(subject_id="S-01")] == ["open"]
    done = client.post(_page("S-01"), data={"csrf_token": csrf, "reason": "end date unknown"})
    assert done.status_code == 303
    (state,) = world.store.discrepancies(subject_id="S-01")
    assert (state.status, state.resolution, state.updated_by) == (
        "resolved",
        "end date unknown",
        "coordinator1",
    )
    other = client.post(_page("S-03"), data={"csrf_token": csrf, "reason": "ok"})
    unknown = client.post(_page("S-99"), data={"csrf_token": csrf, "reason": "ok"})
    assert other.status_code == unknown.status_code == 404 and other.text == unknown.text
