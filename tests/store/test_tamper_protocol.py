"""Tamper suite for protocol snapshots: plain ``audit verify`` checks every ``protocol_snapshot``
row (not only the study's current protocol) against its own ``register``/``amend`` event.

``report --as-of`` reads the snapshot of the version in force at the cut-off, an old one after an
amendment; issue 10 asks verify to check "every live row of every table", so an old snapshot
edited in SQL must be reported without an ``--as-of`` run. Runs on SQLite and, when configured,
PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text
from tests.store.test_tamper import _tamper

from clestudy.protocol import load_protocol
from clestudy.store import Store, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "pediatric-cle-chart-review"
V1 = load_protocol(STUDY).version
V2 = "9.2"
OLD = f"(SELECT id FROM protocol_snapshot WHERE version = '{V1}')"


def _populate(open_study: OpenStudy, url: str) -> None:
    """Events: 1 register (V1), 2 enrol P01, 3 a record, 4 amend to V2 (a new title)."""
    store = open_study(url, STUDY)
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("P01", "initiation", "vs", {"weight": "30"}, actor="coordinator")
    amended = load_protocol(STUDY).model_copy(update={"version": V2, "title": "Amended"})
    store.amend_protocol(amended, actor="dm", reason="new title")


def _edit_old_snapshot(conn: Connection) -> None:
    stored = json.loads(
        conn.execute(
            text("SELECT protocol_json FROM protocol_snapshot WHERE version = :v"), {"v": V1}
        ).scalar_one()
    )
    stored["title"] = "rewritten behind clestudy's back"
    conn.execute(
        text("UPDATE protocol_snapshot SET protocol_json = :p WHERE version = :v"),
        {"p": json.dumps(stored), "v": V1},
    )


def _sql(*statements: str) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        for statement in statements:
            conn.exec_driver_sql(statement)

    return run


#: name -> (tampering, what plain verify reports)
TAMPERINGS: dict[str, tuple[Callable[[Connection], None], str]] = {
    "an old version's snapshot edited": (
        _edit_old_snapshot,
        rf"protocol snapshot {STUDY}@{V1}: the row's sha256 .* differs from the sha256 its "
        r"newest audit event \(1\) records",
    ),
    "an old snapshot's stored hash column edited": (
        _sql(f"UPDATE protocol_snapshot SET sha256 = '{'0' * 64}' WHERE version = '{V1}'"),
        rf"protocol snapshot {STUDY}@{V1}: the row's sha256",
    ),
    "an old snapshot relabelled as another version": (
        _sql(f"UPDATE protocol_snapshot SET version = '0.0' WHERE version = '{V1}'"),
        rf"protocol snapshot {STUDY}@0\.0: no audit event records it",
    ),
    "a snapshot inserted without an event": (
        _sql(
            "INSERT INTO protocol_snapshot (study_id, version, protocol_json, sha256, "
            "created_at, created_by) SELECT study_id, '9.9', protocol_json, sha256, created_at, "
            f"created_by FROM protocol_snapshot WHERE version = '{V2}'"
        ),
        rf"protocol snapshot {STUDY}@9\.9: no audit event records it",
    ),
    "an old snapshot deleted": (
        _sql(f"DELETE FROM protocol_snapshot WHERE version = '{V1}'"),
        rf"protocol snapshot {STUDY}@{V1}: its audit events \(newest 1, register\) record it "
        r"but the row is missing",
    ),
    "the snapshot's author rewritten": (
        _sql(f"UPDATE protocol_snapshot SET created_by = 'mallory' WHERE version = '{V2}'"),
        r"names 'mallory' as its last editor but its newest audit event \(4\) was made by 'dm'",
    ),
    "the study pointed back at the old version": (
        _sql(
            f"UPDATE study SET protocol_version = '{V1}', current_snapshot_id = {OLD}, "
            f"protocol_json = (SELECT protocol_json FROM protocol_snapshot WHERE id = {OLD})"
        ),
        rf"study {STUDY}: the stored protocol snapshot differs from the one its newest protocol "
        r"event \(4\) records",
    ),
    "the study's current-snapshot pointer moved": (
        _sql(f"UPDATE study SET current_snapshot_id = {OLD}"),
        rf"study {STUDY}: its current protocol snapshot is version {V1} but its newest protocol "
        rf"event \(4\) records version {V2}",
    ),
    "the study's protocol version relabelled": (
        _sql(f"UPDATE study SET protocol_version = '{V1}'"),
        rf"study {STUDY}: its protocol version {V1} differs from the version {V2} its newest "
        r"protocol event \(4\) records",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_plain_verify_checks_every_protocol_snapshot(
    open_study: OpenStudy, db_url: str, name: str
) -> None:
    _populate(open_study, db_url)
    assert verify_audit(db_url).ok
    tampering, expected = TAMPERINGS[name]
    _tamper(db_url, tampering)
    result = verify_audit(db_url)
    assert not result.ok, name
    assert re.search(expected, result.describe()), result.describe()
