"""A save skips what cannot find anything: the check context of a form no edit check applies to,
the lab context of a form without derived scores, the discrepancy sync of a record with no
warning and no discrepancy. The rows and audit events are those of the save that makes every
call (``SavePlan.has_checks`` forced true: the context is built and the checks run)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from clestudy.store import RecordInput, Store, SubjectInput, checked_values, save_import
from clestudy.store._edits import SavePlan

OpenStudy = Callable[..., Store]
STUDY = "pediatric-cle-chart-review"
NOW = dt.datetime(2031, 5, 4, 12, 0, tzinfo=dt.UTC)
#: the stored rows compared (the hashes differ: each database's study chain starts at its own
#: registration, so only the chained content is compared)
_TABLES = {
    "form_record": "SELECT subject_id, visit_key, form_key, instance, values_json, status, "
    "version, updated_at, updated_by FROM form_record ORDER BY id",
    "discrepancy": "SELECT record_id, check_id, status, message, resolution FROM discrepancy "
    "ORDER BY id",
    "audit_event": "SELECT actor, action, entity_type, entity_key, before_json, after_json, "
    "reason, chain, chain_seq FROM audit_event WHERE entity_type != 'protocol' "
    "AND entity_type != 'study' ORDER BY seq",
}


def _save_everything(store: Store) -> dict[str, list[Any]]:
    store.clock = lambda: NOW
    skin = store.protocol.form("skin")
    assert skin is not None
    imported, _ = checked_values(
        skin, {"skin_manifestations": ["alopecia"], "skin_response": "improved"}, where="x"
    )
    save_import(
        store,
        subjects=[SubjectInput(s, "lenalidomide", "site01") for s in ("P1", "P2")],
        records=[
            RecordInput("P1", "initiation", "skin", imported),
            RecordInput("P2", "initiation", "skin", {"skin_response": "worse"}),
            RecordInput("P1", "initiation", "vs", {"vsdat": "2011-03-01", "weight": "21.5"}),
            RecordInput("P1", "month_6", "vs", {"vsdat": "2011-03-02"}),  # out of its window
            RecordInput("P1", "month_6", "labs", {"lbdat": "2011-09-01", "esr": "30"}),
        ],
        actor="importer",
        reason="file.csv",
    )
    store.save_records(
        [
            RecordInput("P1", "month_6", "vs", {"vsdat": "2011-09-01"}, expected_version=1),
            RecordInput("P1", "initiation", "skin", {"skin_response": None}, expected_version=1),
            RecordInput("P2", "month_6", "skin", {"skin_manifestations": ["malar_rash"]}),
        ],
        actor="editor",
        reason="corrected",
    )
    with store.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(q))] for t, q in _TABLES.items()}


def test_the_skipping_save_writes_what_the_full_save_writes(
    open_study: OpenStudy, tmp_path: Path
) -> None:
    skipping = _save_everything(open_study(f"sqlite:///{tmp_path / 'a.db'}", STUDY))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SavePlan, "has_checks", lambda self, form: True)
        full = _save_everything(open_study(f"sqlite:///{tmp_path / 'b.db'}", STUDY))
    assert skipping == full
    assert [row[1:3] for row in full["discrepancy"]] == [("builtin.visit_window", "resolved")]
    assert len(full["form_record"]) == 6
