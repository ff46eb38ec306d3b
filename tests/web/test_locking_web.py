"""Verification and locking through the API and the pages: rights, site scoping, the listing."""

from __future__ import annotations

from tests.web.conftest import STUDY, WebWorld

VS = {"weight": "70", "height": "170"}
RECORD = f"/api/v1/studies/{STUDY}/subjects/S-01/records/week_0/vs/1"


def _seed(world: WebWorld) -> None:
    for subject in ("S-01", "S-03"):  # site01 and site02
        world.store.save_record(subject, "week_0", "vs", VS, actor="setup")


def test_a_monitor_verifies_fields_and_locks_a_visit_and_only_an_admin_unlocks_it(
    world: WebWorld,
) -> None:
    _seed(world)
    client = world.client()
    verified = client.post(
        RECORD + "/verify", headers=world.token("monitor1"),
        json={"fields": ["weight"], "expected_version": 1},
    )  # fmt: skip
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"verified": ["weight"], "status": "complete", "version": 1}
    refused = client.post(
        RECORD + "/verify", headers=world.token("coordinator1"), json={"expected_version": 1}
    )
    assert refused.status_code == 403
    body = {"level": "visit", "subject": "S-01", "visit": "week_0", "reason": "SDV done"}
    locked = client.post(f"/api/v1/studies/{STUDY}/lock", headers=world.token("monitor1"),
                         json=body)  # fmt: skip
    assert locked.json() == {"level": "visit", "locked": True, "changed": ["S-01/week_0"],
                             "skipped": []}  # fmt: skip
    # the locked visit refuses an admin's edit and a new record in it
    edit = client.put(RECORD, headers=world.token("admin1"),
                      json={"values": {"weight": "71"}, "expected_version": 1, "reason": "x"})  # fmt: skip
    assert edit.status_code == 409
    assert (
        "record S-01/week_0/vs is locked (visit week_0 of S-01 is locked)" in edit.json()["error"]
    )
    new = client.put(RECORD.replace("/vs/", "/dm/"), headers=world.token("admin1"),
                     json={"values": {"sex": "F"}})  # fmt: skip
    assert new.status_code == 409 and "a new record is refused" in new.json()["error"]
    unlock = f"/api/v1/studies/{STUDY}/unlock"
    assert client.post(unlock, headers=world.token("monitor1"), json=body).status_code == 403
    no_reason = client.post(unlock, headers=world.token("admin1"), json=body | {"reason": ""})
    assert no_reason.status_code == 422
    assert "needs a reason" in no_reason.json()["errors"][0]["message"]
    done = client.post(unlock, headers=world.token("admin1"), json=body)
    assert done.json()["changed"] == ["S-01/week_0"]


def test_the_listing_respects_sites_filters_and_pages(world: WebWorld) -> None:
    _seed(world)
    client = world.client()
    url = f"/api/v1/studies/{STUDY}/lock-status?form=vs&visit=week_0"
    mine = client.get(url, headers=world.token("monitor1")).json()
    assert [i["subject_id"] for i in mine["items"]] == ["S-01", "S-02"]  # site01 only
    assert mine["items"][0] | {"locked_at": None} == {
        "subject_id": "S-01", "site": "site01", "visit_id": "week_0", "form_id": "vs",
        "instance": 1, "status": "complete", "record_status": "complete", "version": 1,
        "verified_fields": 0, "total_fields": 3, "lock_level": None, "locked_by": None,
        "locked_at": None,
    }  # fmt: skip
    everyone = client.get(url + "&page_size=1&page=2", headers=world.token("admin1")).json()
    assert (everyone["total"], [i["subject_id"] for i in everyone["items"]]) == (4, ["S-02"])
    other = client.get(url + "&site=site02", headers=world.token("monitor1")).json()
    assert other["total"] == 0  # another site's subjects are not listed
    bad = client.get(url + "&status=done", headers=world.token("monitor1"))
    assert bad.status_code == 422
    # another site's subject cannot be locked: the same 404 as an unknown one
    foreign = client.post(f"/api/v1/studies/{STUDY}/lock", headers=world.token("monitor1"),
                          json={"level": "subject", "subject": "S-03"})  # fmt: skip
    assert foreign.status_code == 404 and foreign.json() == {"error": "not found"}


def test_the_page_bulk_locks_the_filtered_forms_and_exports_csv(world: WebWorld) -> None:
    _seed(world)
    client, csrf = world.login("monitor1")
    page = client.get(f"/studies/{STUDY}/lock-status?form=vs&visit=week_0")
    assert page.status_code == 200
    assert 'data-testid="lock-row-S-01-week_0-vs-1"' in page.text
    assert "S-03" not in page.text  # site02
    assert 'data-testid="bulk-unlock"' not in page.text  # a monitor may not unlock
    done = client.post(
        f"/studies/{STUDY}/lock-status/lock",
        data={"csrf_token": csrf, "level": "form", "form": "vs", "visit": "week_0"},
    )
    assert done.status_code == 200
    assert "Locked 1 form(s)." in done.text
    assert {r.subject_id for r in world.store.records() if r.status == "locked"} == {"S-01"}
    csv_text = client.get(f"/studies/{STUDY}/lock-status.csv?form=vs&status=locked").text
    lines = csv_text.splitlines()
    assert lines[0].startswith("subject_id,site,visit_id,form_id,instance,status")
    assert [line.split(",")[:6] for line in lines[1:]] == [
        ["S-01", "site01", "week_0", "vs", "1", "locked"]
    ]
    record = client.get(f"/studies/{STUDY}/subjects/S-01/records/week_0/vs/1")
    assert 'data-testid="lock-state"' in record.text and "Locked at form level by monitor1" in (
        record.text
    )
