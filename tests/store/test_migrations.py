"""The Alembic migrations build exactly the schema the SQLAlchemy models describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from clestudy.protocol import load_protocol
from clestudy.store import make_engine, open_store, verify_audit
from clestudy.store._audit import GENESIS_HASH, AuditEntry, canonical_json, chain_hash
from clestudy.store._migrate import _config, upgrade_to_head
from clestudy.store._schema import Base

STUDY = "pediatric-cle-chart-review"
WHEN = "2026-11-30T09:00:00.000000Z"


def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_to_head(engine, use_snapshot=False)  # the migrations, not the SQLite snapshot
        upgrade_to_head(engine)  # idempotent
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_a_database_from_before_0003_keeps_its_legacy_chain_and_grows_new_ones(
    db_url: str,
) -> None:
    """Events written by format 1 (one global chain) verify after the upgrade, and new events
    go to per-subject chains (a legacy-enrolled subject's chain starts from its old enrolment)."""
    engine = make_engine(db_url)
    try:
        config = _config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            _legacy_study(conn)
    finally:
        engine.dispose()
    store = open_store(db_url, STUDY)  # migrates to head
    try:
        assert verify_audit(db_url).ok
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "5"}, actor="c")
        store.add_subject("P02", arm="lenalidomide", site="site01", actor="coordinator")
        result = verify_audit(db_url)
        assert result.ok and result.events == 4
        assert sorted(result.heads) == ["", STUDY, f"{STUDY}/P01"]
    finally:
        store.close()


def _legacy_study(conn: Connection) -> None:
    """What clestudy 0.1 wrote: a study, a subject, and their two format-1 events."""
    snapshot = load_protocol(STUDY).model_dump_json()
    conn.execute(
        text(
            "INSERT INTO study (study_key, protocol_version, protocol_json, created_at) "
            "VALUES (:k, '1.1', :p, :t)"
        ),
        {"k": STUDY, "p": snapshot, "t": WHEN},
    )
    conn.execute(
        text(
            "INSERT INTO subject (study_id, subject_key, arm, site, status, created_at) "
            "SELECT id, 'P01', 'lenalidomide', 'site01', 'enrolled', :t FROM study"
        ),
        {"t": WHEN},
    )
    prev = GENESIS_HASH
    for seq, (action, kind, key, after) in enumerate(
        [
            ("register", "study", STUDY, {"protocol_id": STUDY, "protocol_version": "1.1"}),
            (
                "enroll",
                "subject",
                f"{STUDY}/P01",
                {"arm": "lenalidomide", "site": "site01", "status": "enrolled"},
            ),
        ],
        start=1,
    ):
        entry = AuditEntry(seq, WHEN, "system", action, kind, key, None, after, None)
        digest = chain_hash(prev, entry)
        conn.execute(
            text(
                "INSERT INTO audit_event (seq, format_version, occurred_at, actor, action, "
                "entity_type, entity_key, before_json, after_json, reason, prev_hash, hash) "
                "VALUES (:s, 1, :t, 'system', :a, :e, :k, NULL, :j, NULL, :p, :h)"
            ),
            {"s": seq, "t": WHEN, "a": action, "e": kind, "k": key,
             "j": canonical_json(after), "p": prev, "h": digest},
        )  # fmt: skip
        prev = digest
