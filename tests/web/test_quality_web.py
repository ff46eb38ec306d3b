"""The discrepancy list in the browser and the API: runs, site scoping, CSV, exclusions, and the
save-time warning shown on the form."""

from __future__ import annotations

import csv
import io

from tests.web.conftest import STUDY, WebWorld

PAGE = f"/studies/{STUDY}/quality"
API = f"/api/v1/studies/{STUDY}/quality"
AE = {"aeterm": "Rash", "aestdat": "2030-01-01", "aetoxgr": 1, "aeser": False,
      "aeout": "RECOVERED/RESOLVED"}  # fmt: skip


def _subjects(keys: list[str]) -> set[str]:
    return {key.split("/", 1)[0] for key in keys}


def test_a_monitor_runs_the_rules_and_each_role_sees_its_own_sites(world: WebWorld) -> None:
    client, csrf = world.login("monitor1")
    assert client.post(PAGE + "/run", data={"csrf_token": csrf}).status_code == 303
    page = client.get(PAGE)
    assert page.status_code == 200 and "Latest run 1" in page.text
    assert 'data-testid="finding-S-01/week_0/' in page.text
    assert "S-03/" not in page.text  # another site's subject
    assert f'href="/studies/{STUDY}/subjects/S-01/records/week_0/' in page.text  # to the form
    coordinator, _ = world.login("coordinator2")
    own = coordinator.get(PAGE, params={"status": "open"}).text
    assert "S-03/week_0/" in own and "S-01/" not in own and "Run the data-quality" not in own
    csv_text = coordinator.get(PAGE + ".csv").text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert rows and _subjects([r["key"] for r in rows]) == {"S-03", "S-04"}
    assert {r["site"] for r in rows} == {"site02"}


def test_exclusions_in_the_browser_need_a_reason_and_stay_on_the_users_sites(
    world: WebWorld,
) -> None:
    world.store.run_quality_rules(actor="setup")
    own = next(i.key for i in world.store.data_quality(site="site01"))
    other = next(i.key for i in world.store.data_quality(site="site02"))
    client, csrf = world.login("monitor1")
    refused = client.post(PAGE + "/exclude", data={"csrf_token": csrf, "key": own, "reason": ""})
    assert refused.status_code == 422 and "a reason is required" in refused.text
    assert (
        client.post(
            PAGE + "/exclude", data={"csrf_token": csrf, "key": other, "reason": "ok"}
        ).status_code
        == 404
    )
    done = client.post(PAGE + "/exclude", data={"csrf_token": csrf, "key": own, "reason": "ok"})
    assert done.status_code == 303
    (item,) = [i for i in world.store.data_quality() if i.key == own]
    assert (item.status, item.detail) == ("excluded", "ok")
    assert (
        client.post(
            PAGE + "/revoke", data={"csrf_token": csrf, "key": own, "reason": "not ok"}
        ).status_code
        == 303
    )
    coordinator, token = world.login("coordinator1")
    assert (
        coordinator.post(
            PAGE + "/exclude", data={"csrf_token": token, "key": own, "reason": "x"}
        ).status_code
        == 403
    )


def test_the_api_lists_runs_and_excludes_within_the_users_sites(world: WebWorld) -> None:
    api = world.client()
    assert api.post(API + "/runs", headers=world.token("coordinator1")).status_code == 403
    run = api.post(API + "/runs", headers=world.token("monitor2"))
    assert run.status_code == 201 and run.json()["run"] == 1
    listed = api.get(API, headers=world.token("statistician2")).json()
    assert listed["run"]["run"] == 1
    keys = [i["key"] for i in listed["items"]]
    assert _subjects(keys) == {"S-03", "S-04"}
    other = next(i.key for i in world.store.data_quality(site="site01"))
    body = {"key": other, "reason": "confirmed"}
    refused = api.post(API + "/exclusions", headers=world.token("monitor2"), json=body)
    unknown = api.post(
        API + "/exclusions", headers=world.token("monitor2"), json={**body, "key": "S-99/a/b/c"}
    )
    assert refused.status_code == unknown.status_code == 404
    assert refused.content == unknown.content
    body = {"key": keys[0], "reason": "confirmed"}
    excluded = api.post(API + "/exclusions", headers=world.token("monitor2"), json=body)
    assert excluded.status_code == 201 and excluded.json()["status"] == "excluded"
    again = api.post(API + "/exclusions", headers=world.token("monitor2"), json=body)
    assert again.status_code == 409
    no_reason = api.post(
        API + "/exclusions", headers=world.token("monitor2"), json={**body, "reason": ""}
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    revoked = api.post(API + "/revocations", headers=world.token("admin1"), json=body)
    assert revoked.status_code == 204
    bad = api.get(API, headers=world.token("monitor2"), params={"status": "closed"})
    assert bad.status_code == 422


def test_a_save_time_warning_shows_on_the_form_and_in_the_list_linked_to_it(
    world: WebWorld,
) -> None:
    api = world.client()
    url = f"/api/v1/studies/{STUDY}/subjects/S-01/records/week_6/ae/1"
    saved = api.put(url, headers=world.token("coordinator1"), json={"values": AE})
    assert saved.status_code == 200, saved.text
    client, _ = world.login("coordinator1")
    form = client.get(f"/studies/{STUDY}/subjects/S-01/records/week_6/ae/1")
    assert "is RECOVERED/RESOLVED but field &#39;aeendat&#39; (end date) is empty" in form.text
    listed = client.get(PAGE, params={"source": "edit-check"}).text
    assert 'data-testid="finding-S-01/week_6/ae/builtin.recovered_has_end_date"' in listed
    assert f'href="/studies/{STUDY}/subjects/S-01/records/week_6/ae/1"' in listed
