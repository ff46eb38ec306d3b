"""Queries over the API and the pages: the life cycle by role, 409/422, lists with filters,
pagination and CSV, site isolation (identical 404s), locked records, and the record page's badge."""

from __future__ import annotations

import csv
import io

import httpx2
from tests.web.conftest import STUDY, WebWorld

from clestudy.store import verify_audit
from clestudy.web._app import NOT_FOUND

API = f"/api/v1/studies/{STUDY}/queries"
VS = "{subject}/week_0/vs/1"
PAGE = f"/studies/{STUDY}/subjects/{{subject}}/records/week_0/vs/1"


def _seed(world: WebWorld) -> None:
    for subject in ("S-01", "S-03"):
        world.store.save_record(
            subject, "week_0", "vs", {"vsdat": "2030-01-07", "weight": "70"}, actor="coordinator1"
        )


def _api(
    world: WebWorld, user: str, action: str, subject: str, field: str, text: str | None
) -> httpx2.Response:
    path = f"{API}/{VS.format(subject=subject)}/{field}" + (
        "" if action == "raise" else f"/{action}"
    )
    body = {} if text is None else {"text": text}
    return world.client().post(path, json=body, headers=world.token(user))


def test_the_life_cycle_over_the_api_by_role(world: WebWorld) -> None:
    _seed(world)
    assert _api(world, "coordinator1", "raise", "S-01", "weight", "x").status_code == 403
    raised = _api(world, "monitor1", "raise", "S-01", "weight", "Source says 72?")
    assert raised.status_code == 201, raised.text
    assert (raised.json()["status"], raised.json()["raised_by"]) == ("open", "monitor1")
    assert _api(world, "monitor1", "answer", "S-01", "weight", "x").status_code == 403
    assert _api(world, "statistician1", "answer", "S-01", "weight", "x").status_code == 403
    missing = _api(world, "coordinator1", "answer", "S-01", "weight", "  ")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "text"
    assert "'answer' needs a message text" in missing.json()["errors"][0]["message"]
    assert _api(world, "coordinator1", "answer", "S-01", "weight", "70 is right").status_code == 200
    assert _api(world, "coordinator1", "close", "S-01", "weight", None).status_code == 403
    refused = _api(world, "monitor1", "reopen", "S-01", "weight", "why")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "query on S-01/week_0/vs/weight: cannot reopen: the field holds a query that is "
        "answered (reopen is allowed from closed)"
    }
    assert _api(world, "monitor1", "close", "S-01", "weight", None).status_code == 200
    got = world.client().get(f"{API}/{VS.format(subject='S-01')}/weight",
                             headers=world.token("statistician1"))  # fmt: skip
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "closed" and body["messages"] == 3
    assert [(m["action"], m["author"]) for m in body["thread"]] == [
        ("raise", "monitor1"), ("answer", "coordinator1"), ("close", "monitor1"),
    ]  # fmt: skip
    none = world.client().get(f"{API}/{VS.format(subject='S-01')}/vsdat",
                              headers=world.token("monitor1")).json()  # fmt: skip
    assert (none["status"], none["thread"], none["days_open"]) == ("none", [], None)
    unknown_field = world.client().get(f"{API}/{VS.format(subject='S-01')}/nope",
                                       headers=world.token("monitor1"))  # fmt: skip
    assert unknown_field.status_code == 404
    assert verify_audit(world.url).ok


def test_lists_filter_paginate_and_respect_sites(world: WebWorld) -> None:
    _seed(world)
    for subject, field in (("S-01", "weight"), ("S-01", "vsdat"), ("S-03", "weight")):
        assert _api(world, "admin1", "raise", subject, field, "check").status_code == 201
    _api(world, "investigator1", "answer", "S-01", "vsdat", "done")
    client = world.client()

    def listed(user: str, **params: str | int) -> list[tuple[str, str]]:
        page = client.get(API, params=params, headers=world.token(user)).json()
        return [(q["subject_id"], q["field"]) for q in page["items"]]

    assert listed("admin1") == [("S-01", "weight"), ("S-01", "vsdat"), ("S-03", "weight")]
    assert listed("monitor1") == [("S-01", "weight"), ("S-01", "vsdat")]
    assert listed("monitor2") == [("S-03", "weight")]
    assert listed("monitor2", site="site01") == []  # another site's filter shows nothing
    assert listed("admin1", site="site02") == [("S-03", "weight")]
    assert listed("admin1", status="answered") == [("S-01", "vsdat")]
    assert listed("admin1", field="weight", subject="S-03") == [("S-03", "weight")]
    assert listed("admin1", form="clasi") == []
    second = client.get(API, params={"page": 2, "page_size": 2}, headers=world.token("admin1"))
    assert second.json()["total"] == 3 and len(second.json()["items"]) == 1
    bad = client.get(API, params={"status": "new"}, headers=world.token("admin1"))
    assert bad.status_code == 422


def test_another_sites_queries_get_the_same_404_as_unknown_ones(world: WebWorld) -> None:
    _seed(world)
    _api(world, "monitor1", "raise", "S-01", "weight", "check")
    client = world.client()
    for user in ("monitor2", "coordinator2"):
        headers = world.token(user)
        for subject in ("S-01", "S-99"):
            got = client.get(f"{API}/{VS.format(subject=subject)}/weight", headers=headers)
            assert (got.status_code, got.json()) == (404, NOT_FOUND)
        # the 404 comes before the body is read: a bad body changes nothing
        action = "answer" if user == "coordinator2" else "close"
        for body in ({"text": "x"}, {"unknown": 1}):
            other = client.post(f"{API}/{VS.format(subject='S-01')}/weight/{action}", json=body,
                                headers=headers)  # fmt: skip
            assert (other.status_code, other.json()) == (404, NOT_FOUND)
    web, csrf = world.login("monitor2")
    for subject in ("S-01", "S-99"):
        page = web.get(PAGE.format(subject=subject) + "/queries/weight")
        assert page.status_code == 404 and "S-01" not in page.text
        post = web.post(PAGE.format(subject=subject) + "/queries/weight/close",
                        data={"csrf_token": csrf, "text": "x"})  # fmt: skip
        assert post.status_code == 404
    listing = web.get(f"/studies/{STUDY}/queries").text
    assert "S-01" not in listing
    exported = web.get(f"/studies/{STUDY}/queries.csv").text
    assert exported.splitlines()[0].startswith("subject,site,visit") and "S-01" not in exported
    assert world.store.query("S-01", "week_0", "vs", "weight").status == "open"


def test_queries_on_a_locked_record_are_raised_and_answered(world: WebWorld) -> None:
    _seed(world)
    world.store.lock_record("S-01", "week_0", "vs", expected_version=1, actor="admin1")
    assert _api(world, "monitor1", "raise", "S-01", "weight", "72?").status_code == 201
    assert (
        _api(world, "coordinator1", "answer", "S-01", "weight", "unlock needed").status_code == 200
    )
    client, _ = world.login("coordinator1")
    page = client.get(PAGE.format(subject="S-01") + "/queries/weight").text
    assert "record locked" in page
    assert world.store.records(subject_id="S-01")[0].status == "locked"


def test_the_pages_raise_answer_and_close_and_export_csv(world: WebWorld) -> None:
    _seed(world)
    monitor, csrf = world.login("monitor1")
    field_page = PAGE.format(subject="S-01") + "/queries/weight"
    page = monitor.get(field_page)
    assert page.status_code == 200 and 'data-testid="query-form-raise"' in page.text
    empty = monitor.post(field_page, data={"csrf_token": csrf, "text": " "})
    assert empty.status_code == 422 and "needs a message text" in empty.text
    done = monitor.post(field_page, data={"csrf_token": csrf, "text": "Weight 72 in source?"})
    assert (done.status_code, done.headers["location"]) == (303, field_page + "?done=raised")
    record = monitor.get(PAGE.format(subject="S-01")).text
    assert 'data-testid="query-badge-weight"' in record and "Query open" in record
    coordinator, ccsrf = world.login("coordinator1")
    shown = coordinator.get(field_page).text
    assert "Weight 72 in source?" in shown and 'data-testid="query-form-answer"' in shown
    assert 'data-testid="query-form-close"' not in shown
    assert coordinator.post(field_page, data={"csrf_token": ccsrf, "text": "x"}).status_code == 403
    answered = coordinator.post(field_page + "/answer", data={"csrf_token": ccsrf, "text": "70"})
    assert answered.status_code == 303
    again = coordinator.post(field_page + "/answer", data={"csrf_token": ccsrf, "text": "70"})
    assert again.status_code == 409 and "cannot answer" in again.text
    assert monitor.post(field_page + "/close", data={"csrf_token": csrf}).status_code == 303
    listing = monitor.get(f"/studies/{STUDY}/queries", params={"status": "closed"}).text
    assert 'data-testid="query-row-S-01-weight"' in listing
    exported = monitor.get(f"/studies/{STUDY}/queries.csv", params={"status": "closed"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["subject"], r["field"], r["status"], r["messages"]) for r in rows] == [
        ("S-01", "weight", "closed", "3"),
    ]  # fmt: skip
    assert (
        monitor.get(f"/studies/{STUDY}/queries.csv", params={"status": "open"}).text.count("\n")
        == 1
    )  # the header alone
