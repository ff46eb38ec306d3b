"""Database engines for SQLite (default) and PostgreSQL, with the settings the audit trail needs.

SQLite: WAL, ``busy_timeout``, foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction so a
read-then-write (read the chain head, append) waits for the lock instead of failing with "database
is locked" (web-and-security.md §5.2: 320/320 commits with ``BEGIN IMMEDIATE`` vs 59/320 with a
deferred ``BEGIN``). Python 3.11's sqlite3 module needs the event recipe below to stop issuing its
own ``BEGIN``.

PostgreSQL: a write transaction takes ``pg_advisory_xact_lock`` on each audit chain it appends to
(one chain per subject, see ``_chain.py``), so no chain forks (§5.3: 200/200 appends, 0 forks)
while writers to different subjects proceed in parallel.

Readers that must see one consistent state (``audit verify``, ``audit anchor``) use
:func:`snapshot_reader`: one ``REPEATABLE READ READ ONLY`` transaction on PostgreSQL, one deferred
transaction on SQLite (WAL gives it a snapshot).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from clestudy.errors import ClestudyError, InputError

__all__ = ["AUDIT_LOCK_KEY", "READ_ONLY_OPTION", "is_postgres", "make_engine", "snapshot_reader"]

#: The advisory-lock key of the audit chain ("cles" in ASCII).
AUDIT_LOCK_KEY = 0x636C6573

#: Execution option of a connection that only reads (SQLite: a deferred ``BEGIN``).
READ_ONLY_OPTION = "clestudy_read_only"

#: How long a SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_postgres(engine: Engine | Connection) -> bool:
    """True for a PostgreSQL engine or connection."""
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
        # a reader (audit verify) takes a deferred BEGIN: in WAL mode its first read fixes one
        # snapshot for the whole transaction, and it never blocks a writer
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def snapshot_reader(engine: Engine) -> Iterator[Connection]:
    """A connection in one read-only transaction that sees a single snapshot of the database."""
    with engine.connect() as conn:
        if is_postgres(engine):
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            conn = conn.execution_options(**{READ_ONLY_OPTION: True})
        with conn.begin():
            yield conn
