"""The SQLite schema snapshot: a brand-new database made in one transaction, not by 10 migrations.

``migrations/sqlite_head.sql`` holds what the Alembic migrations leave in an empty SQLite file:
the SQL of every ``sqlite_schema`` entry in creation (rowid) order, exactly as SQLite stores it,
and the rows the migrations write (the ``alembic_version`` row, and the ``account_setting`` salt,
which is random per database and so is a parameter made anew for each database, as migration
0010 makes it). It is generated from the migrations by ``python scripts/schema_snapshot.py``
(:func:`render_snapshot`), never written by hand, and a test checks that a database made from it
equals one made by the migrations. :func:`~clestudy.store._migrate.upgrade_to_head` applies it
(:func:`apply_snapshot`) to an empty SQLite database when its revision is the migrations' head;
the migrations stay the only source of the schema, the snapshot a cached result of running them.
"""

from __future__ import annotations

import functools
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import Connection

__all__ = [
    "REGENERATE",
    "SNAPSHOT_FILE",
    "Snapshot",
    "apply_snapshot",
    "load_snapshot",
    "parse_snapshot",
    "render_snapshot",
]

#: The snapshot's file name in the ``clestudy.store.migrations`` folder (packaged).
SNAPSHOT_FILE = "sqlite_head.sql"

#: How to regenerate the snapshot (said in its header and in the tests' failure messages).
REGENERATE = "python scripts/schema_snapshot.py"

_REVISION_PREFIX = "-- revision: "

#: Rows the migrations write whose value is made anew for every database: ``(table, key column,
#: key) -> (value column, parameter name)``. The snapshot holds the parameter, not the value.
_PER_DATABASE = {("account_setting", "name", "unknown_user_salt"): ("value", "unknown_user_salt")}

#: The makers of those parameters' values (migration 0010: ``secrets.token_hex(16)``).
_PARAMETERS: dict[str, Callable[[], str]] = {"unknown_user_salt": lambda: secrets.token_hex(16)}


@dataclass(frozen=True)
class Snapshot:
    """A parsed schema snapshot: the revision it was made at and its statements, in order."""

    revision: str
    statements: tuple[str, ...]


def parse_snapshot(text: str) -> Snapshot:
    """The revision and the statements of a snapshot's ``text``.

    Raises
    ------
    ValueError
        When the text names no revision or ends inside a statement.
    """
    revision: str | None = None
    statements: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if not pending and (not line.strip() or line.startswith("--")):
            if line.startswith(_REVISION_PREFIX):
                revision = line.removeprefix(_REVISION_PREFIX).strip()
            continue
        pending.append(line)
        statement = "\n".join(pending)
        if sqlite3.complete_statement(statement):
            statements.append(statement.strip().removesuffix(";"))
            pending = []
    if revision is None:
        raise ValueError(f"schema snapshot: no '{_REVISION_PREFIX.strip()}' line; {REGENERATE}")
    if pending:
        raise ValueError(f"schema snapshot: ends inside a statement ({pending[0]!r}); {REGENERATE}")
    return Snapshot(revision, tuple(statements))


@functools.cache
def load_snapshot() -> Snapshot:
    """The packaged snapshot, read and parsed once per process."""
    text = resources.files("clestudy.store").joinpath("migrations", SNAPSHOT_FILE).read_text()
    return parse_snapshot(text)


def apply_snapshot(connection: Connection, snapshot: Snapshot) -> None:
    """Run ``snapshot``'s statements on ``connection`` (an empty SQLite database, in the caller's
    transaction), each per-database parameter given a new value."""
    values = {name: make() for name, make in _PARAMETERS.items()}
    # the driver's cursor on the same connection and transaction: SQLAlchemy's execution
    # machinery would double the time of these ~50 statements
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for statement in snapshot.statements:
            used = {name: value for name, value in values.items() if f":{name}" in statement}
            cursor.execute(statement, used)
    finally:
        cursor.close()


def render_snapshot(connection: sqlite3.Connection) -> str:
    """The snapshot text of the SQLite database on ``connection``, just migrated to head.

    Raises
    ------
    ValueError
        When the migrations wrote a row other than the ``alembic_version`` row and the
        per-database ones the snapshot knows (the account salt), or the database is not at a
        single revision.
    """
    (revision,) = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    entries = connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    lines = [
        "-- clestudy: the SQLite schema the Alembic migrations build on an empty database.",
        f"-- Generated from the migrations by `{REGENERATE}`; never edit by hand.",
        "-- Regenerate it after adding or changing a migration (a test fails until then).",
        f"{_REVISION_PREFIX}{revision}",
        "",
    ]
    for _kind, name, sql in entries:
        if name != "sqlite_sequence":  # SQLite's own, made with the first AUTOINCREMENT table
            lines.append(f"{sql};")
    lines.append("")
    for kind, name, _sql in entries:
        if kind == "table" and name != "sqlite_sequence":
            lines.extend(_rows(connection, name))
    return "\n".join(lines) + "\n"


def _rows(connection: sqlite3.Connection, table: str) -> list[str]:
    """``INSERT`` statements of ``table``'s rows (values as SQL literals, or parameters)."""
    columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
    quoted = ", ".join(f'quote("{column}")' for column in columns)
    rows: list[Any] = connection.execute(
        f'SELECT {quoted} FROM "{table}" ORDER BY rowid'
    ).fetchall()
    inserts = []
    for row in rows:
        literals = dict(zip(columns, row, strict=True))
        known = table == "alembic_version"
        for (name, key_column, key), (value_column, parameter) in _PER_DATABASE.items():
            if name == table and literals.get(key_column) == f"'{key}'":
                literals[value_column] = f":{parameter}"
                known = True
        if not known:
            raise ValueError(
                f"table {table}: the migrations wrote the row {row}; decide whether its values "
                "are fixed or made anew for each database (like the account salt) and teach "
                "clestudy.store._sqlite_snapshot before regenerating the snapshot"
            )
        inserts.append(
            f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join(literals.values())});'
        )
    return inserts
