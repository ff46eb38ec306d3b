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

    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def writer(name: str, dose: str) -> None:
        store = open_study(db_url, "pediatric-cle-chart-review")  # its own engine, as a process
        barrier.wait()
        try:
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
        except StaleVersionError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=writer, args=("alice", "22.5")),
        threading.Thread(target=writer, args=("bob", "17.5")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    errors = [o for o in outcomes.values() if isinstance(o, StaleVersionError)]
    wins = [o for o in outcomes.values() if not isinstance(o, StaleVersionError)]
    assert len(errors) == 1 and len(wins) == 1
    assert "the edit was made on version 1 but the record is now at version 2" in str(errors[0])

    final = setup.records(form_id="steroids")[0]
    assert final.version == 2
    assert final.values == wins[0].values  # type: ignore[attr-defined]
    assert setup.audit_count() == baseline_events + 1
    assert verify_audit(db_url).ok
