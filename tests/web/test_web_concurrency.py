"""Concurrent API clients editing overlapping records never lose an update.

``CLIENTS`` (16) threads, each with its own user and API token, make ``EDITS`` edits each through
``clestudy serve`` (a real server on loopback; on PostgreSQL with two worker processes). Edit
``i`` of client ``k`` writes a weight unique to ``(k, i)`` into one of ``RECORDS`` (4) records
that every client shares, as a PUT with the version it last read. A stale PUT gets 409 with the
current version; the client retries on that version, as the web page asks a user to do. Then:

* **0 lost updates**: every edit was acknowledged exactly once (200), the versions acknowledged
  for a record are exactly its versions 2..N, with no version given twice, and each acknowledged
  value is the one the audit event of that version recorded, under the client's user as actor;
* **the final state equals an audit replay**: replaying each record's events in order (each
  event's ``before`` equal to the previous event's ``after``) ends at the stored record;
* ``audit verify`` passes.

The CI run is bounded: 16 clients × 25 edits (``CLESTUDY_LOAD_EDITS``, default 25). The full
run of 16 × 200 edits (docs/web.md):

    CLESTUDY_LOAD_EDITS=200 .venv/bin/python -m pytest tests/web/test_web_concurrency.py
    CLESTUDY_LOAD_EDITS=200 CLESTUDY_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m pytest tests/web/test_web_concurrency.py -m postgres
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from argon2 import PasswordHasher, profiles
from tests.store.conftest import _postgres_url
from tests.web.browser._serve import serve
from tests.web.conftest import STUDY, two_site_protocol

from clestudy.store import audit_events, open_accounts, open_store, verify_audit

CLIENTS = 16
EDITS = int(os.environ.get("CLESTUDY_LOAD_EDITS", "25"))
#: The shared records: two subjects × two visits of the vital-signs form.
RECORDS = tuple((s, v) for s in ("L-01", "L-02") for v in ("week_0", "week_6"))
#: A client gives up on one edit after this many 409s in a row (a livelock would fail the test).
MAX_RETRIES = 200


@dataclass(frozen=True)
class Ack:
    """An acknowledged edit: which record, the version the server gave it, the value, who, and
    how many 409s it met first."""

    record: tuple[str, str]
    version: int
    weight: str
    user: str
    stale: int


def _record_url(base: str, record: tuple[str, str]) -> str:
    subject, visit = record
    return f"{base}/api/v1/studies/{STUDY}/subjects/{subject}/records/{visit}/vs/1"


def _weight(client: int, edit: int) -> str:
    """A weight unique to one edit of one client (kg, within the form's 2-300 range)."""
    return f"{100 + client}.{edit:03d}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def load_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'load.db'}"
    else:
        yield from _postgres_url()


def _seed(db_url: str) -> dict[str, str]:
    """The study, its shared records at version 1, and one user with an API token per client."""
    with open_store(db_url, two_site_protocol(), actor="setup") as store:
        for subject in {s for s, _ in RECORDS}:
            store.add_subject(subject, arm="lenalidomide", site="site01", actor="setup")
        for subject, visit in RECORDS:
            store.save_record(subject, visit, "vs", {"weight": "70"}, actor="setup")
    tokens = {}
    accounts = open_accounts(db_url, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST))
    try:
        for k in range(CLIENTS):
            user = f"writer{k:02d}"
            accounts.add_user(user, role="coordinator", sites=("site01",), password="x" * 12,
                              actor="setup")  # fmt: skip
            tokens[user] = accounts.create_api_token(user, actor="setup", label="load")
    finally:
        accounts.close()
    return tokens


def _client(base: str, user: str, token: str, k: int, start: threading.Barrier) -> list[Ack]:
    acks = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(headers=headers, timeout=60) as http:
        versions = {r: int(http.get(_record_url(base, r)).json()["version"]) for r in RECORDS}
        start.wait()
        for i in range(EDITS):
            record = RECORDS[(k + i) % len(RECORDS)]
            body: dict[str, Any] = {"values": {"weight": _weight(k, i)}, "reason": "load test"}
            for stale in range(MAX_RETRIES):
                body["expected_version"] = versions[record]
                response = http.put(_record_url(base, record), json=body)
                if response.status_code == 409:  # stale: retry on the version it names
                    versions[record] = int(response.json()["version"])
                    continue
                assert response.status_code == 200, (user, record, response.text)
                saved = response.json()
                assert saved["version"] == versions[record] + 1
                assert saved["values"]["weight"] == _weight(k, i)
                versions[record] = saved["version"]
                acks.append(Ack(record, saved["version"], _weight(k, i), user, stale))
                break
            else:
                raise AssertionError(f"{user}: {MAX_RETRIES} stale retries on {record}")
    return acks


def _run_clients(base: str, tokens: dict[str, str]) -> list[Ack]:
    start = threading.Barrier(CLIENTS, timeout=120)
    results: dict[str, list[Ack] | BaseException] = {}

    def run(k: int, user: str) -> None:
        try:
            results[user] = _client(base, user, tokens[user], k, start)
        except BaseException as exc:  # examined below, none lost in its thread
            results[user] = exc
            start.abort()

    threads = [
        threading.Thread(target=run, args=(k, user), daemon=True)
        for k, user in enumerate(sorted(tokens))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "a client still runs after 15 minutes"
    failed = {u: r for u, r in results.items() if isinstance(r, BaseException)}
    assert not failed, f"clients failed: {failed!r}"
    return [ack for r in results.values() if not isinstance(r, BaseException) for ack in r]


def test_concurrent_clients_lose_no_update_and_the_audit_replays_the_state(
    load_db: str, tmp_path: Path
) -> None:
    tokens = _seed(load_db)
    workers = 1 if load_db.startswith("sqlite") else 2
    with serve(load_db, tmp_path, workers=workers) as base:
        acks = _run_clients(base, tokens)

    assert len(acks) == CLIENTS * EDITS  # every edit acknowledged once
    # clients k and k + 4 both start on record k % 4 at version 1: stale writes certainly met
    assert sum(a.stale for a in acks) >= CLIENTS - len(RECORDS)
    events = audit_events(load_db, entity_prefix=f"{STUDY}/")
    with open_store(load_db, STUDY, migrate=False) as store:
        stored = {(r.subject_id, r.visit_id): r for r in store.records(form_id="vs")}
    for record in RECORDS:
        subject, visit = record
        mine = sorted((a for a in acks if a.record == record), key=lambda a: a.version)
        history = [e for e in events if e["entity_key"] == f"{STUDY}/{subject}/{visit}/vs"]
        # no stale write went through: each version acknowledged once, none missing
        assert [a.version for a in mine] == list(range(2, 2 + len(mine)))
        assert [e["action"] for e in history] == ["create"] + ["update"] * len(mine)
        # each acknowledged value is the audited one, under its client's user
        for ack, event in zip(mine, history[1:], strict=True):
            after = event["after"]
            assert isinstance(after, dict)
            assert (after["version"], after["values"]["weight"], event["actor"]) == (
                ack.version, ack.weight, ack.user,
            )  # fmt: skip
        # replay: each event starts where the previous one ended; the last is the stored row
        state: Any = None
        for event in history:
            assert event["before"] == state, f"{record}: an event did not start from the last"
            state = event["after"]
        row = stored[record]
        assert state == {
            "version": row.version, "status": row.status, "values": row.values,
            "derived": row.derived,
        }  # fmt: skip
    assert verify_audit(load_db).ok
