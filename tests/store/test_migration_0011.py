"""Migration 0011: the audit table loses its ``hash``/``prev_hash`` unique indexes, nothing else.

A database with a study, subjects, records and their audit events at revision 0010 is upgraded:
every event row is kept byte for byte, the trail still verifies, the append-only triggers still
refuse UPDATE and DELETE, ``(chain, chain_seq)`` is still unique, and the two constraints are
gone; the downgrade puts them back.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from clestudy.store import make_engine, open_store, verify_audit
from clestudy.store._migrate import _config

STUDY = "pediatric-cle-chart-review"
_GONE = {"uq_audit_event_hash", "uq_audit_event_prev_hash"}


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _events(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM audit_event ORDER BY seq"))]


def _unique_names(engine: Engine) -> set[str]:
    found = inspect(engine)
    names = {str(c["name"]) for c in found.get_unique_constraints("audit_event")}
    return names | {str(i["name"]) for i in found.get_indexes("audit_event") if i["unique"]}


def _study_at_0010(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A study written by the store while the schema was at 0010 (the store's writes do not
    depend on the two constraints)."""
    engine = make_engine(url)
    try:
        _migrate(engine, "0010_hardening")
    finally:
        engine.dispose()
    with monkeypatch.context() as patched:  # open_store would migrate to head
        patched.setattr("clestudy.store._open.upgrade_to_head", lambda engine: None)
        store = open_store(url, STUDY)
    try:
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "5"}, actor="c")
        store.save_record(
            "P01", "initiation", "steroids", {"prednisone_mg_day": "7.5"}, actor="c",
            reason="transcription error", expected_version=1,
        )  # fmt: skip
    finally:
        store.close()


def test_0011_keeps_every_event_and_drops_only_the_hash_constraints(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _study_at_0010(db_url, monkeypatch)
    engine = make_engine(db_url)
    try:
        assert _unique_names(engine) >= _GONE
        before = _events(engine)
        assert len(before) == 4
        _migrate(engine, "0011")
        assert _events(engine) == before
        assert not _GONE & _unique_names(engine)
        assert "ix_audit_event_chain" in _unique_names(engine)
        assert verify_audit(db_url).ok
        with engine.connect() as conn:
            for statement in (
                "UPDATE audit_event SET actor = 'x' WHERE seq = 1",
                "DELETE FROM audit_event WHERE seq = 1",
            ):
                with pytest.raises(DBAPIError, match="append-only"), conn.begin():
                    conn.execute(text(statement))
            columns = ", ".join(
                c for c in ("format_version", "occurred_at", "actor", "action", "entity_type",
                            "entity_key", "after_json", "prev_hash", "hash", "chain")
            )  # fmt: skip
            fork = (  # a second event at a chain's first position
                f"INSERT INTO audit_event ({columns}, chain_seq) SELECT {columns}, chain_seq "
                "FROM audit_event WHERE seq = 2"
            )
            with pytest.raises(DBAPIError, match=r"(?i)unique"), conn.begin():
                conn.execute(text(fork))
        _migrate(engine, "0010_hardening", down=True)
        assert _unique_names(engine) >= _GONE
        assert _events(engine) == before
    finally:
        engine.dispose()
    # and up again, as a database that was downgraded and is opened by this clestudy
    store = open_store(db_url, STUDY)
    store.close()
    assert verify_audit(db_url).ok
