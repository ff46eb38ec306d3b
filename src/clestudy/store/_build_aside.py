"""A brand-new SQLite database built aside and moved into place whole: an import's first load.

An import into a SQLite file that does not exist yet (a team moving a REDCap project or an
OpenClinica extract to clestudy) writes every row of the new database in one transaction. In WAL
mode, which every clestudy database uses (readers never wait for the writer), SQLite writes
those pages twice, once to the WAL at the commit and once more into the database file when the
WAL is checkpointed, each write followed by an fsync: for a 30,000-record import about 35 MB
written and synced twice, a quarter of the import's wall time (docs/performance.md, "Imports").

:func:`building_new_database` builds the database in a hidden file beside the target instead,
in rollback-journal mode (the pages of a new file are written once; there is nothing to journal)
and without an fsync per transaction. When the import has committed, it switches the file to WAL
(as every clestudy database is), syncs it, and gives it the target's name with a hard link,
which refuses to replace a file: the database appears whole or not at all.

* **Atomic.** A failed, refused or killed import leaves no database at the target: not even the
  study registration that an import into a new file used to leave behind. A process killed with
  ``kill -9`` leaves its hidden file (``.NAME.building-PID-XXXXXXXX``), which is not a database
  at the target name and may be deleted; it is not cleaned up automatically, because a file of
  that name on a shared disk may belong to a build still running on another machine.
* **Durable.** The file is synced (and on POSIX its directory) before and after it gets its
  name, so a power cut after the import reported success keeps it.
* **Concurrent.** Nobody else can open the file being built: it has no known name. A database
  another process created at the target meanwhile is never replaced: the import fails with a
  :class:`~clestudy.errors.ClestudyError` naming it, and can be run again into it.
* Any other URL (an existing file, PostgreSQL, an in-memory database) is used as it is.

Hand-written because neither SQLite nor SQLAlchemy has a "create this database atomically"
operation; it is the classic write-to-temporary-then-link pattern, over :mod:`os` calls.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from clestudy.errors import ClestudyError

__all__ = ["building_new_database", "is_being_built"]

#: The files being built by this process (:func:`is_being_built`): the engine opens them in
#: rollback-journal mode without per-transaction fsyncs instead of switching them to WAL.
_BUILDING: set[str] = set()

#: The sidecar files SQLite may leave beside a database.
_SIDECARS = ("-journal", "-wal", "-shm")


def is_being_built(database: str) -> bool:
    """Whether ``database`` (a SQLite URL's file) is a new database this process is building."""
    return database in _BUILDING


def _new_sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL when it does not exist yet, else ``None``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # make_engine names the bad URL
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or parsed.query
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        return None
    path = Path(database)
    return None if path.exists() or not path.parent.is_dir() else path


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or on POSIX a directory) to disk."""
    flags = os.O_RDONLY if path.is_dir() else os.O_RDWR
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    for name in (path, *(path.with_name(path.name + s) for s in _SIDECARS)):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _publish(built: Path, target: Path) -> None:
    """Switch ``built`` to WAL, sync it and give it the name ``target``, never replacing a file."""
    connection = sqlite3.connect(built, isolation_level=None)
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    finally:
        connection.close()
    if str(mode).lower() != "wal":  # pragma: no cover - a file only this process knows
        raise ClestudyError(f"{target}: the new database could not be switched to WAL ({mode})")
    _fsync(built)
    try:
        os.link(built, target)
    except FileExistsError:
        raise ClestudyError(
            f"{target}: another process created this database while the import was being "
            "built; nothing was imported (run the import again to import into it)"
        ) from None
    except OSError:  # a file system without hard links: rename, after making sure
        if target.exists():
            raise ClestudyError(
                f"{target}: another process created this database while the import was being "
                "built; nothing was imported (run the import again to import into it)"
            ) from None
        os.replace(built, target)
    if os.name == "posix":
        _fsync(target.parent)


@contextlib.contextmanager
def building_new_database(url: str) -> Iterator[str]:
    """The URL to import into: a hidden file beside ``url``'s when ``url`` names a SQLite file
    that does not exist yet (see the module docstring), else ``url`` itself.

    The database built in the hidden file gets ``url``'s name when the block ends without an
    exception (every engine on it must be disposed by then, as :meth:`Store.close` does); on an
    exception it is deleted and nothing appears at ``url``.

    Raises
    ------
    ClestudyError
        When another process created a database at ``url`` meanwhile (it is left as it is).
    """
    target = _new_sqlite_file(url)
    if target is None:
        yield url
        return
    built = target.with_name(f".{target.name}.building-{os.getpid()}-{secrets.token_hex(4)}")
    _BUILDING.add(str(built))
    try:
        yield f"sqlite:///{built}"
        _BUILDING.discard(str(built))  # opened from now on as any clestudy database
        _publish(built, target)
    finally:
        _BUILDING.discard(str(built))
        _remove(built)
