"""An import's transaction on SQLite runs with a wider page cache, set back before the connection
returns to the pool, whether the import commits or fails (``widen_page_cache``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import clestudy.store._chain as chain
import clestudy.store._import_batch as import_batch
from clestudy.errors import RecordValidationError
from clestudy.store import RecordInput, Store, SubjectInput, save_import, verify_audit
from clestudy.store._engine import BULK_PAGE_CACHE_KIB

OpenStudy = Callable[..., Store]
STUDY = "pediatric-cle-chart-review"
#: SQLite's own default page cache (2,000 KiB), which every other transaction keeps
SQLITE_DEFAULT_CACHE = -2000


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, Any]]:
    """The page-cache size each import's transaction saw, with the sqlite3 connection it ran on
    (read when the import takes its subjects' locks, after the cache was widened)."""
    seen: list[tuple[int, Any]] = []
    lock_subjects = chain.lock_subjects  # what _import_batch imported

    def spy(session: Session, study: str, subject_ids: Sequence[str]) -> None:
        conn = session.connection()
        size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        seen.append((size, conn.connection.dbapi_connection))
        lock_subjects(session, study, subject_ids)

    monkeypatch.setattr(import_batch, "lock_subjects", spy)
    return seen


def _import_labs(store: Store, labs: dict[str, str]) -> None:
    save_import(
        store,
        subjects=[SubjectInput("P000", "lenalidomide", "site01")],
        records=[RecordInput("P000", "initiation", "labs", labs)],
        actor="importer",
        reason="labs.csv (sha256 ab12)",
    )


def test_the_cache_is_widened_for_the_import_and_set_back(
    open_study: OpenStudy, sqlite_url: str, watched: list[tuple[int, Any]]
) -> None:
    store = open_study(sqlite_url, STUDY)
    _import_labs(store, {"lbdat": "2011-03-01", "esr": "26"})
    ((size, raw),) = watched
    assert size == -BULK_PAGE_CACHE_KIB
    assert raw.execute("PRAGMA cache_size").fetchone()[0] == SQLITE_DEFAULT_CACHE
    assert [r.values["esr"] for r in store.records()] == [26]
    assert verify_audit(sqlite_url).ok


def test_a_failed_import_sets_the_cache_back_too(
    open_study: OpenStudy, sqlite_url: str, watched: list[tuple[int, Any]]
) -> None:
    store = open_study(sqlite_url, STUDY)
    with pytest.raises(RecordValidationError, match="'esr': '400' is out of range"):
        _import_labs(store, {"lbdat": "2011-03-01", "esr": "400"})
    ((size, raw),) = watched
    assert size == -BULK_PAGE_CACHE_KIB
    assert raw.execute("PRAGMA cache_size").fetchone()[0] == SQLITE_DEFAULT_CACHE
    assert store.records() == []


def test_a_connection_that_cannot_set_its_cache_back_does_not_hide_the_failure(
    open_study: OpenStudy, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_study(sqlite_url, STUDY)

    def broken(session: Session) -> None:
        raise OperationalError("PRAGMA cache_size=-2000", {}, Exception("disk I/O error"))

    monkeypatch.setattr(chain, "restore_page_cache", broken)
    with pytest.raises(RecordValidationError, match="'esr': '400' is out of range"):
        _import_labs(store, {"lbdat": "2011-03-01", "esr": "400"})
    assert store.records() == []
