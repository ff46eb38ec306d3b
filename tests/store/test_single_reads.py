"""One subject's reads: the web layer asks for one subject and its records, not the whole study."""

from __future__ import annotations

from collections.abc import Callable

from clestudy.store import Store

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
AE = {"aeterm": "rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}


def test_one_subject_and_its_records(open_study: OpenStudy, db_url: str) -> None:
    store = open_study(db_url, STUDY)
    for subject in ("P1", "P2"):
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="a")
        store.save_record(subject, "week_6", "ae", AE, actor="a")
    store.save_record("P1", "week_6", "ae", AE, actor="a", instance=2)
    found = store.subject("P2")
    assert found is not None and (found.subject_id, found.site) == ("P2", "site01")
    assert store.subject("P9") is None
    mine = store.records(subject_id="P1")
    assert [(r.subject_id, r.instance) for r in mine] == [("P1", 1), ("P1", 2)]
    assert mine == [r for r in store.records() if r.subject_id == "P1"]
    assert store.records(subject_id="P1", form_id="ae", visit_id="week_6") == mine
    assert store.records(subject_id="P9") == []
    store.delete_subject("P2", actor="a", reason="enrolled in error")
    assert store.subject("P2") is None
