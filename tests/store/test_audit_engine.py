"""The audit engine: soft delete, the store clock, TRUNCATE, one consistent snapshot, kill -9."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from tests._kill import kill_after_saving

from clestudy.errors import ClestudyError, InputError, NotFoundError
from clestudy.store import RecordInput, Store, audit_events, make_engine, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
AE = {"aeterm": "rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_soft_delete_and_restore_keep_the_history(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("L01", "week_6", "ae", AE, actor="coordinator")
    with pytest.raises(InputError, match=r"^record L01/week_6/ae: deleting needs a reason"):
        store.delete_record("L01", "week_6", "ae", actor="monitor", reason=" ")
    deleted = store.delete_record("L01", "week_6", "ae", actor="monitor", reason="duplicate")
    assert deleted.version == 2 and store.records() == []
    with pytest.raises(InputError, match=r"^record L01/week_6/ae is already deleted$"):
        store.delete_record("L01", "week_6", "ae", actor="monitor", reason="again")
    with pytest.raises(InputError, match=r"^record L01/week_6/ae is deleted; restore it"):
        store.save_record("L01", "week_6", "ae", AE, actor="c", reason="x", expected_version=2)
    assert verify_audit(db_url).ok
    restored = store.restore_record("L01", "week_6", "ae", actor="monitor", reason="not a dup")
    assert restored.version == 3 and [r.version for r in store.records()] == [3]
    events = audit_events(db_url, entity_prefix=f"{STUDY}/L01/week_6/ae")
    assert [(e["action"], e["reason"]) for e in events] == [
        ("create", None),
        ("delete", "duplicate"),
        ("restore", "not a dup"),
    ]
    assert events[1]["after"] == {
        **events[0]["after"],  # type: ignore[dict-item]
        "version": 2,
        "status": "complete",
        "deleted": True,
    }
    assert verify_audit(db_url).ok


def test_soft_deleted_subject_hides_its_records_and_verifies(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("L01", "week_6", "ae", AE, actor="coordinator")
    with pytest.raises(NotFoundError, match=r"^subject 'L09' is not enrolled"):
        store.delete_subject("L09", actor="monitor", reason="typo")
    store.delete_subject("L01", actor="monitor", reason="screen failure entered by mistake")
    assert store.subjects() == [] and store.records() == []
    with pytest.raises(InputError, match=r"^subject L01 is deleted; restore it before saving$"):
        store.save_record("L01", "week_12", "ae", AE, actor="c")
    assert verify_audit(db_url).ok
    store.restore_subject("L01", actor="monitor", reason="enrolled after all")
    assert [s.subject_id for s in store.subjects()] == ["L01"] and len(store.records()) == 1
    assert verify_audit(db_url).ok


def test_a_row_deleted_or_undeleted_behind_the_store_is_reported(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record("L01", "week_6", "ae", AE, actor="coordinator")
    _sql(db_url, "UPDATE form_record SET deleted = true")
    assert verify_audit(db_url).problem == (
        "the row is deleted but its newest audit event (3, create) says live: changed outside "
        "clestudy"
    )
    _sql(db_url, "UPDATE form_record SET deleted = false")
    store.delete_subject("L01", actor="monitor", reason="withdrew consent to data use")
    _sql(db_url, "UPDATE subject SET deleted = false")
    result = verify_audit(db_url)
    assert result.mismatched_kind == "subject" and result.mismatched_record == f"{STUDY}/L01"
    assert (
        result.problem is not None
        and "the row is live but its newest audit event" in result.problem
    )


def test_event_times_never_go_backwards(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    before = store.audit_count()
    store.clock = lambda: dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(
        ClestudyError,
        match=r"store clock reads 2001-01-01T00:00:00\.000000Z, "
        r"earlier than the newest event of chain 'lenalidomide-cle-open-label'",
    ):
        store.add_subject("L02", arm="lenalidomide", site="site01", actor="coordinator")
    assert store.audit_count() == before and [s.subject_id for s in store.subjects()] == ["L01"]
    assert verify_audit(db_url).ok


def test_truncate_of_the_audit_trail_is_refused(open_study: OpenStudy, db_url: str) -> None:
    if _is_sqlite(db_url):
        pytest.skip("SQLite has no TRUNCATE (its DELETE trigger covers DELETE without WHERE)")
    store = open_study(db_url, STUDY)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(db_url, "TRUNCATE audit_event")
    assert verify_audit(db_url).ok and verify_audit(db_url).events == 2


def test_verify_reads_one_snapshot_while_writers_commit(open_study: OpenStudy, db_url: str) -> None:
    """40 verifications while 3 writers commit: no false alarm (issue 10: 20 of 40 before, on
    PostgreSQL under READ COMMITTED); 10 on SQLite, whose verifications are slower."""
    runs = 10 if _is_sqlite(db_url) else 40
    store = open_study(db_url, STUDY)
    for n in range(3):
        store.add_subject(f"W{n}", arm="lenalidomide", site="site01", actor="coordinator")
    stop = threading.Event()
    failures: list[BaseException] = []
    saved = [0, 0, 0]

    def writer(n: int) -> None:
        try:
            own = open_study(db_url, STUDY)
            instance = 0
            while not stop.is_set() and instance < 400:
                instance += 1
                items = [RecordInput(f"W{n}", "week_6", "ae", AE, instance=instance)]
                own.save_records(items, actor=f"writer{n}")
                saved[n] += 1
        except BaseException as exc:  # examined below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(3)]
    for t in threads:
        t.start()
    try:
        results = [verify_audit(db_url) for _ in range(runs)]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer still runs after 60 s"
    assert failures == []
    assert [r.describe() for r in results if not r.ok] == []
    assert sum(saved) > 0 and verify_audit(db_url).ok


_KILL_SCRIPT = """
import sys
from clestudy.store import RecordInput, open_store
store = open_store(sys.argv[1], "lenalidomide-cle-open-label")
ae = {"aeterm": "rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}
items = [RecordInput("K01", "week_6", "ae", ae, instance=i) for i in range(1, 3001)]
print("saving", flush=True)
store.save_records(items, actor="importer")
print("saved", flush=True)
"""


@pytest.mark.parametrize("delay", [0.2, 0.8, 1.6])
def test_kill_9_during_a_batch_saves_all_or_nothing(
    open_study: OpenStudy, db_url: str, tmp_path: Path, delay: float
) -> None:
    store = open_study(db_url, STUDY)
    store.add_subject("K01", arm="lenalidomide", site="site01", actor="coordinator")
    events = store.audit_count()
    kill_after_saving([_KILL_SCRIPT, db_url], delay, timeout=30)
    saved = len(store.records())
    assert saved in (0, 3000), f"a killed batch left {saved} of 3000 records"
    assert store.audit_count() == events + saved
    assert verify_audit(db_url).ok
