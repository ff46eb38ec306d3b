"""Regenerate the SQLite schema snapshot ``src/clestudy/store/migrations/sqlite_head.sql``.

Run ``python scripts/schema_snapshot.py`` (with clestudy importable, e.g. ``PYTHONPATH=src``)
after adding or changing a migration: it runs every Alembic migration on a new temporary SQLite
file and writes what they left there (the SQL of each ``sqlite_schema`` entry in creation order,
the ``alembic_version`` row, the account salt as a per-database parameter). A brand-new SQLite
database is made from the snapshot instead of by the migrations
(:mod:`clestudy.store._sqlite_snapshot`); ``tests/store/test_schema_snapshot.py`` fails until
the snapshot is regenerated. ``--check`` writes nothing and exits 1 when the file is stale.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

from clestudy.store import make_engine
from clestudy.store._migrate import upgrade_to_head
from clestudy.store._sqlite_snapshot import SNAPSHOT_FILE, render_snapshot

SNAPSHOT = Path(__file__).resolve().parent.parent / "src/clestudy/store/migrations" / SNAPSHOT_FILE


def migrated_snapshot() -> str:
    """The snapshot text of a new SQLite file migrated to head by Alembic."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "snapshot.db"
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade_to_head(engine, use_snapshot=False)
        finally:
            engine.dispose()
        connection = sqlite3.connect(path)
        try:
            return render_snapshot(connection)
        finally:
            connection.close()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the snapshot; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    args = parser.parse_args(argv)
    text = migrated_snapshot()
    if args.check:
        current = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
        if current != text:
            print(f"{SNAPSHOT} is stale: run python scripts/schema_snapshot.py", file=sys.stderr)
            return 1
        print(f"{SNAPSHOT} is current")
        return 0
    SNAPSHOT.write_text(text)
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
