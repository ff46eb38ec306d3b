"""Reads do not run one query per record: SQL statements counted with a cursor event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from clestudy.store import Store

OpenStudy = Callable[..., Store]


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements ``store`` sends to its database while the block runs."""
    seen: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", _count)


def _clasi_values(store: Store, activity: int) -> dict[str, Any]:
    form = store.protocol.form("clasi")
    assert form is not None
    zeros = {f.id: (False if f.type == "boolean" else 0) for f in form.fields if f.id != "rsdat"}
    return zeros | {"nose_erythema": activity}


def _enrol(store: Store, first: int, last: int) -> None:
    for n in range(first, last):
        subject = f"L{n:02d}"
        store.add_subject(subject, arm="lenalidomide", site="site01", actor="a")
        store.save_record(subject, "week_0", "clasi", _clasi_values(store, n % 4), actor="a")


def _study(open_study: OpenStudy, url: str, subjects: int) -> Store:
    store = open_study(url, "lenalidomide-cle-open-label")
    _enrol(store, 0, subjects)
    return store


def _select_count(store: Store, subjects: int) -> int:
    with _statements(store) as seen:
        records = store.records()
    assert len(records) == subjects
    assert all("clasi" in r.derived for r in records)
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT"))


def test_records_reads_derived_scores_in_one_query(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, 2)
    few = _select_count(store, 2)
    _enrol(store, 2, 7)
    # the record rows, and every derived row at once: not one more query per record
    assert few == _select_count(store, 7) == 2


def test_records_keeps_derived_scores_per_record(open_study: OpenStudy, db_url: str) -> None:
    store = _study(open_study, db_url, 4)
    by_subject = {r.subject_id: r for r in store.records(form_id="clasi", visit_id="week_0")}
    for n in range(4):
        derived = by_subject[f"L{n:02d}"].derived
        assert derived["clasi"]["values"]["clasi_activity"] == n % 4
    assert store.records(form_id="steroids") == []
