"""Database engines for SQLite (default) and PostgreSQL, with the settings the audit trail needs.

SQLite: WAL, ``busy_timeout``, foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction so a
read-then-write (read the chain head, append) waits for the lock instead of failing with "database
is locked" (web-and-security.md §5.2: 320/320 commits with ``BEGIN IMMEDIATE`` vs 59/320 with a
deferred ``BEGIN``). Python 3.11's sqlite3 module needs the event recipe below to stop issuing its
own ``BEGIN``.

PostgreSQL: a write transaction takes ``pg_advisory_xact_lock`` on each audit chain it appends to
(one chain per subject, see ``_chain.py``), so no chain forks (§5.3: 200/200 appends, 0 forks)
while writers to different subjects proceed in parallel.

SQLite allows one writer at a time, and a writer that finds the file locked sleeps in SQLite's busy
handler (a backoff of up to 100 ms a try) although a save holds the lock for a few milliseconds.
So the threads of one process queue on a Python lock per database file (:func:`_writer_lock`),
taken before ``BEGIN IMMEDIATE`` and released once the transaction has committed or rolled back:
a writer starts as soon as the previous one ends. ``busy_timeout`` still covers other processes;
a forked child starts with every lock free.

A read that needs no transaction (the web layer's token check and subject read, one statement
each) uses :func:`single_read`: no ``BEGIN`` and no ``ROLLBACK`` (autocommit on PostgreSQL, two
round trips fewer; on SQLite each statement's own read transaction).

Readers that must see one consistent state (``audit verify``, ``audit anchor``) use
:func:`snapshot_reader`: one ``REPEATABLE READ READ ONLY`` transaction on PostgreSQL, one deferred
transaction on SQLite (WAL gives it a snapshot).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session

from clestudy.errors import ClestudyError, InputError
from clestudy.store._build_aside import is_being_built

__all__ = [
    "AUDIT_LOCK_KEY",
    "READ_ONLY_OPTION",
    "execute_prebuilt",
    "insert_through_driver",
    "insert_tuples_through_driver",
    "is_postgres",
    "make_engine",
    "restore_page_cache",
    "single_read",
    "snapshot_reader",
    "widen_page_cache",
]

#: The advisory-lock key of the audit chain ("cles" in ASCII).
AUDIT_LOCK_KEY = 0x636C6573

#: Execution option of a connection that only reads (SQLite: a deferred ``BEGIN``).
READ_ONLY_OPTION = "clestudy_read_only"

#: Execution option of a SQLite connection whose statements run without a ``BEGIN`` (each one in
#: its own implicit transaction: :func:`single_read`).
_NO_TRANSACTION_OPTION = "clestudy_no_transaction"

#: The page cache of a SQLite bulk write (an import's transaction), in KiB: enough to keep the
#: index pages of a 300,000-record import in memory (before migration 0011 the audit table's
#: unique ``hash`` and ``prev_hash`` indexes, random keys, made each insert touch a random leaf of
#: each). SQLite allocates it as pages are used, so a small import does not pay for it.
BULK_PAGE_CACHE_KIB = 128 * 1024

#: The key in a session's ``info`` of the page-cache size to restore (:func:`widen_page_cache`).
_CACHE_TO_RESTORE = "clestudy_cache_to_restore"

#: How long a SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Connection pools: enough connections that the web server's threads (40 in anyio's pool) never
#: wait for one; PostgreSQL's are real server processes, so fewer.
SQLITE_POOL = {"pool_size": 40, "max_overflow": 10}
POSTGRES_POOL = {"pool_size": 15, "max_overflow": 5}

#: The key in a pooled connection's ``info`` of the writer lock its transaction holds.
_HELD_LOCK = "clestudy_writer_lock"

_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(path: str) -> threading.Lock:
    """The one in-process writer lock of the SQLite file ``path`` (shared by every engine)."""
    key = os.path.realpath(path)
    with _writer_locks_guard:
        return _writer_locks.setdefault(key, threading.Lock())


def _release_writer_locks_in_child() -> None:
    """A forked child has only the forking thread: a writer lock another thread of the parent
    held would stay taken for ever in the child, so release them all."""
    global _writer_locks_guard
    _writer_locks_guard = threading.Lock()
    for lock in _writer_locks.values():
        if lock.locked():
            lock.release()


os.register_at_fork(after_in_child=_release_writer_locks_in_child)


def _sqlite_file(database: str | None) -> str | None:
    """The file of a SQLite URL's database, or ``None`` for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


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
    file = _sqlite_file(parsed.database) if backend == "sqlite" else None
    pool: dict[str, int] = (
        POSTGRES_POOL if backend == "postgresql" else SQLITE_POOL if file is not None else {}
    )
    try:
        engine = create_engine(parsed, **pool)
    except (NoSuchModuleError, ImportError) as exc:
        raise ClestudyError(
            f"database URL {url!r}: driver not installed ({exc}); install clestudy[postgres]"
        ) from None
    if backend == "sqlite":
        _configure_sqlite(
            engine, None if file is None else _writer_lock(file),
            building=file is not None and is_being_built(file),
        )  # fmt: skip
    else:
        _ping_idle_connections(engine)
    return engine


#: Seconds a pooled PostgreSQL connection may sit unused before its next checkout pings the
#: server first (see :func:`_ping_idle_connections`).
PING_AFTER_IDLE_S = 1.0
#: The key in a pooled connection's ``info`` of the monotonic time it was last checked in.
_LAST_USED = "clestudy_last_used"


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a PostgreSQL connection before it is used only when it has sat idle in the pool for
    :data:`PING_AFTER_IDLE_S` or longer.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip for every
    request (a web save checks out two connections, the token's and the save's). A connection
    in constant use needs none: a server restart or an idle timeout strikes the connections
    that sat unused, and one that breaks while in use fails its statement, and SQLAlchemy then
    discards every connection of the pool made before. So this is SQLAlchemy's documented
    custom pessimistic check (a ``checkout`` listener raising ``DisconnectionError``, on which
    the pool replaces the connection and tries again), with the dialect's own ping, for idle
    connections only.
    """

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is None or time.monotonic() - last < PING_AFTER_IDLE_S:
            return  # a new connection, or one in constant use
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"an idle pooled connection is gone: {exc}") from exc


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


def _configure_sqlite(
    engine: Engine, writer_lock: threading.Lock | None, *, building: bool = False
) -> None:
    """WAL, ``BEGIN IMMEDIATE`` writers and the pragmas of every connection; ``building``: a new
    database built aside (:mod:`clestudy.store._build_aside`), kept in rollback-journal mode
    without a sync per commit until it is synced and given its name."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # stop sqlite3's own implicit BEGIN
        dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not building:
            _enable_wal(dbapi_conn)
        for pragma in ("foreign_keys=ON", "synchronous=OFF" if building else "synchronous=NORMAL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # a reader (audit verify) takes a deferred BEGIN: in WAL mode its first read fixes one
        # snapshot for the whole transaction, and it never blocks a writer
        options = conn.get_execution_options()
        if options.get(_NO_TRANSACTION_OPTION, False):
            return  # its rollback is then a no-op: sqlite3 sees no transaction open
        read_only = options.get(READ_ONLY_OPTION, False)
        if read_only or writer_lock is None:
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
            return
        # wait no longer than busy_timeout would have: a thread that already writes on another
        # connection to the file then fails as it did before, instead of waiting on itself
        acquired = writer_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if acquired:
                writer_lock.release()
            raise
        if acquired:
            conn.info[_HELD_LOCK] = writer_lock

    if writer_lock is not None:
        _release_after_transactions(engine)


def _release_writer_lock(connection: Any) -> None:
    """Release the writer lock ``connection`` (a pooled connection or its record) holds, if any."""
    try:
        info = connection.info
    except NotImplementedError:  # the ad-hoc connection of the dialect's first connect
        return
    held = info.pop(_HELD_LOCK, None)
    if held is not None:
        held.release()


def _release_after_transactions(engine: Engine) -> None:
    """Release a connection's writer lock once its transaction has ended.

    The engine's ``commit`` and ``rollback`` events run *before* the database commits, so the
    engine's dialect (its own instance) is wrapped instead; the pool's ``checkin`` and
    ``invalidate`` events release a lock a connection still holds when it leaves use.
    """
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            _release_writer_lock(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            _release_writer_lock(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        _release_writer_lock(record)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_conn: Any, record: Any, _exc: Any) -> None:
        _release_writer_lock(record)


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


@contextmanager
def single_read(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that need no transaction of their own (one statement each).

    Each statement runs in a transaction of its own, so two statements may see different states:
    on PostgreSQL in autocommit (no ``BEGIN`` before the statement and no ``ROLLBACK`` after it, two
    round trips fewer); on SQLite without a ``BEGIN`` (the statement's implicit read transaction,
    which in WAL mode never waits for a writer).
    """
    with engine.connect() as conn:
        if is_postgres(engine):
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            yield conn.execution_options(**{_NO_TRANSACTION_OPTION: True})


def widen_page_cache(session: Session) -> None:
    """Give a SQLite write transaction a page cache of :data:`BULK_PAGE_CACHE_KIB`, until
    :func:`restore_page_cache` (which :func:`~clestudy.store._chain.write_session` calls before
    it commits or rolls back). Does nothing on PostgreSQL.

    With SQLite's default cache (2 MiB), a large import's transaction spills dirty pages to the
    WAL mid-transaction and reads them back when it touches them again; before migration 0011,
    the audit table's unique ``hash`` and ``prev_hash`` indexes (random keys, 24 MiB each at
    300,000 events) made that happen on nearly every insert, so the insert grew faster than the
    number of events. The cache changes no stored byte.
    """
    if is_postgres(session.get_bind()) or _CACHE_TO_RESTORE in session.info:
        return
    conn = session.connection()
    size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    session.info[_CACHE_TO_RESTORE] = (conn, int(size))
    conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_PAGE_CACHE_KIB}")


def restore_page_cache(session: Session) -> None:
    """Set the page cache back to what it was before :func:`widen_page_cache`, if it was widened
    (the connection returns to the pool with its usual size)."""
    widened: tuple[Connection, int] | None = session.info.pop(_CACHE_TO_RESTORE, None)
    if widened is not None:
        # the connection itself, not session.connection(): a failed ORM flush leaves the
        # session unable to hand it out until the rollback, and the size must be set back first
        conn, size = widened
        conn.exec_driver_sql(f"PRAGMA cache_size={size}")


def insert_through_driver(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """:func:`insert_tuples_through_driver` of rows given as dicts (all with the keys of the
    first)."""
    if not rows:
        return
    columns = tuple(rows[0])
    insert_tuples_through_driver(
        conn, table, columns, [tuple(row[c] for c in columns) for row in rows]
    )


def insert_tuples_through_driver(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (one tuple of ``columns``' values each) into ``table`` with one
    ``executemany`` of the SQLite driver, without SQLAlchemy's per-row parameter processing.

    For rows of text, integers, booleans and nulls only, which the driver stores as SQLAlchemy
    would bind them (a boolean as 0 or 1): a large import's audit events and new records, made
    as tuples in the first place (no dict per row).
    """
    if not rows:
        return
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


#: ``(id(statement), dialect name) -> (SQL text, bound parameter names in order (``None``: a
#: named paramstyle), the statement's own values, the names a caller gives)`` of the prebuilt
#: statements :func:`execute_prebuilt` has run.
_PREBUILT: dict[
    tuple[int, str], tuple[str, tuple[str, ...] | None, dict[str, Any], frozenset[str]]
] = {}


def execute_prebuilt(conn: Connection, statement: Any, params: dict[str, Any]) -> Any:
    """Run ``statement``, one built once at import (a module constant, no expanding ``IN``, no
    bind or result processing needed: text, integers, booleans, nulls), with ``params`` (the
    same names on every call) as its SQL text, compiled once per dialect, through the driver.

    SQLAlchemy caches a statement's SQL, but finds it by the statement's cache key, computed
    again on every execution by walking the whole statement: for the save's one read (a ``UNION
    ALL`` of five ``SELECT``), a large part of the read's time. The result's rows are the
    driver's, named by the statement's column labels, with no result processing: a boolean
    column is ``0`` or ``1`` on SQLite.
    """
    key = (id(statement), conn.dialect.name)
    found = _PREBUILT.get(key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect)
        order = tuple(compiled.positiontup or ()) if conn.dialect.positional else None
        found = (compiled.string, order, compiled.construct_params(params), frozenset(params))
        _PREBUILT[key] = found
    sql, order, values, given = found
    if params.keys() != given:
        raise ValueError(f"parameters {sorted(params)}; the statement takes {sorted(given)}")
    values = values | params
    if order is None:
        return conn.exec_driver_sql(sql, values)
    return conn.exec_driver_sql(sql, tuple(values[name] for name in order))
