"""Show-if on the data-entry page: fields hide as the server says, and clearing one asks first."""

from __future__ import annotations

import re

from tests.web.conftest import STUDY, WebWorld

from clestudy.store import audit_events

AE = f"/studies/{STUDY}/subjects/S-01/records/week_6/ae/1"
RECOVERED = {
    "aeterm": "Rash", "aestdat": "2030-01-01", "aeendat": "2030-01-05", "aetoxgr": "1",
    "aeser": "false", "aeout": "RECOVERED/RESOLVED",
}  # fmt: skip
ONGOING = {**RECOVERED, "aeout": "RECOVERING/RESOLVING"}


def _row_hidden(html: str, field: str) -> bool:
    row = re.search(rf'<div class="field[^"]*" data-testid="field-{field}"[^>]*>', html)
    assert row is not None, f"no row for {field}"
    return row.group(0).endswith(" hidden>")


def test_the_page_draws_a_field_hidden_when_the_stored_values_hide_it(world: WebWorld) -> None:
    world.store.save_record("S-01", "week_6", "ae", {**ONGOING, "aeendat": None}, actor="setup")
    client, _ = world.login("coordinator1")
    page = client.get(AE)
    assert _row_hidden(page.text, "aeendat")
    assert not _row_hidden(page.text, "aeout")
    assert 'data-show-if="aeout not in' in page.text
    assert 'data-hidden="aeendat"' in page.text


def test_the_live_preview_says_what_the_values_hide_and_what_a_save_would_clear(
    world: WebWorld,
) -> None:
    client, csrf = world.login("coordinator1")
    shown = client.post(AE + "/preview", data={**RECOVERED, "csrf_token": csrf})
    assert shown.status_code == 200
    assert 'id="visibility"' in shown.text and 'data-hidden=""' in shown.text
    hidden = client.post(AE + "/preview", data={**ONGOING, "csrf_token": csrf})
    assert 'data-hidden="aeendat" data-clear="aeendat" hx-swap-oob="true"' in hidden.text
    assert "Saving will ask to clear End date" in hidden.text
    # what the preview validates is what the save will store: no error for the hidden date
    assert "is hidden because" not in hidden.text


def test_hiding_a_filled_field_asks_before_the_save_clears_it(world: WebWorld) -> None:
    world.store.save_record("S-01", "week_6", "ae", RECOVERED, actor="setup")
    client, csrf = world.login("coordinator1")
    asked = client.post(AE, data={**ONGOING, "version": "1", "reason": "still healing",
                                  "csrf_token": csrf})  # fmt: skip
    assert asked.status_code == 200
    assert 'data-testid="confirm-clear"' in asked.text
    assert re.search(r'data-testid="confirm-clear-aeendat"><strong>End date</strong> \(now '
                     r"2030-01-05\)", asked.text)  # fmt: skip
    assert re.search(
        r'<button type="submit" name="confirm_clear" value="aeendat" autofocus', asked.text
    )
    assert _row_hidden(asked.text, "aeendat")
    [record] = world.store.records()
    assert record.version == 1 and record.values["aeendat"] == "2030-01-05"  # nothing saved yet
    done = client.post(AE, data={**ONGOING, "version": "1", "reason": "still healing",
                                 "confirm_clear": "aeendat", "csrf_token": csrf})  # fmt: skip
    assert done.status_code == 303
    [record] = world.store.records()
    assert record.version == 2 and "aeendat" not in record.values
    event = audit_events(world.url)[-1]
    assert event["after"]["cleared"] == ["aeendat"]  # type: ignore[index]
    assert (event["actor"], event["reason"]) == ("coordinator1", "still healing")


def test_a_value_typed_into_a_field_then_hidden_asks_too(world: WebWorld) -> None:
    client, csrf = world.login("coordinator1")
    asked = client.post(AE, data={**ONGOING, "csrf_token": csrf})
    assert 'data-testid="confirm-clear-aeendat"' in asked.text
    assert world.store.records() == []
    done = client.post(AE, data={**ONGOING, "confirm_clear": "aeendat", "csrf_token": csrf})
    assert done.status_code == 303
    [record] = world.store.records()
    assert "aeendat" not in record.values and record.values["aeout"] == "RECOVERING/RESOLVING"


def test_the_api_follows_the_store_rule(world: WebWorld) -> None:
    headers = world.token("coordinator1")
    client = world.client()
    url = f"/api/v1/studies/{STUDY}/subjects/S-01/records/week_6/ae/1"
    refused = client.put(url, json={"values": {**ONGOING, "aeser": False}}, headers=headers)
    assert refused.status_code == 422
    assert "field 'aeendat' is hidden because" in refused.text
