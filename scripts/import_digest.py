"""SHA-256 of every row an import stores, with the store clock fixed (a check, not a test).

Run with ``python scripts/import_digest.py [--subjects 50] [--events 6] [--fixtures DIR]``: it
generates the project of ``benchmarks/bench_interop.py`` (and takes every REDCap project of
``DIR`` that has a ``dictionary.csv`` and a ``data.csv``, such as the shared REDCapR fixtures),
imports each into a new SQLite database with the store
clock stopped at one instant, and prints one SHA-256 per table over its rows (ordered by every
column; ``account_setting``, which holds a random secret, left out) and one over all of them. A change that must not alter the stored bytes (the audit hashes,
the values' canonical JSON) prints the same digests before and after it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sqlite3
import sys
import tempfile
import types
from pathlib import Path

import clestudy.store._service as service
from clestudy.errors import InputError
from clestudy.interop import import_redcap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_interop import generate  # type: ignore[import-not-found]

INSTANT = dt.datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=dt.UTC)


class _StoppedDatetime(dt.datetime):
    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _StoppedDatetime:
        moment = INSTANT if tz is None else INSTANT.astimezone(tz)
        return cls.fromtimestamp(moment.timestamp(), tz)


def digests(database: Path) -> dict[str, str]:
    """One SHA-256 per table (rows ordered by every column) and ``*`` over all tables."""
    connection = sqlite3.connect(database)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'account_setting' "
                "ORDER BY name"
            )
        ]
        result: dict[str, str] = {}
        whole = hashlib.sha256()
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            order = ", ".join(f'"{c}"' for c in columns)
            digest = hashlib.sha256()
            for row in connection.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
                digest.update(repr(row).encode() + b"\n")
            result[table] = digest.hexdigest()
            whole.update(table.encode() + b":" + digest.digest())
        result["*"] = whole.hexdigest()
        return result
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=50)
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--fixtures", type=Path, help="a folder of REDCap project folders")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="import-digest-"))
    projects = {"bench": generate(folder, args.subjects, args.events)}
    if args.fixtures is not None:
        for project in sorted(args.fixtures.iterdir()):
            if (project / "dictionary.csv").is_file() and (project / "data.csv").is_file():
                projects[project.name] = (project / "dictionary.csv", project / "data.csv")
    service.dt = types.SimpleNamespace(**{**vars(dt), "datetime": _StoppedDatetime})  # type: ignore[attr-defined,assignment]
    for name, (dictionary, records) in projects.items():
        database = folder / f"{name}.db"
        try:
            import_redcap(f"sqlite:///{database}", dictionary, records, study="digest",
                          actor="digest")  # fmt: skip
        except InputError as error:  # a project the importer refuses: its message is the digest
            print(f"{hashlib.sha256(str(error).encode()).hexdigest()}  {name} (refused)")
            continue
        for table, digest in digests(database).items():
            print(f"{digest}  {name}: {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
