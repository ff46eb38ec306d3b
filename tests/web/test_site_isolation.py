"""A user never sees another site's subjects: lists, pages, dashboard, audit view, API, 404s."""

from __future__ import annotations

import re

from tests.web.conftest import STUDY, WebWorld


def _seed(world: WebWorld) -> None:
    world.store.save_record("S-01", "week_0", "vs", {"vsdat": "2030-01-07"}, actor="coordinator1")


def test_lists_and_dashboard_show_only_the_users_sites(world: WebWorld) -> None:
    _seed(world)
    client, _ = world.login("investigator2")
    for path in (f"/studies/{STUDY}", f"/studies/{STUDY}/dashboard"):
        page = client.get(path).text
        assert "S-03" in page and "S-04" in page
        assert "S-01" not in page and "S-02" not in page
        assert "site01" not in page
    admin, _ = world.login("admin2")
    page = admin.get(f"/studies/{STUDY}").text
    assert all(s in page for s in ("S-01", "S-02", "S-03", "S-04"))


def test_another_sites_pages_give_the_same_404_as_unknown_ones(world: WebWorld) -> None:
    _seed(world)
    client, csrf = world.login("coordinator2")
    for suffix in ("", "/records/week_0/vs/1", "/records/week_0/vs/1/audit"):
        other = client.get(f"/studies/{STUDY}/subjects/S-01{suffix}")
        unknown = client.get(f"/studies/{STUDY}/subjects/S-99{suffix}")
        assert other.status_code == unknown.status_code == 404
        assert other.text == unknown.text
        assert "S-01" not in other.text
    post = client.post(
        f"/studies/{STUDY}/subjects/S-01/records/week_0/vs/1",
        data={"vsdat": "2030-01-07", "csrf_token": csrf, "version": "1", "reason": "x"},
    )
    assert post.status_code == 404
    assert [r.version for r in world.store.records()] == [1]


def test_audit_view_shows_who_when_old_new_and_reason(world: WebWorld) -> None:
    _seed(world)
    world.store.save_record(
        "S-01", "week_0", "vs", {"weight": "70"}, actor="investigator1", expected_version=1,
        reason="scale found",
    )  # fmt: skip
    client, _ = world.login("monitor1")
    page = client.get(f"/studies/{STUDY}/subjects/S-01/records/week_0/vs/1/audit").text
    actors = re.findall(r'data-testid="audit-actor">([^<]*)<', page)
    assert actors == ["coordinator1", "investigator1"]
    assert "<code>weight</code>: blank → 70" in page
    assert "scale found" in page


def test_enrol_page_offers_only_the_users_sites(world: WebWorld) -> None:
    client, csrf = world.login("coordinator2")
    page = client.get(f"/studies/{STUDY}/enrol").text
    assert '<option value="site02"' in page
    assert '<option value="site01"' not in page
    refused = client.post(
        f"/studies/{STUDY}/enrol",
        data={"subject_id": "S-30", "arm": "lenalidomide", "site": "site01", "csrf_token": csrf},
    )
    assert refused.status_code == 422
    done = client.post(
        f"/studies/{STUDY}/enrol",
        data={"subject_id": "S-30", "arm": "lenalidomide", "site": "site02", "csrf_token": csrf},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/studies/{STUDY}/subjects/S-30"
    assert [s.subject_id for s in world.store.subjects() if s.site == "site02"][-1] == "S-30"
