"""Reads and batch saves do not run one query per record: SQL statements counted with a cursor
event."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, profiles
from sqlalchemy import event

from clestudy.store import RecordInput, Store, audit_events, open_accounts

OpenStudy = Callable[..., Store]
AE = {"aeterm": "rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements ``store`` sends to its database while the block runs."""
    seen: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", _count)


def _clasi_values(store: Store, activity: int) -> dict[str, Any]:
    form = store.protocol.form("clasi")
    assert form is not None
    zeros = {f.id: (False if f.type == "boolean" else 0) for f in form.fields if f.id != "rsdat"}
    return zeros | {"nose_erythema": activity}


def _enrol(store: Store, first: int, last: int) -> None:
    for n in range(first, last):
        subject = f"L{n:02d}"
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="a")
        store.save_record(subject, "week_0", "clasi", _clasi_values(store, n % 4), actor="a")


def _study(open_study: OpenStudy, url: str, subjects: int) -> Store:
    store = open_study(url, "lenalidomide-cle-open-label")
    _enrol(store, 0, subjects)
    return store


def _select_count(store: Store, subjects: int) -> int:
    with _statements(store) as seen:
        records = store.records()
    assert len(records) == subjects
    assert all("clasi" in r.derived for r in records)
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT"))


def test_records_reads_derived_scores_in_one_query(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, 2)
    few = _select_count(store, 2)
    _enrol(store, 2, 7)
    # the record rows, and every derived row at once: not one more query per record
    assert few == _select_count(store, 7) == 2


def test_records_keeps_derived_scores_per_record(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, 4)
    by_subject = {r.subject_id: r for r in store.records(form_id="clasi", visit_id="week_0")}
    for n in range(4):
        derived = by_subject[f"L{n:02d}"].derived
        assert derived["clasi"]["values"]["clasi_activity"] == n % 4
    assert store.records(form_id="steroids") == []


def _ae(first: int, count: int, values: dict[str, Any], version: int | None = None) -> list[Any]:
    """``count`` adverse events across subjects B1 and B2, from instance ``first`` on."""
    return [
        RecordInput(f"B{1 + n % 2}", "week_6", "ae", values, first + n // 2, version)
        for n in range(count)
    ]


def _two_subjects(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, "lenalidomide-cle-open-label")
    for subject in ("B1", "B2"):
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="a")
    return store


def _save_statements(store: Store, items: list[Any], reason: str | None = None) -> list[str]:
    with _statements(store) as seen:
        saved = store.save_records(items, actor="a", reason=reason)
    assert len(saved) == len(items)
    return seen


def test_batch_save_runs_the_same_statements_for_any_size(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _two_subjects(open_study, db_url)
    _save_statements(store, _ae(1, 2, AE))  # the subjects' chains now have heads
    events = store.audit_count()
    few = _save_statements(store, _ae(2, 4, AE))
    many = _save_statements(store, _ae(4, 40, AE))
    # BEGIN IMMEDIATE on SQLite, the chain locks on PostgreSQL; one read of the subjects with
    # their records, locks, valid signatures and chain heads (store/_save_read.py); the record
    # INSERT ... RETURNING; the audit INSERT: not one more statement per record
    assert len(few) == len(many) == 4, many
    assert len(store.records(form_id="ae")) == 2 + 4 + 40
    assert store.audit_count() == events + 4 + 40  # one event per record


def test_batch_edit_runs_the_same_statements_for_any_size(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _two_subjects(open_study, db_url)
    store.save_records(_ae(1, 44, AE), actor="a")
    worse = AE | {"aetoxgr": 2}
    few = _save_statements(store, _ae(1, 4, worse, version=1), reason="graded again")
    many = _save_statements(store, _ae(3, 40, worse, version=1), reason="graded again")
    # the same, with one read of the edited records' derived scores, discrepancies and
    # verification marks (store/_save_read.py), and one guarded UPDATE instead of the INSERT
    assert len(few) == len(many) == 5, many
    edited = [r for r in store.records(form_id="ae") if r.version == 2]
    assert len(edited) == 44
    assert {r.values["aetoxgr"] for r in edited} == {2}


def test_single_save_statements(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, "lenalidomide-cle-open-label")
    store.add_subject("B1", arm="lenalidomide", site="site01", actor="a")
    store.save_record("B1", "week_6", "ae", AE, actor="a")
    with _statements(store) as seen:
        store.save_record("B1", "week_6", "ae", AE, actor="a", instance=2)
    # BEGIN IMMEDIATE (SQLite) or the subject's chain lock (PostgreSQL); one read of the
    # subject, its records, locks, valid signatures and chain head; INSERT; audit INSERT
    assert len(seen) == 4, seen
    assert [s.lstrip().split()[0].upper() for s in seen[1:]] == ["SELECT", "INSERT", "INSERT"]


def test_a_large_batch_takes_its_ids_first(open_study: OpenStudy, db_url: str) -> None:
    """Over 50 new rows, the ids are taken in one query (PostgreSQL's sequence, or one past
    SQLite's largest) and the rows inserted without RETURNING (store/_batch.py)."""
    store = _two_subjects(open_study, db_url)
    seen = _save_statements(store, _ae(1, 60, AE))
    assert len(seen) == 5, seen
    assert len(store.records(form_id="ae")) == 60


def test_sqlite_gives_a_large_batch_the_ids_returning_gave(
    open_study: OpenStudy, tmp_path: Path
) -> None:
    """The ids a large batch sets on SQLite are those SQLite itself gives the same rows inserted
    in batches of at most 50 with RETURNING: each record keeps its id, in one store and the
    other (two records saved first, so the ids do not start at 1)."""
    ids: list[dict[tuple[int, int], int]] = []
    for name, sizes in (("one-batch", [60]), ("small-batches", [30, 30])):
        store = _two_subjects(open_study, f"sqlite:///{tmp_path / name}.db")
        store.save_records(_ae(100, 2, AE), actor="a")
        first = 1
        for size in sizes:
            store.save_records(_ae(first, size, AE), actor="a")
            first += size // 2
        with closing(sqlite3.connect(tmp_path / f"{name}.db")) as db:
            rows = db.execute("SELECT subject_id, instance, id FROM form_record").fetchall()
        ids.append({(subject, instance): pk for subject, instance, pk in rows})
    assert len(ids[0]) == 62 and ids[0] == ids[1]
    assert sorted(ids[0].values()) == list(range(1, 63))


def test_a_save_to_a_signed_subject_reads_its_signatures(
    open_study: OpenStudy, db_url: str
) -> None:
    """The one read finds the valid signatures: a save to an unsigned subject reads nothing
    more, and one to a signed subject reads its signatures, voids them and audits the void."""
    store = _two_subjects(open_study, db_url)
    store.save_records(_ae(1, 2, AE), actor="a")
    password = "investigator passphrase"
    with open_accounts(db_url, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)) as acc:
        acc.add_user("inv", role="investigator", sites=["site01"], password=password, actor="a")
        store.sign("B2", meaning="review", signer="inv", password=password, accounts=acc)
    plain = _save_statements(store, [RecordInput("B1", "week_6", "ae", AE, 5)])
    signed = _save_statements(store, [RecordInput("B2", "week_6", "ae", AE, 5)])
    assert len(plain) == 4, plain
    assert len(signed) > 4, signed
    assert any("FROM signature" in s for s in signed[2:]), signed
    voids = [e for e in audit_events(db_url, entity_prefix="lenalidomide-cle-open-label/B2")
             if e["entity_type"] == "signature"]  # fmt: skip
    assert [e["action"] for e in voids] == ["sign", "void"]
