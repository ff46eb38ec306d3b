"""Security headers on every kind of response, and the save's JSON as the API's other routes
write it (the save route writes its own response: ``web._api._save_record``)."""

from __future__ import annotations

import pytest
from tests.web.conftest import STUDY, WebWorld

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin",
          "x-frame-options": "DENY"}  # fmt: skip
CLASI = f"/api/v1/studies/{STUDY}/subjects/S-01/records/week_0/clasi/1"


@pytest.mark.parametrize(
    ("path", "login", "no_store"),
    [
        ("/login", False, True),  # a page
        ("/studies", True, True),  # a page behind the login
        ("/studies/nope", True, True),  # the error page
        ("/api/v1/studies", False, False),  # the API, with and without a token
        ("/api/v1/openapi.json", False, False),
        ("/static/app.css", False, False),
    ],
)
def test_every_response_carries_the_security_headers(
    world: WebWorld, path: str, login: bool, no_store: bool
) -> None:
    client = world.login("coordinator1")[0] if login else world.client()
    for headers in ({}, world.token("coordinator1")) if path.startswith("/api/") else ({},):
        response = client.get(path, headers=headers)
        for name, value in COMMON.items():
            assert response.headers.get(name) == value, (path, name)
        assert (response.headers.get("cache-control") == "no-store") is no_store, path


def test_static_files_may_be_cached_and_get_each_header_once(world: WebWorld) -> None:
    static = world.client().get("/static/app.css")
    assert static.status_code == 200
    # StaticFiles sets no Cache-Control of its own and gets none: static files may be cached
    assert "cache-control" not in static.headers
    assert static.headers.get_list("x-frame-options") == ["DENY"]


def test_a_save_answers_the_record_exactly_as_reading_it_does(world: WebWorld) -> None:
    api = world.client()
    headers = world.token("coordinator1")
    form = world.store.protocol.form("clasi")
    assert form is not None
    values: dict[str, object] = {f.id: (False if f.type == "boolean" else 0) for f in form.fields}
    values |= {"rsdat": "2030-01-07", "nose_erythema": 2, "scalp_scale": 1}
    saved = api.put(CLASI, headers=headers, json={"values": values})
    assert saved.status_code == 200, saved.text
    assert saved.headers["content-type"] == "application/json"
    read = api.get(CLASI, headers=headers)
    assert saved.content == read.content
    record = saved.json()
    assert record["status"] == "complete"
    assert record["updated_by"] == "coordinator1"
    # erythema 2 + scale 1 (Albrecht 2005: activity sums erythema, scale, mucosa and alopecia)
    assert record["derived"]["clasi"]["values"]["clasi_activity"] == 3
