"""The data-entry page: save, partial save, reason for change, stale edits, live scores."""

from __future__ import annotations

import json
import re

from tests.web.conftest import STUDY, WebWorld, two_site_protocol

from clestudy.cli import main
from clestudy.instruments import CLASI_AREAS

CLASI = f"/studies/{STUDY}/subjects/S-01/records/week_0/clasi/1"


def clasi_form(**changes: str) -> dict[str, str]:
    """A whole CLASI form as posted: every item 0, a date, and ``changes``."""
    form = two_site_protocol().form("clasi")
    assert form is not None
    values = {f.id: "0" for f in form.fields if f.type == "integer"}
    values.update(rsdat="2030-01-07", dyspigmentation_12_months="false")
    values.update(changes)
    return values


def _scores(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="score-clasi-(\w+)">([^<]*)<', html))


def test_the_clasi_page_has_a_body_area_grid_with_a_label_on_every_input(world: WebWorld) -> None:
    client, _ = world.login("coordinator1")
    page = client.get(CLASI)
    assert page.status_code == 200
    assert 'data-testid="clasi-grid"' in page.text
    for area in CLASI_AREAS:
        assert f'id="area-{area}"' in page.text
    inputs = re.findall(r'<(?:input|select) id="(field-[\w-]+)"', page.text)
    labels = set(re.findall(r'<label[^>]* for="(field-[\w-]+)"', page.text))
    assert len(inputs) == len(set(inputs)) == 57  # every CLASI field once
    assert set(inputs) <= labels


def test_complete_form_saves_with_derived_scores(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    done = client.post(CLASI, data={**clasi_form(scalp_erythema="2"), "csrf_token": csrf})
    assert done.status_code == 303
    assert done.headers["location"] == CLASI + "?saved=1"
    page = client.get(done.headers["location"])
    assert 'data-testid="record-status">complete' in page.text
    assert _scores(page.text)["clasi_activity"] == "2"
    [record] = world.store.records()
    assert record.status == "complete"
    assert record.values["scalp_erythema"] == 2
    assert record.updated_by == "coordinator1"


def test_partial_save_is_left_incomplete_without_scores(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    done = client.post(
        CLASI, data={"rsdat": "2030-01-07", "scalp_erythema": "1", "csrf_token": csrf}
    )
    assert done.status_code == 303
    [record] = world.store.records()
    assert record.status == "incomplete"
    assert record.derived == {}
    assert 'data-testid="record-status">incomplete' in client.get(CLASI).text


def test_invalid_values_are_shown_beside_their_fields_and_nothing_is_saved(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    done = client.post(
        CLASI,
        data={**clasi_form(scalp_erythema="7", ears_scale="x", rsdat="7 Jan"), "csrf_token": csrf},
    )
    assert done.status_code == 422
    assert re.search(
        r'id="msg-scalp_erythema"[^>]*>\s*<p class="msg error">error: &#39;7&#39; is out of range',
        done.text,
    )
    assert re.search(
        r"id=\"msg-ears_scale\"[^>]*>\s*<p class=\"msg error\">error: &#39;x&#39; is not an integer",
        done.text,
    )
    assert 'value="7 Jan"' in done.text  # the entry is kept for correction
    assert world.store.records() == []


def test_changing_a_saved_value_needs_a_reason(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    client.post(CLASI, data={**clasi_form(), "csrf_token": csrf})
    edit = {**clasi_form(scalp_erythema="3"), "csrf_token": csrf, "version": "1"}
    refused = client.post(CLASI, data=edit)
    assert refused.status_code == 422
    assert "a reason for change is required" in refused.text
    assert re.search(r'id="msg-reason"[^>]*>\s*<p class="msg error">', refused.text)
    assert world.store.records()[0].version == 1
    saved = client.post(CLASI, data={**edit, "reason": "transcription error"})
    assert saved.status_code == 303
    [record] = world.store.records()
    assert (record.version, record.values["scalp_erythema"]) == (2, 3)
    history = client.get(CLASI + "/audit").text
    assert "transcription error" in history
    assert "<code>scalp_erythema</code>: 0 → 3" in history


def test_a_stale_edit_gets_a_conflict_page_with_the_current_values(world: WebWorld) -> None:
    first, csrf1 = world.login("coordinator1")
    second, csrf2 = world.login("investigator1")
    first.post(CLASI, data={**clasi_form(), "csrf_token": csrf1})
    # both open version 1; the investigator saves first
    ok = second.post(
        CLASI,
        data={**clasi_form(nose_erythema="2"), "csrf_token": csrf2, "version": "1", "reason": "r"},
    )
    assert ok.status_code == 303
    stale = first.post(
        CLASI,
        data={**clasi_form(chest_scale="1"), "csrf_token": csrf1, "version": "1", "reason": "r"},
    )
    assert stale.status_code == 409
    assert "changed by someone else" in stale.text
    assert "investigator1" in stale.text
    assert 'data-testid="conflict"' in stale.text
    assert 'id="record-version" value="2"' in stale.text
    [record] = world.store.records()
    assert record.values["nose_erythema"] == 2  # the other edit is not lost
    assert record.values["chest_scale"] == 0


def test_live_preview_equals_clestudy_score_and_writes_nothing(
    world: WebWorld, capsys: object
) -> None:
    client, csrf = world.login("coordinator1")
    form = clasi_form(scalp_erythema="3", chest_scale="2", arms_scarring="1", mucous_membrane="1")
    before = world.store.audit_count()
    live = client.post(CLASI + "/preview", data={**form, "csrf_token": csrf})
    assert live.status_code == 200
    assert world.store.audit_count() == before
    assert world.store.records() == []
    shown = _scores(live.text)
    payload = {
        "areas": {"scalp": {"erythema": 3}, "chest": {"scale": 2}, "arms": {"scarring": 1}},
        "mucous_membrane": 1,
    }
    import io
    import sys

    stdin = sys.stdin
    sys.stdin = io.StringIO(json.dumps(payload))
    try:
        assert main(["score", "clasi", "-", "--json"]) == 0
    finally:
        sys.stdin = stdin
    scored = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert shown["clasi_activity"] == str(scored["activity"])
    assert shown["clasi_damage"] == str(scored["damage"])


def test_live_preview_shows_field_problems_out_of_band(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    live = client.post(CLASI + "/preview", data={"scalp_erythema": "9", "csrf_token": csrf})
    assert re.search(
        r'id="msg-scalp_erythema"[^>]*hx-swap-oob="true">\s*<p class="msg error">', live.text
    )
    assert 'data-testid="score-pending"' in live.text


def test_read_only_roles_see_the_form_disabled_and_cannot_save(world: WebWorld) -> None:
    client, csrf = world.login("statistician1")
    page = client.get(CLASI)
    assert page.status_code == 200
    assert '<fieldset class="plain" disabled>' in page.text
    assert 'data-testid="save"' not in page.text
    assert client.post(CLASI, data={**clasi_form(), "csrf_token": csrf}).status_code == 403
    assert world.store.records() == []


def test_repeating_form_instances_are_listed_with_an_add_action(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    base = f"/studies/{STUDY}/subjects/S-01/records/week_6/ae"
    schedule = client.get(f"/studies/{STUDY}/subjects/S-01").text
    assert f'href="{base}/1" data-testid="add-week_6-ae"' in schedule
    form = two_site_protocol().form("ae")
    assert form is not None
    for instance in (1, 2):
        done = client.post(f"{base}/{instance}", data={"csrf_token": csrf})
        assert done.status_code == 303, done.text
    schedule = client.get(f"/studies/{STUDY}/subjects/S-01").text
    assert 'data-testid="form-week_6-ae-1"' in schedule
    assert 'data-testid="form-week_6-ae-2"' in schedule
    assert f'href="{base}/3" data-testid="add-week_6-ae"' in schedule
    assert client.get(f"/studies/{STUDY}/subjects/S-01/records/week_6/vs/2").status_code == 404


def test_monitor_verifies_admin_locks_and_unlocks_with_a_reason(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    client.post(CLASI, data={**clasi_form(), "csrf_token": csrf})
    coordinator_page = client.get(CLASI).text
    assert 'data-testid="verify"' not in coordinator_page
    assert (
        client.post(CLASI + "/verify", data={"csrf_token": csrf, "version": "1"}).status_code == 403
    )
    monitor, monitor_csrf = world.login("monitor1")
    assert 'data-testid="verify"' in monitor.get(CLASI).text
    done = monitor.post(CLASI + "/verify", data={"csrf_token": monitor_csrf, "version": "1"})
    assert done.status_code == 303
    assert world.store.records()[0].status == "verified"
    other_site, other_csrf = world.login("monitor2")
    refused = other_site.post(CLASI + "/verify", data={"csrf_token": other_csrf, "version": "2"})
    assert refused.status_code == 404
    admin, admin_csrf = world.login("admin1")
    assert (
        admin.post(CLASI + "/lock", data={"csrf_token": admin_csrf, "version": "2"}).status_code
        == 303
    )
    locked = client.get(CLASI).text
    assert '<fieldset class="plain" disabled>' in locked
    no_reason = admin.post(CLASI + "/unlock", data={"csrf_token": admin_csrf, "version": "3"})
    assert no_reason.status_code == 422
    unlocked = admin.post(
        CLASI + "/unlock",
        data={"csrf_token": admin_csrf, "version": "3", "reason": "query answered"},
    )
    assert unlocked.status_code == 303
    assert world.store.records()[0].status == "verified"


def test_out_of_window_warning_shows_live_and_stays_beside_the_field_after_saving(
    world: WebWorld,
) -> None:
    world.clock.now = world.clock.now.replace(month=4)
    world.store.save_record("S-01", "week_0", "vs", {"vsdat": "2030-01-07"}, actor="coordinator1")
    client, csrf = world.login("coordinator1")
    url = f"/studies/{STUDY}/subjects/S-01/records/week_6/vs/1"
    late = {"vsdat": "2030-03-01", "csrf_token": csrf}  # day 53; week 6 is day 42 +- 7
    live = client.post(url + "/preview", data=late)
    assert re.search(r'id="msg-vsdat"[^>]*>\s*<p class="msg warning">warning: ', live.text)
    assert "builtin.visit_window" in live.text
    assert client.post(url, data=late).status_code == 303  # a warning does not refuse the save
    page = client.get(url).text
    assert re.search(r'id="msg-vsdat"[^>]*>\s*<p class="msg warning">warning: ', page)
    schedule = client.get(f"/studies/{STUDY}/subjects/S-01").text
    assert 'data-testid="out-of-window-week_6"' in schedule
