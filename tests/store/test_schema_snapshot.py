"""A brand-new SQLite database is made from the schema snapshot, which equals the migrations.

``tests/store/test_migrations.py`` checks that the migrations build exactly the models; these
tests check that the snapshot builds exactly what the migrations build, and when it is used.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory

import clestudy.store._migrate as migrate
from clestudy.store import make_engine, open_store
from clestudy.store._accounts import UNKNOWN_USER_SALT
from clestudy.store._sqlite_snapshot import (
    REGENERATE,
    apply_snapshot,
    load_snapshot,
    parse_snapshot,
)

STUDY = "pediatric-cle-chart-review"
HINT = f"the schema snapshot is stale: regenerate it with `{REGENERATE}`"


def _describe(path: Path) -> dict[str, Any]:
    """Everything a schema is made of in the SQLite file ``path``, and its rows."""
    connection = sqlite3.connect(path)
    try:
        entries = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
        ).fetchall()
        tables = [name for kind, name, _table, _sql in entries if kind == "table"]
        pragmas = {
            (table, pragma): connection.execute(f'PRAGMA {pragma}("{table}")').fetchall()
            for table in tables
            for pragma in ("table_xinfo", "index_list", "foreign_key_list")
        }
        rows = {
            table: connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
            for table in tables
        }
        settings = {
            pragma: connection.execute(f"PRAGMA {pragma}").fetchone()
            for pragma in ("journal_mode", "user_version", "application_id", "auto_vacuum")
        }
    finally:
        connection.close()
    return {"entries": entries, "pragmas": pragmas, "rows": rows, "settings": settings}


def _new_database(path: Path, *, use_snapshot: bool) -> None:
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade_to_head(engine, use_snapshot=use_snapshot)
    finally:
        engine.dispose()


def _from_snapshot(path: Path) -> None:
    """A new file made from the packaged snapshot, whatever its revision."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            apply_snapshot(connection, load_snapshot())
    finally:
        engine.dispose()


def _salt(description: dict[str, Any]) -> str:
    (row,) = description["rows"].pop("account_setting")
    assert row[0] == UNKNOWN_USER_SALT
    return str(row[1])


def test_the_snapshot_builds_exactly_what_the_migrations_build(tmp_path: Path) -> None:
    _new_database(tmp_path / "migrated.db", use_snapshot=False)
    _from_snapshot(tmp_path / "snapshot.db")
    _from_snapshot(tmp_path / "snapshot2.db")
    migrated = _describe(tmp_path / "migrated.db")
    made = _describe(tmp_path / "snapshot.db")
    salts = {_salt(migrated), _salt(made), _salt(_describe(tmp_path / "snapshot2.db"))}
    assert made["entries"] == migrated["entries"], HINT
    assert made["pragmas"] == migrated["pragmas"], HINT
    assert made["rows"] == migrated["rows"], HINT
    assert made["settings"] == migrated["settings"], HINT
    # the unknown-user salt is random per database, as migration 0010 makes it: never copied
    assert len(salts) == 3 and all(len(salt) == 32 and int(salt, 16) >= 0 for salt in salts)


def test_the_packaged_snapshot_is_what_the_script_writes_now() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "schema_snapshot.py"
    spec = importlib.util.spec_from_file_location("schema_snapshot", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SNAPSHOT.read_text() == module.migrated_snapshot(), HINT


def test_the_snapshot_is_at_the_migrations_head() -> None:
    heads = ScriptDirectory.from_config(migrate._config()).get_heads()
    assert heads == [load_snapshot().revision], HINT


def test_a_snapshot_without_a_revision_or_cut_short_is_refused() -> None:
    with pytest.raises(ValueError, match=r"schema snapshot: no '-- revision:' line; python scr"):
        parse_snapshot("CREATE TABLE t (x);\n")
    with pytest.raises(ValueError, match=r"ends inside a statement \('CREATE TABLE t \(x\)'\)"):
        parse_snapshot("-- revision: 0010\nCREATE TABLE t (x)\n")


def test_a_trigger_body_stays_one_statement() -> None:
    text = (
        "-- revision: r1\n\nCREATE TRIGGER t BEFORE DELETE ON a\nBEGIN SELECT RAISE(ABORT, 'no');"
        " END;\nINSERT INTO a VALUES (';');\n"
    )
    snapshot = parse_snapshot(text)
    assert snapshot.revision == "r1"
    assert snapshot.statements == (
        "CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN SELECT RAISE(ABORT, 'no'); END",
        "INSERT INTO a VALUES (';')",
    )


def _no_alembic(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("command.upgrade ran")


def _count_snapshots(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The list to which each application of the snapshot is appended (and still applied)."""
    applied: list[object] = []

    def counted(*args: Any) -> None:
        applied.append(args)
        apply_snapshot(*args)

    monkeypatch.setattr(migrate, "apply_snapshot", counted)
    return applied


def _in_two_threads(work: Callable[[], object]) -> list[BaseException]:
    """Run ``work`` in two threads at once; what either raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported to the test, with the other thread's
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_a_new_file_is_made_from_the_snapshot_without_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "upgrade", _no_alembic)
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with open_store(url, STUDY) as store:
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    assert migrate.schema_is_current(make_engine(url))


def test_an_older_database_is_still_migrated_by_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            config = migrate._config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
    finally:
        engine.dispose()
    applied = _count_snapshots(monkeypatch)
    with open_store(f"sqlite:///{path}", STUDY):
        pass
    assert applied == []
    assert _describe(path)["rows"]["alembic_version"] == [(load_snapshot().revision,)], HINT


def test_another_programs_sqlite_file_is_not_made_from_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE VIEW theirs AS SELECT 1 AS x")
    connection.close()
    applied = _count_snapshots(monkeypatch)
    with open_store(f"sqlite:///{path}", STUDY):  # migrated by Alembic, as before
        pass
    assert applied == []
    entries = _describe(path)["entries"]
    assert entries[0] == ("view", "theirs", "theirs", "CREATE VIEW theirs AS SELECT 1 AS x")


def test_a_stale_snapshot_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration added without regenerating the snapshot: Alembic runs, the snapshot waits."""
    monkeypatch.setattr(migrate, "_heads", lambda: frozenset({"0011_future"}))
    applied = _count_snapshots(monkeypatch)
    upgraded: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda _config, revision: upgraded.append(revision))
    _new_database(tmp_path / "new.db", use_snapshot=True)
    assert (applied, upgraded) == ([], ["head"])


def test_two_threads_creating_one_new_file_make_its_schema_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "upgrade", _no_alembic)
    applied = _count_snapshots(monkeypatch)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    start = threading.Barrier(2, timeout=30)

    def create() -> None:
        start.wait()
        open_store(url, STUDY).close()

    assert _in_two_threads(create) == []
    assert len(applied) == 1
    assert _describe(tmp_path / "shared.db")["rows"]["study"][0][1] == STUDY


class _BothCheckedFirst:
    """In place of the process lock: lets two threads in together, once both have come (each
    having found the file not at head, outside any transaction)."""

    def __init__(self) -> None:
        self._barrier = threading.Barrier(2, timeout=30)  # a broken run must never hang

    def __enter__(self) -> None:
        self._barrier.wait()

    def __exit__(self, *_exc: object) -> None:
        return None


def test_two_processes_creating_one_new_file_make_its_schema_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As two processes would: no shared process lock, and both find the file not at head
    before either writes; the second's ``BEGIN IMMEDIATE`` waits for the first's commit, then
    it sees the schema and does nothing."""
    monkeypatch.setattr(migrate, "_ALEMBIC_LOCK", _BothCheckedFirst())
    monkeypatch.setattr(command, "upgrade", _no_alembic)
    at_head = migrate._at_head
    checks: list[bool] = []

    def counted_at_head(connection: Any) -> bool:
        checks.append(at_head(connection))
        return checks[-1]

    monkeypatch.setattr(migrate, "_at_head", counted_at_head)
    applied = _count_snapshots(monkeypatch)
    path = tmp_path / "shared.db"
    # each thread an engine of its own, as a process has
    assert _in_two_threads(lambda: _new_database(path, use_snapshot=True)) == []
    assert (len(applied), checks) == (1, [False, False, True])
    assert _describe(path)["rows"]["alembic_version"] == [(load_snapshot().revision,)]


def test_two_real_processes_creating_one_new_file_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    program = (
        "import sys; from clestudy.store._open import upgrade_database; "
        "upgrade_database(sys.argv[1])"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", program, f"sqlite:///{path}"],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(process.communicate(timeout=120)[1], process.returncode) for process in processes]
    assert results == [("", 0), ("", 0)]
    described = _describe(path)
    assert described["rows"]["alembic_version"] == [(load_snapshot().revision,)]
    assert len(described["rows"]["account_setting"]) == 1
