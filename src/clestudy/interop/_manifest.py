"""The manifest every export writes beside its data files, and the all-or-nothing file write.

A manifest (``manifest.json``) says what was exported, from which state of the database and by
which clestudy: the study and protocol version, the export time (UTC, from the store's clock), the
SHA-256 of each data file, the audit head (number of events and hash of the newest one, so a
reader can check with ``clestudy audit verify`` that the trail still ends there) and the clestudy
version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clestudy import __version__
from clestudy.errors import InputError
from clestudy.store import Store
from clestudy.store._schema import AuditRow
from clestudy.store._service import utc_timestamp

__all__ = ["MANIFEST_NAME", "audit_head", "file_sha256", "staged_output", "write_manifest"]

MANIFEST_NAME = "manifest.json"


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def audit_head(store: Store) -> dict[str, Any]:
    """``{"count": N, "hash": newest event's hash or None}`` of the database's audit trail."""
    with Session(store.engine) as session:
        count = int(session.scalar(select(func.count()).select_from(AuditRow)) or 0)
        newest = session.scalar(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1))
    return {"count": count, "hash": newest}


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """A scratch folder whose files move into ``out_dir`` only when the block succeeds.

    Nothing is written to ``out_dir`` when the export fails part-way (bad input is refused whole).

    Raises
    ------
    InputError
        When ``out_dir`` exists and is not a folder.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: --out must be a folder, and this is a file")
    parent = out_dir.parent if out_dir.parent.exists() else Path(tempfile.gettempdir())
    scratch = Path(tempfile.mkdtemp(prefix=".clestudy-export-", dir=parent))
    try:
        yield scratch
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(scratch.iterdir()):
            shutil.move(str(item), str(out_dir / item.name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_manifest(
    folder: Path,
    store: Store,
    *,
    export_format: str,
    files: list[Path],
    filters: dict[str, list[str] | None] | None = None,
    clock: Callable[[], str] | None = None,
    notes: dict[str, Any] | None = None,
) -> Path:
    """Write ``manifest.json`` describing ``files`` (all inside ``folder``) and return its path."""
    manifest = {
        "format": export_format,
        "study": store.protocol.id,
        "protocol_version": store.protocol.version,
        "exported_at": clock() if clock else utc_timestamp(store.clock()),
        "clestudy_version": __version__,
        "audit_head": audit_head(store),
        "filters": filters or {},
        "files": [
            {"name": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size}
            for path in sorted(files)
        ],
        **(notes or {}),
    }
    target = folder / MANIFEST_NAME
    target.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
