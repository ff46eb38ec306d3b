"""Every route declares a permission rule, is listed in docs/security.md, and behaves as listed
for every role at both sites (generated from the app's route table, so a new route without a
rule, or missing from the doc, fails here)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.web.conftest import PASSWORD, SITES, STUDY, SUBJECTS, WebWorld, csrf_of, user_name

from clestudy.store import ROLES
from clestudy.web import RULES, route_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
_ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE)` \| `([^`]+)` \| ([a-z-]+) \|")


def documented_rules() -> dict[tuple[str, str], str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Routes", 1)[1].split("\n## ", 1)[0]
    return {
        (m.group(1), m.group(2)): m.group(3)
        for line in section.splitlines()
        if (m := _ROW.match(line))
    }


def test_every_route_declares_a_rule_and_is_documented(world: WebWorld) -> None:
    rules = route_rules(world.app)
    assert [key for key, rule in rules.items() if rule is None] == []
    assert documented_rules() == {key: rule.name for key, rule in rules.items() if rule}
    assert set(documented_rules().values()) <= set(RULES)


def _url(path: str, subject: str) -> str:
    visit, form = ("week_6", "ae") if "{instance}" in path else ("week_0", "vs")
    return (
        path.replace("{study}", STUDY).replace("{subject}", subject).replace("{visit}", visit)
        .replace("{form}", form).replace("{instance}", "1").replace("{username}", "matrixtarget")
        .replace("{field}", "aeterm")
    )  # fmt: skip


Sessions = dict[str, tuple[TestClient, str]]


def _request(
    world: WebWorld, method: str, path: str, url: str, username: str, serial: list[int],
    sessions: Sessions,
) -> int:  # fmt: skip
    if path.startswith("/api/"):
        client = world.client()
        body: dict[str, Any] | None = None
        if method == "PUT":
            body = {"values": {}}
        elif method == "POST":
            serial[0] += 1
            site = world.accounts.get_user(username).sites[0]
            body = {"subject_id": f"M-{serial[0]}", "arm": "lenalidomide", "site": site}
        return client.request(method, url, headers=world.token(username), json=body).status_code
    if path == "/login" and method == "POST":
        client = world.client()
        token = csrf_of(client.get("/login").text)
        return client.post(
            url, data={"username": username, "password": "x", "csrf_token": token}
        ).status_code
    if path == "/logout" or username not in sessions:  # logout ends its session: a fresh one
        sessions[username] = world.login(username)
    client, csrf = sessions.pop(username) if path == "/logout" else sessions[username]
    if method == "GET":
        return client.get(url).status_code
    data: dict[str, str] = {"csrf_token": csrf}
    if path.endswith("/enrol"):
        serial[0] += 1
        site = world.accounts.get_user(username).sites[0]
        data.update(subject_id=f"M-{serial[0]}", arm="lenalidomide", site=site)
    return client.post(url, data=data).status_code


def test_every_route_for_every_role_at_both_sites_behaves_as_documented(world: WebWorld) -> None:
    # in a shuffled order (fixed seed), not the route table's: no route may rely on another
    routes = list(route_rules(world.app).items())
    random.Random(20261204).shuffle(routes)
    rules = dict(routes)
    # the user the /admin/users/{username} routes act on (their empty forms change nothing
    # else, but setting no sites is allowed, so not one of the users under test)
    world.accounts.add_user(
        "matrixtarget", role="monitor", sites=["site01"], password=PASSWORD, actor="setup"
    )
    # the records the routes address exist before the first route runs, so no route's outcome
    # depends on a save route having run before it (the routes may run in any order)
    for subject in (subject for subjects in SUBJECTS.values() for subject in subjects):
        for visit, form in (("week_0", "vs"), ("week_6", "ae")):
            world.store.save_record(subject, visit, form, {}, actor="setup")
    serial = [0]
    sessions: Sessions = {}
    problems = []
    for (method, path), rule in rules.items():
        assert rule is not None
        if path == "/static":
            status = TestClient(world.app).get("/static/app.css").status_code
            if status != 200:
                problems.append(f"GET /static/app.css: {status}")
            continue
        for role in ROLES:
            for site in SITES:
                username = user_name(role, site)
                other_site = SITES[1 - SITES.index(site)]
                for subject, own in ((SUBJECTS[site][0], True), (SUBJECTS[other_site][0], False)):
                    if "{subject}" not in path and not own:
                        continue
                    status = _request(
                        world, method, path, _url(path, subject), username, serial, sessions
                    )
                    if not rule.allows(role):
                        expected = "403"
                        ok = status == 403
                    elif rule.site_scoped and not own and role != "admin":
                        expected = "404"
                        ok = status == 404
                    else:
                        expected = "allowed"
                        ok = status not in (403, 404)
                    if not ok:
                        problems.append(
                            f"{method} {path} as {username} on {subject}: {status}, expected {expected}"
                        )
    assert problems == []
