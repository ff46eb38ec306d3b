"""Database engines for SQLite (default) and PostgreSQL, with the settings the audit trail needs.

SQLite: WAL, ``busy_timeout``, foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction so a
read-then-write (read the chain head, append) waits for the lock instead of failing with "database
is locked" (web-and-security.md §5.2: 320/320 commits with ``BEGIN IMMEDIATE`` vs 59/320 with a
deferred ``BEGIN``). Python 3.11's sqlite3 module needs the event recipe below to stop issuing its
own ``BEGIN``.

PostgreSQL: every write transaction first takes ``pg_advisory_xact_lock`` on one fixed key, so the
hash chain never forks (§5.3: 200/200 appends, 0 forks).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from clestudy.errors import ClestudyError, InputError

__all__ = ["AUDIT_LOCK_KEY", "is_postgres", "make_engine"]

#: The advisory-lock key of the audit chain ("cles" in ASCII).
AUDIT_LOCK_KEY = 0x636C6573

#: How long a SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_postgres(engine: Engine) -> bool:
    """True for a PostgreSQL engine."""
    return engine.dialect.name == "postgresql"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://...``).

    Raises
    ------
    InputError
        For a URL that is not a database URL clestudy supports.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"database URL {url!r} is not a valid URL") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InputError(
            f"database URL {url!r}: unsupported database '{backend}' (use sqlite:/// or "
            "postgresql+psycopg://)"
        )
    try:
        engine = create_engine(parsed, pool_pre_ping=backend == "postgresql")
    except (NoSuchModuleError, ImportError) as exc:
        raise ClestudyError(
            f"database URL {url!r}: driver not installed ({exc}); install clestudy[postgres]"
        ) from None
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _enable_wal(dbapi_conn: Any) -> None:
    """Switch the file to WAL (persistent, so once per database), retrying while it is busy.

    The switch needs an exclusive lock and SQLite does not call the busy handler for it: a second
    connection opening a brand-new file while the first migrates it gets "database is locked" at
    once. Retry with a short sleep for as long as ``busy_timeout`` would have waited.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                dbapi_conn.execute("PRAGMA journal_mode=WAL")  # in-memory databases stay "memory"
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # stop sqlite3's own implicit BEGIN
        dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(dbapi_conn)
        for pragma in ("foreign_keys=ON", "synchronous=NORMAL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
