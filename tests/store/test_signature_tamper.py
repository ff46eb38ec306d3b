"""Tampering with signatures behind the store's back is reported by ``audit verify``: the two
tables are append-only, each row must match its newest ``signature`` event, and a signature
still valid must cover data whose hash is the one it signed. On SQLite and, when configured,
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from tests.store.test_signature_store import PASSWORD, accounts  # noqa: F401 - the fixture

from clestudy.store import Accounts, Store, make_engine, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"


@pytest.fixture
def signed(
    open_study: OpenStudy,
    db_url: str,
    accounts: Accounts,  # noqa: F811
) -> Store:
    """S1's casebook signed (valid); S2's signed and then voided by an edit."""
    store = open_study(db_url, STUDY)
    for subject in ("S1", "S2"):
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="coord")
        store.save_record(subject, "week_0", "vs", {"vsdat": "2026-01-07"}, actor="coord")
        store.sign(subject, meaning="review", signer="inv", password=PASSWORD, accounts=accounts)
    store.save_record("S2", "week_0", "vs", {"weight": "70"}, actor="coord", reason="added",
                      expected_version=1)  # fmt: skip
    assert [s.status for s in store.signatures()] == ["valid", "void"]
    assert verify_audit(db_url).ok
    return store


def _tamper(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # an attacker with SQL access lifts the guards first
            _drop_guards(conn)
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _drop_guards(conn: Connection) -> None:
    for table in ("signature", "signature_void"):
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for verb in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER {table}_no_{verb}"))


S1 = "(SELECT id FROM subject WHERE subject_key = 'S1')"
S2 = S1.replace("S1", "S2")
SIGNATURE_S1 = f"(SELECT id FROM signature WHERE subject_id = {S1})"
TAMPERINGS = {
    "hash rewritten": (
        f"UPDATE signature SET data_sha256 = '{'0' * 64}' WHERE subject_id = {S1}",
        r"signature .*/S1/signature-1: the row's data_sha256",
    ),
    "meaning rewritten": (
        f"UPDATE signature SET meaning = 'approval' WHERE subject_id = {S1}",
        r"signature .*/S1/signature-1: the row's meaning",
    ),
    "signer rewritten": (
        f"UPDATE signature SET signer = 'mallory' WHERE subject_id = {S1}",
        r"signature .*/S1/signature-1: the row's signer",
    ),
    "void row deleted": (
        "DELETE FROM signature_void",
        r"signature .*/S2/signature-2: the row's status \"valid\" differs",
    ),
    "signature row deleted": (
        f"DELETE FROM signature WHERE subject_id = {S1}",
        r"signature .*/S1/signature-1: its audit events \(newest \d+, sign\) record it but the "
        r"row is missing",
    ),
    "signature inserted without an event": (
        "INSERT INTO signature (study_id, subject_id, visit_key, signer, signer_name, meaning, "
        "attestation, signed_at, data_sha256, records_json) SELECT study_id, subject_id, NULL, "
        "signer, signer_name, meaning, attestation, signed_at, data_sha256, records_json FROM "
        f"signature WHERE subject_id = {S1}",
        r"signature .*/S1/signature-3: no audit event records it",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_verify_reports_each_tampering_of_the_signature_tables(
    signed: Store, db_url: str, name: str
) -> None:
    statement, expected = TAMPERINGS[name]
    _tamper(db_url, statement)
    result = verify_audit(db_url)
    assert not result.ok
    assert re.search(expected, result.describe()), result.describe()


def test_signed_data_changed_without_voiding_is_reported(
    signed: Store, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit that changed the covered data but left the signature valid (here: the store with
    its voiding hook switched off, as a bug or a rogue writer would) is tampering."""
    import clestudy.store._batch as batch

    monkeypatch.setattr(batch, "void_signatures_of_batch", lambda *args: None)
    signed.save_record("S1", "week_0", "vs", {"weight": "99"}, actor="coord", reason="x",
                       expected_version=1)  # fmt: skip
    assert [s.status for s in signed.signatures()] == ["valid", "void"]
    result = verify_audit(db_url)
    assert not result.ok
    assert re.search(r"signed data .*/S1/signature-1: the row's data_sha256", result.describe())


@pytest.mark.parametrize("table", ["signature", "signature_void"])
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_the_signature_tables_are_append_only(
    signed: Store, db_url: str, table: str, verb: str
) -> None:
    statement = f"UPDATE {table} SET id = id" if verb == "UPDATE" else f"DELETE FROM {table}"
    engine = make_engine(db_url)
    try:
        with pytest.raises(DBAPIError, match=f"{table} is append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert verify_audit(db_url).ok
