"""The JSON API: pagination, site scoping, identical 404s, 409 and 422 shapes, OpenAPI."""

from __future__ import annotations

from tests.web.conftest import STUDY, WebWorld

SUBJECTS = f"/api/v1/studies/{STUDY}/subjects"
VS = SUBJECTS + "/{subject}/records/week_0/vs/1"


def test_subjects_are_paginated_and_site_scoped(world: WebWorld) -> None:
    api = world.client()
    for n in range(5, 10):
        world.store.add_subject(f"S-{n:02d}", arm="lenalidomide", site="site01", actor="setup")
    mine = world.token("coordinator1")
    first = api.get(SUBJECTS, headers=mine, params={"page_size": 3}).json()
    second = api.get(SUBJECTS, headers=mine, params={"page_size": 3, "page": 2}).json()
    assert first["total"] == second["total"] == 7
    assert [s["subject_id"] for s in first["items"]] == ["S-01", "S-02", "S-05"]
    assert [s["subject_id"] for s in second["items"]] == ["S-06", "S-07", "S-08"]
    other = api.get(SUBJECTS, headers=world.token("coordinator2")).json()
    assert [s["subject_id"] for s in other["items"]] == ["S-03", "S-04"]
    admin = api.get(SUBJECTS, headers=world.token("admin2")).json()
    assert admin["total"] == 9


def test_unknown_and_other_site_subjects_get_the_same_404(world: WebWorld) -> None:
    api = world.client()
    headers = world.token("investigator2")
    for path in ("", "/records", "/records/week_0/vs/1"):
        other = api.get(f"{SUBJECTS}/S-01{path}", headers=headers)
        unknown = api.get(f"{SUBJECTS}/S-99{path}", headers=headers)
        assert other.status_code == unknown.status_code == 404
        assert other.content == unknown.content == b'{"error":"not found"}'
    put = api.put(
        VS.format(subject="S-01"), headers=world.token("coordinator2"), json={"values": {}}
    )
    assert put.status_code == 404
    assert put.json() == {"error": "not found"}


def test_put_creates_edits_and_refuses_a_stale_version_with_the_current_values(
    world: WebWorld,
) -> None:
    api = world.client()
    headers = world.token("coordinator1")
    url = VS.format(subject="S-01")
    created = api.put(
        url, headers=headers, json={"values": {"vsdat": "2030-01-07", "weight": "70.5"}}
    )
    assert created.status_code == 200
    assert created.json()["version"] == 1
    edited = api.put(
        url, headers=headers,
        json={"values": {"weight": "71"}, "expected_version": 1, "reason": "re-weighed"},
    )  # fmt: skip
    assert edited.json()["version"] == 2
    stale = api.put(
        url,
        headers=headers,
        json={"values": {"weight": "72"}, "expected_version": 1, "reason": "x"},
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["version"] == 2
    assert body["values"]["weight"] == "71"
    assert "version 1" in body["error"]
    again = api.put(url, headers=headers, json={"values": {"weight": "72"}})
    assert again.status_code == 409  # a create over an existing record is stale too


def test_locked_record_gets_409(world: WebWorld) -> None:
    api = world.client()
    headers = world.token("coordinator1")
    url = VS.format(subject="S-01")
    api.put(url, headers=headers, json={"values": {"vsdat": "2030-01-07"}})
    world.store.lock_record("S-01", "week_0", "vs", expected_version=1, actor="admin1")
    refused = api.put(
        url,
        headers=headers,
        json={"values": {"weight": "70"}, "expected_version": 2, "reason": "r"},
    )
    assert refused.status_code == 409
    assert refused.json()["status"] == "locked"
    assert "locked" in refused.json()["error"]


def test_invalid_record_gets_422_listing_every_error_with_its_field(world: WebWorld) -> None:
    api = world.client()
    done = api.put(
        VS.format(subject="S-01"), headers=world.token("coordinator1"),
        json={"values": {"vsdat": "yesterday", "weight": "-5", "height": "tall", "nope": 1}},
    )  # fmt: skip
    assert done.status_code == 422
    fields = sorted(e["field"] for e in done.json()["errors"])
    assert fields == ["height", "nope", "vsdat", "weight"]
    assert world.store.records() == []


def test_reason_missing_is_a_422_on_the_reason_field(world: WebWorld) -> None:
    api = world.client()
    headers = world.token("coordinator1")
    url = VS.format(subject="S-01")
    api.put(url, headers=headers, json={"values": {"vsdat": "2030-01-07"}})
    done = api.put(url, headers=headers, json={"values": {"weight": "70"}, "expected_version": 1})
    assert done.status_code == 422
    assert done.json()["errors"][0]["field"] == "reason"


def test_enrol_through_the_api_only_at_the_users_sites(world: WebWorld) -> None:
    api = world.client()
    headers = world.token("coordinator2")
    made = api.post(
        SUBJECTS,
        headers=headers,
        json={"subject_id": "S-20", "arm": "lenalidomide", "site": "site02"},
    )
    assert made.status_code == 201
    assert made.json()["site"] == "site02"
    elsewhere = api.post(
        SUBJECTS,
        headers=headers,
        json={"subject_id": "S-21", "arm": "lenalidomide", "site": "site01"},
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["field"] == "site"
    twice = api.post(
        SUBJECTS,
        headers=headers,
        json={"subject_id": "S-20", "arm": "lenalidomide", "site": "site02"},
    )
    assert twice.status_code == 409
    refused = api.post(
        SUBJECTS,
        headers=world.token("monitor2"),
        json={"subject_id": "S-22", "arm": "lenalidomide", "site": "site02"},
    )
    assert refused.status_code == 403


def test_openapi_schema_is_served_and_lists_only_the_api(world: WebWorld) -> None:
    schema = world.client().get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert (
        "/api/v1/studies/{study}/subjects/{subject}/records/{visit}/{form}/{instance}"
        in schema["paths"]
    )
