"""Run the packaged Alembic migrations programmatically, safely from many threads and processes.

Alembic's ``command.upgrade`` is not thread-safe: it installs module-level proxies
(``alembic.context`` and the ``env.py`` globals) for the duration of the run, so two threads that
open a store at the same moment corrupt each other's environment (a ``KeyError: 'config'`` seen in
CI). Three guards, cheapest first:

1. a database already at head is recognised with a read-only ``MigrationContext`` (no proxies),
   which is the common case for every open after the first;
2. one process-wide lock serialises the Alembic runs (and snapshot applications) of this process;
3. on PostgreSQL a transaction-scoped advisory lock serialises migrations across processes (on
   SQLite the ``BEGIN IMMEDIATE`` of the engine already does).

A brand-new SQLite database is not migrated but made from the schema snapshot
(``migrations/sqlite_head.sql``, :mod:`clestudy.store._sqlite_snapshot`), generated from the
migrations: one transaction of some 40 statements instead of Alembic loading 10 scripts and
compiling their DDL (about 0.1 s of CPU). Only when the dialect is SQLite, the snapshot was made
at the migrations' head, and ``sqlite_master`` holds no entry at all, checked inside the same
``BEGIN IMMEDIATE`` transaction (under guard 2) that writes the schema: of two processes creating
the same file at once, the second waits for the first's lock, then finds the file at head and
does nothing. Any other database (an older revision, another program's SQLite file, PostgreSQL)
is migrated by Alembic as before.

The migrations' heads are read from the ``ScriptDirectory`` once per process (:func:`_heads`):
loading the scripts is most of the cost of the at-head check.
"""

from __future__ import annotations

import functools
import threading

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from clestudy.store._sqlite_snapshot import apply_snapshot, load_snapshot

__all__ = ["MIGRATION_LOCK_KEY", "schema_is_current", "upgrade_to_head"]

#: The advisory-lock key taken while migrating a PostgreSQL database ("clem" in ASCII).
MIGRATION_LOCK_KEY = 0x636C656D

_ALEMBIC_LOCK = threading.Lock()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "clestudy.store:migrations")
    return config


@functools.cache
def _heads() -> frozenset[str]:
    """The head revisions of the packaged migrations (their scripts loaded once per process)."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def _at_head(connection: Connection) -> bool:
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == _heads()


def _made_from_snapshot(connection: Connection) -> bool:
    """Make the schema from the snapshot if ``connection`` (in its write transaction) is on an
    empty SQLite database and the snapshot is at the migrations' head; whether it did."""
    if connection.dialect.name != "sqlite":
        return False
    snapshot = load_snapshot()
    if _heads() != {snapshot.revision}:
        return False  # a migration added without regenerating the snapshot: Alembic it is
    if connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1").first() is not None:
        return False  # not a brand-new database (``sqlite_master``: ``sqlite_schema`` < 3.33)
    apply_snapshot(connection, snapshot)
    return True


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration (read-only: nothing is created)."""
    with engine.connect() as connection:
        return _at_head(connection)


def upgrade_to_head(engine: Engine, *, use_snapshot: bool = True) -> None:
    """Bring the database schema to the newest migration (idempotent, thread- and process-safe).

    A brand-new SQLite database is made from the schema snapshot when it is at the migrations'
    head; ``use_snapshot=False`` runs the migrations anyway (the tests that check them).
    """
    with engine.connect() as connection:
        if _at_head(connection):
            return
    with _ALEMBIC_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        if use_snapshot and _made_from_snapshot(connection):
            return
        if _at_head(connection):  # another process migrated while we waited
            return
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
