"""A one-record save on SQLite writes its record, derived-score and discrepancy rows through the
driver (``_batch._insert_rows`` and the one-row ``RETURNING``): the rows it stores are the rows
the SQLAlchemy path of a two-record batch stores, column by column and storage class by class."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from clestudy.store import RecordInput, Store, open_store

STUDY = "lenalidomide-cle-open-label"
NOW = dt.datetime(2031, 1, 2, 12, 0, tzinfo=dt.UTC)  # later than the set-up events


def _clasi(store: Store) -> dict[str, Any]:
    form = store.protocol.form("clasi")
    assert form is not None
    values: dict[str, Any] = {}
    for spec in form.fields:
        values[spec.id] = (
            "2026-12-01" if spec.type == "date" else False if spec.type == "boolean" else 0
        )
    return values | {"scalp_erythema": 2, "nose_erythema": 3, "nose_scale": 1}


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    with open_store(sqlite_url, STUDY, actor="setup") as opened:
        opened.clock = lambda: NOW
        for subject in ("P-1", "P-2", "P-3"):
            opened.add_subject(subject, arm="lenalidomide", site="site01", actor="setup")
        yield opened


_TABLES = {
    "form_record": "SELECT r.*, {types} FROM form_record r JOIN subject s ON s.id = r.subject_id"
    " WHERE s.subject_key = :key ORDER BY r.visit_key",
    "derived_score": "SELECT d.*, {types} FROM derived_score d JOIN form_record r ON"
    " r.id = d.record_id JOIN subject s ON s.id = r.subject_id WHERE s.subject_key = :key"
    " ORDER BY r.visit_key, d.score_key",
    "discrepancy": "SELECT q.*, {types} FROM discrepancy q JOIN form_record r ON"
    " r.id = q.record_id JOIN subject s ON s.id = r.subject_id WHERE s.subject_key = :key"
    " ORDER BY r.visit_key, q.check_id",
}
_IDS = {"id", "record_id", "subject_id"}  # the rows' own keys differ between subjects


def _rows(store: Store, subject: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for table, query in _TABLES.items():
            columns = [c[1] for c in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
            alias = query.split()[1][0]
            types = ", ".join(f"typeof({alias}.{c}) AS type_{c}" for c in columns)
            found = conn.execute(text(query.format(types=types)), {"key": subject}).mappings()
            out[table] = [{k: v for k, v in row.items() if k not in _IDS} for row in found]
    return out


def test_a_one_record_save_stores_the_rows_of_the_sqlalchemy_path(store: Store) -> None:
    values = _clasi(store)
    for visit in ("week_0", "week_6"):  # week 6 on week 0's date: out of its window, a warning
        store.save_record("P-1", visit, "clasi", dict(values), actor="coordinator")
        batch = [RecordInput(s, visit, "clasi", dict(values)) for s in ("P-2", "P-3")]
        store.save_records(batch, actor="coordinator")
    single, through_core = _rows(store, "P-1"), _rows(store, "P-2")
    assert single == through_core
    assert len(single["derived_score"]) >= 1 and len(single["discrepancy"]) >= 1
    assert [r["deleted"] for r in single["form_record"]] == [0, 0]
    assert {r["type_deleted"] for r in single["form_record"]} == {"integer"}
