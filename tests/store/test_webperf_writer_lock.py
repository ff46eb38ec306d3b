"""SQLite's in-process writer lock: threads of one process queue on a Python lock per database
file (not in SQLite's sleeping busy handler), and every way a transaction ends releases it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from clestudy.store import Store, make_engine
from clestudy.store._engine import (
    _HELD_LOCK,
    _writer_lock,
    is_postgres,
    single_read,
)

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"


def _table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))


def test_commit_and_rollback_release_the_lock(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    lock = _writer_lock(sqlite_url.removeprefix("sqlite:///"))
    _table(engine)
    assert not lock.locked()
    with engine.connect() as conn:
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert lock.locked() and conn.info[_HELD_LOCK] is lock
        conn.rollback()
        assert not lock.locked() and _HELD_LOCK not in conn.info
    with pytest.raises(ZeroDivisionError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        raise ZeroDivisionError  # the block's exception rolls back and releases the lock
    assert not lock.locked()
    with engine.connect() as conn:
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert not lock.locked()  # closed inside its transaction: the pool's reset released it
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    engine.dispose()


def test_a_read_only_connection_takes_no_lock(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    lock = _writer_lock(sqlite_url.removeprefix("sqlite:///"))
    _table(engine)
    with single_read(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        assert not lock.locked()
    engine.dispose()


def test_two_engines_on_one_file_share_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    first, second = make_engine(f"sqlite:///{path}"), make_engine(f"sqlite:////{path}")
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    _table(first)
    _table(other)
    with first.begin():
        assert _writer_lock(str(path)).locked()
        assert _writer_lock(str(tmp_path / "." / "study.db")).locked()  # one lock per file
        with other.begin():  # another file: its own lock, so this does not wait
            assert _writer_lock(str(tmp_path / "other.db")) is not _writer_lock(str(path))
    waited = threading.Event()

    def second_writer() -> None:
        with second.begin():
            waited.set()

    with first.begin():
        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not waited.wait(0.3)  # the second engine's writer queues behind the first
    thread.join(timeout=10)
    assert waited.is_set()
    for engine in (first, second, other):
        engine.dispose()


def test_concurrent_saves_lose_no_update(open_study: OpenStudy, sqlite_url: str) -> None:
    setup = open_study(sqlite_url, STUDY)
    subjects = [f"S{n:02d}" for n in range(8)]
    for subject in subjects:
        setup.add_subject(subject, arm="lenalidomide", site="site01", actor="c")
    failures: list[BaseException] = []

    def writer(subject: str, own_engine: bool) -> None:
        try:
            # half share the setup's engine (the web server's case), half use one of their own
            store = open_study(sqlite_url, STUDY) if own_engine else setup
            for n in range(3):
                values = {"aeterm": f"rash {n}", "aestdat": "2026-01-05", "aetoxgr": 1,
                          "aeser": False}  # fmt: skip
                store.save_record(subject, "week_6", "ae", values, actor="c", instance="next")
        except BaseException as exc:  # examined below, none lost in the thread
            failures.append(exc)

    threads = [
        threading.Thread(target=writer, args=(s, n % 2 == 0), daemon=True)
        for n, s in enumerate(subjects)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    saved = {(r.subject_id, r.instance) for r in setup.records(form_id="ae")}
    assert saved == {(s, n) for s in subjects for n in (1, 2, 3)}
    assert not _writer_lock(sqlite_url.removeprefix("sqlite:///")).locked()


def test_a_single_read_runs_without_begin_and_never_waits_for_a_writer(db_url: str) -> None:
    engine = make_engine(db_url)
    _table(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.begin() as writer:
        writer.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock, uncommitted
        with single_read(engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    with single_read(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    if not is_postgres(engine):  # PostgreSQL's BEGIN is the driver's: autocommit has none
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    engine.dispose()


def test_a_forked_child_finds_the_writer_locks_free(sqlite_url: str) -> None:
    lock = _writer_lock(sqlite_url.removeprefix("sqlite:///"))
    lock.acquire()  # as if a thread of the parent were writing when it forked
    try:
        pid = os.fork()
        if pid == 0:  # the child: its copy of the lock was released by the fork hook
            os._exit(0 if not lock.locked() else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert lock.locked()  # the parent's is still held
    finally:
        lock.release()
