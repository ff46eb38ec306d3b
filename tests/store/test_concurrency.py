"""Two writers edit the same record at once: one wins, the other gets the stale-version error."""

from __future__ import annotations

import threading
from collections.abc import Callable

from clestudy.errors import StaleVersionError
from clestudy.store import Store, verify_audit

OpenStudy = Callable[..., Store]


def test_concurrent_edits_one_wins_and_audit_shows_one_change(
    open_study: OpenStudy, db_url: str
) -> None:
    setup = open_study(db_url, "pediatric-cle-chart-review")
    setup.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    setup.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="c")
    baseline_events = setup.audit_count()

    barrier = threading.Barrier(2, timeout=30)  # a broken writer must never hang the run
    outcomes: dict[str, object] = {}

    def writer(name: str, dose: str) -> None:
        try:
            store = open_study(db_url, "pediatric-cle-chart-review")  # its own engine
            barrier.wait()
            state = store.save_record(
                "P01",
                "initiation",
                "steroids",
                {"prednisone_mg_day": dose},
                actor=name,
                reason="correction",
                expected_version=1,
            )
            outcomes[name] = state
        except BaseException as exc:  # every outcome is examined below, none lost in the thread
            outcomes[name] = exc
            barrier.abort()

    threads = [
        threading.Thread(target=writer, args=("alice", "22.5"), daemon=True),
        threading.Thread(target=writer, args=("bob", "17.5"), daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not any(t.is_alive() for t in threads), "a writer is still running after 60 s"
    unexpected = [
        o
        for o in outcomes.values()
        if isinstance(o, BaseException) and not isinstance(o, StaleVersionError)
    ]
    assert not unexpected, f"a writer failed other than by a stale version: {unexpected!r}"
    errors = [o for o in outcomes.values() if isinstance(o, StaleVersionError)]
    wins = [o for o in outcomes.values() if not isinstance(o, StaleVersionError)]
    assert len(errors) == 1 and len(wins) == 1
    assert "the edit was made on version 1 but the record is now at version 2" in str(errors[0])

    final = setup.records(form_id="steroids")[0]
    assert final.version == 2
    assert final.values == wins[0].values  # type: ignore[attr-defined]
    assert setup.audit_count() == baseline_events + 1
    assert verify_audit(db_url).ok


def test_many_threads_open_a_new_database_at_once(open_study: OpenStudy, db_url: str) -> None:
    """Opening runs the migrations; Alembic is not thread-safe, so clestudy must serialise it."""
    n = 6
    barrier = threading.Barrier(n, timeout=30)
    outcomes: list[object] = []

    def opener() -> None:
        try:
            barrier.wait()
            outcomes.append(open_study(db_url, "pediatric-cle-chart-review"))
        except BaseException as exc:
            outcomes.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=opener, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not any(t.is_alive() for t in threads), "an opener is still running after 60 s"
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, f"opening failed: {failures!r}"
    stores = [o for o in outcomes if isinstance(o, Store)]
    assert len(stores) == n
    assert len({s.study_pk for s in stores}) == 1  # one study registered, not six
    assert stores[0].audit_count() == 1  # and one 'register' event
    assert verify_audit(db_url).ok
