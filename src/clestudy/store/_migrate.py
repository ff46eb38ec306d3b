"""Run the packaged Alembic migrations programmatically, safely from many threads and processes.

Alembic's ``command.upgrade`` is not thread-safe: it installs module-level proxies
(``alembic.context`` and the ``env.py`` globals) for the duration of the run, so two threads that
open a store at the same moment corrupt each other's environment (a ``KeyError: 'config'`` seen in
CI). Three guards, cheapest first:

1. a database already at head is recognised with a read-only ``MigrationContext`` (no proxies),
   which is the common case for every open after the first;
2. one process-wide lock serialises the Alembic runs of this process;
3. on PostgreSQL a transaction-scoped advisory lock serialises migrations across processes (on
   SQLite the ``BEGIN IMMEDIATE`` of the engine already does).
"""

from __future__ import annotations

import threading

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

__all__ = ["MIGRATION_LOCK_KEY", "schema_is_current", "upgrade_to_head"]

#: The advisory-lock key taken while migrating a PostgreSQL database ("clem" in ASCII).
MIGRATION_LOCK_KEY = 0x636C656D

_ALEMBIC_LOCK = threading.Lock()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "clestudy.store:migrations")
    return config


def _at_head(connection: Connection, config: Config) -> bool:
    heads = set(ScriptDirectory.from_config(config).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration (read-only: nothing is created)."""
    with engine.connect() as connection:
        return _at_head(connection, _config())


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database schema to the newest migration (idempotent, thread- and process-safe)."""
    config = _config()
    with engine.connect() as connection:
        if _at_head(connection, config):
            return
    with _ALEMBIC_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        if _at_head(connection, config):  # another process migrated while we waited
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
