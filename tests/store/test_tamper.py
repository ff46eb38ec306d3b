"""Tamper suite: each single-row tampering of issue 10, made in SQL behind the store's back.

Plain ``verify`` detects every one except a forged append and a rechained history (both made with
recomputed SHA-256 hashes); with the audit key every one is detected; with an anchor taken before
the tampering every one is detected except an append made after it (docs/security.md).
Runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from clestudy.protocol import load_protocol
from clestudy.store import AuditKey, Store, make_anchor, make_engine, read_anchor, verify_audit
from clestudy.store._audit import AuditEntry, chain_genesis, chain_hash, load_audit_key

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
L01 = f"{STUDY}/L01"
DQ_FINDING = "L02/week_0/vs/dq.missing_form"
KEY = "k" * 32  # a test key: 32 bytes
# every CLASI item entered (0 where nothing is seen): a blank item leaves the form incomplete
_CLASI_FORM = load_protocol(STUDY).form("clasi")
assert _CLASI_FORM is not None
CLASI_17 = {
    **{f.id: (False if f.type == "boolean" else 0) for f in _CLASI_FORM.fields if f.id != "rsdat"},
    **{f"{region}_erythema": 3 for region in ("nose", "rest_of_face", "ears")},
    **{f"{region}_scale": 2 for region in ("nose", "rest_of_face", "ears")},
    "scalp_erythema": 2,
    "scalp_scarring": 0,
}


def _populate(open_study: OpenStudy, url: str) -> None:
    """Events: 1 register, 2-3 enrol L01/L02, 4-5 L01's CLASI (17, then 18), 6 L02's CLASI,
    7 a data-quality run, 8 the exclusion of one of L02's findings."""
    store = open_study(url, STUDY)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.add_subject("L02", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("L01", "week_0", "clasi", CLASI_17, actor="coordinator")
    edited = store.save_record(
        "L01", "week_0", "clasi", {**CLASI_17, "scalp_erythema": 3},
        actor="monitor", reason="source check", expected_version=1,
    )  # fmt: skip
    assert edited.derived["clasi"]["values"]["clasi_activity"] == 18  # 3*3 + 2*3 + 3
    store.save_record("L02", "week_0", "clasi", CLASI_17, actor="coordinator")
    store.run_quality_rules(actor="monitor")
    store.exclude_finding(DQ_FINDING, reason="not collected at this site", actor="monitor")


def _record_pk(conn: Connection, subject: str) -> int:
    return int(
        conn.execute(
            text(
                "SELECT r.id FROM form_record r JOIN subject s ON r.subject_id = s.id "
                "WHERE s.subject_key = :s"
            ),
            {"s": subject},
        ).scalar_one()
    )


def _rehash(conn: Connection, rows: list[dict[str, object]], prev_hash: str) -> None:
    """Recompute SHA-256 hashes of format-2 events (what an attacker without the key can do)."""
    for row in rows:
        entry = AuditEntry(
            seq=int(str(row["seq"])), occurred_at=str(row["occurred_at"]),
            actor=str(row["actor"]), action=str(row["action"]),
            entity_type=str(row["entity_type"]), entity_key=str(row["entity_key"]),
            before=None if row["before_json"] is None else json.loads(str(row["before_json"])),
            after=json.loads(str(row["after_json"])), reason=row["reason"],  # type: ignore[arg-type]
            format_version=2, chain=str(row["chain"]), chain_seq=int(str(row["chain_seq"])),
            key_id=row["key_id"],  # type: ignore[arg-type]
        )  # fmt: skip
        row["prev_hash"], row["hash"] = prev_hash, chain_hash(prev_hash, entry)
        prev_hash = str(row["hash"])


def _chain_rows(conn: Connection, chain: str) -> list[dict[str, object]]:
    result = conn.execute(
        text("SELECT * FROM audit_event WHERE chain = :c ORDER BY chain_seq"), {"c": chain}
    )
    return [dict(r._mapping) for r in result]


def _set_clasi_18_to_2(conn: Connection) -> None:
    pk = _record_pk(conn, "L01")
    stored = conn.execute(
        text("SELECT values_json FROM derived_score WHERE record_id = :r"), {"r": pk}
    ).scalar_one()
    changed = json.loads(stored) | {"clasi_activity": 2}
    conn.execute(
        text("UPDATE derived_score SET values_json = :v WHERE record_id = :r"),
        {"v": json.dumps(changed, sort_keys=True), "r": pk},
    )


def _forged_append(conn: Connection) -> None:
    """Change L01's CLASI to 2 and append a matching 'update' event, hash recomputed."""
    _set_clasi_18_to_2(conn)
    conn.execute(
        text("UPDATE form_record SET version = 3 WHERE id = :r"), {"r": _record_pk(conn, "L01")}
    )
    head = _chain_rows(conn, L01)[-1]
    before = json.loads(str(head["after_json"]))
    after = json.loads(json.dumps(before))
    after["version"] = 3
    after["derived"]["clasi"]["values"]["clasi_activity"] = 2
    top = int(conn.execute(text("SELECT max(seq) FROM audit_event")).scalar_one())
    forged: dict[str, object] = {
        **head, "seq": top + 1, "chain_seq": int(str(head["chain_seq"])) + 1,
        "before_json": json.dumps(before, sort_keys=True, separators=(",", ":")),
        "after_json": json.dumps(after, sort_keys=True, separators=(",", ":")),
        "reason": "correction",
    }  # fmt: skip
    _rehash(conn, [forged], str(head["hash"]))
    columns = ", ".join(forged)
    conn.execute(
        text(f"INSERT INTO audit_event ({columns}) VALUES ({', '.join(':' + c for c in forged)})"),
        forged,
    )


def _rechain(conn: Connection) -> None:
    """Rewrite L01's first value in its history and rehash the whole chain consistently."""
    rows = _chain_rows(conn, L01)
    rows[0]["after_json"] = str(rows[0]["after_json"]).replace(
        '"scalp_erythema":2', '"scalp_erythema":1'
    )
    enrol = conn.execute(
        text("SELECT hash FROM audit_event WHERE action = 'enroll' AND entity_key = :k"), {"k": L01}
    ).scalar_one()
    _rehash(conn, rows, chain_genesis(L01, enrol))
    for row in rows:
        conn.execute(
            text(
                "UPDATE audit_event SET after_json = :a, prev_hash = :p, hash = :h WHERE seq = :s"
            ),
            {
                "a": row["after_json"],
                "p": "x" + str(row["seq"]),
                "h": "y" + str(row["seq"]),
                "s": row["seq"],
            },
        )  # unique hashes: first move them aside, then set the new ones
    for row in rows:
        conn.execute(
            text("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": row["prev_hash"], "h": row["hash"], "s": row["seq"]},
        )


def _sql(*statements: str) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        for statement in statements:
            conn.exec_driver_sql(statement)

    return run


def _protocol_edited(conn: Connection) -> None:
    stored = json.loads(conn.execute(text("SELECT protocol_json FROM study")).scalar_one())
    stored["title"] = str(stored.get("title", "")) + " (edited)"
    conn.execute(text("UPDATE study SET protocol_json = :p"), {"p": json.dumps(stored)})


L02_RECORD = "(SELECT r.id FROM form_record r JOIN subject s ON r.subject_id = s.id WHERE s.subject_key = 'L02')"
L01_RECORD = L02_RECORD.replace("L02", "L01")

#: name -> (tampering, what plain verify reports: a regex, or None when it cannot detect it)
TAMPERINGS: dict[str, tuple[Callable[[Connection], None], str | None]] = {
    "derived score CLASI 18 -> 2": (_set_clasi_18_to_2, r"form record .*/L01/week_0/clasi: the row's derived"),
    "record row deleted": (
        _sql(f"DELETE FROM derived_score WHERE record_id = {L02_RECORD}", f"DELETE FROM form_record WHERE id = {L02_RECORD}"),
        r"form record .*/L02/week_0/clasi: its audit events \(newest 6, create\) record it but the row is missing",
    ),
    "derived row deleted": (_sql(f"DELETE FROM derived_score WHERE record_id = {L02_RECORD}"), r"L02/week_0/clasi: the row's derived"),
    "subject arm changed": (_sql("UPDATE subject SET arm = 'placebo' WHERE subject_key = 'L01'"), r"subject .*/L01: the row's arm"),
    "subject status changed": (_sql("UPDATE subject SET status = 'withdrawn' WHERE subject_key = 'L02'"), r"subject .*/L02: the row's status"),
    "subject inserted without an event": (
        _sql("INSERT INTO subject (study_id, subject_key, arm, site, status, created_at, deleted) "
             "SELECT id, 'L99', 'lenalidomide', 'site01', 'enrolled', created_at, false FROM study"),
        r"subject .*/L99: no audit event records it",
    ),
    "protocol snapshot edited": (_protocol_edited, r"study .*: the stored protocol snapshot differs"),
    "updated_by rewritten": (_sql(f"UPDATE form_record SET updated_by = 'mallory' WHERE id = {L01_RECORD}"), r"names 'mallory' as its last editor"),
    "old value edited": (
        _sql("UPDATE audit_event SET after_json = replace(after_json, '\"scalp_erythema\":2', '\"scalp_erythema\":1') WHERE seq = 4"),
        r"audit event 4: stored hash does not match",
    ),
    "event deleted": (_sql("DELETE FROM audit_event WHERE seq = 4"), r"audit event 5: sequence gap"),
    "events reordered": (
        _sql("UPDATE audit_event SET chain_seq = 99 WHERE seq = 4", "UPDATE audit_event SET chain_seq = 1 WHERE seq = 5",
             "UPDATE audit_event SET chain_seq = 2 WHERE seq = 4"),
        r"audit event 5: prev_hash does not match",
    ),
    "event re-timed": (_sql("UPDATE audit_event SET occurred_at = '2001-01-01T00:00:00.000000Z' WHERE seq = 5"), r"audit event 5: stamped 2001"),
    "data-quality run's findings edited": (
        _sql("UPDATE dq_run SET findings_json = '[]'"),
        r"data-quality run .*@dq-run:1: the row's findings_sha256",
    ),
    "data-quality exclusion reason edited": (
        _sql("UPDATE dq_exclusion SET reason = 'forged'"),
        rf"data-quality exclusion .*/{DQ_FINDING}: the row's reason",
    ),
    "forged append, hash recomputed": (_forged_append, None),
    "rechained history": (_rechain, None),
}  # fmt: skip


def _tamper(url: str, tampering: Callable[[Connection], None]) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # an attacker with SQL access lifts the guards first
            if engine.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            else:
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER audit_event_no_{verb}"))
            tampering(conn)
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_plain_verify_detects_all_but_forged_appends_and_rechaining(
    open_study: OpenStudy, db_url: str, name: str
) -> None:
    _populate(open_study, db_url)
    assert verify_audit(db_url).ok
    tampering, expected = TAMPERINGS[name]
    _tamper(db_url, tampering)
    result = verify_audit(db_url)
    if expected is None:
        assert result.ok, f"{name}: a consistent forgery passes plain verify: {result.describe()}"
    else:
        assert not result.ok
        assert re.search(expected, result.describe()), result.describe()


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_keyed_verify_detects_every_tampering(
    open_study: OpenStudy, db_url: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLESTUDY_AUDIT_KEY", KEY)
    _populate(open_study, db_url)
    key = load_audit_key()
    assert key is not None and verify_audit(db_url, key=key).ok
    _tamper(db_url, TAMPERINGS[name][0])
    assert not verify_audit(db_url, key=key).ok


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_anchored_verify_detects_every_tampering_of_anchored_events(
    open_study: OpenStudy, db_url: str, name: str, tmp_path: Path
) -> None:
    _populate(open_study, db_url)
    anchor = tmp_path / "anchor.json"
    anchor.write_text(json.dumps(make_anchor(db_url)), encoding="utf-8")
    _tamper(db_url, TAMPERINGS[name][0])
    result = verify_audit(db_url, anchor=read_anchor(anchor))
    if name == "forged append, hash recomputed":  # after the anchor: a new event to it
        assert result.ok
    else:
        assert not result.ok, result.describe()


def test_keyed_events_store_the_key_id_never_the_key(
    open_study: OpenStudy, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLESTUDY_AUDIT_KEY", KEY)
    _populate(open_study, db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM audit_event")).all()
    finally:
        engine.dispose()
    assert {r._mapping["key_id"] for r in rows} == {AuditKey(KEY.encode()).key_id}
    assert not any(KEY in str(value) for row in rows for value in row)
    plain = verify_audit(db_url)  # without the key: everything else is checked, and it says so
    assert plain.ok and plain.unkeyed_checks == 8
    assert "(8 keyed event hashes not recomputed: no audit key given)" in plain.describe()
    wrong = AuditKey(b"w" * 32)
    assert verify_audit(db_url, key=wrong).problem == (
        f"hashed with key {AuditKey(KEY.encode()).key_id}, not with the key given ({wrong.key_id})"
    )
