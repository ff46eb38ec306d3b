"""Lab values into the store through the Python API (:func:`clestudy.store.save_lab_values`).

The merge and field-mapping rules used to live in the CLI (issue 11 item 4); the web and the API
now call the same functions as ``clestudy qpcr|ihc|flow --db``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clestudy.errors import RecordValidationError
from clestudy.immuno import LabValues, ihc_lab_values, qpcr_lab_values
from clestudy.store import open_store, save_lab_values

STUDY = "lenalidomide-cle-open-label"  # the `db` fixture (conftest.py) enrols S01 in it


def test_values_merge_into_the_visit_record(db: str) -> None:
    with open_store(db, STUDY) as store:
        qpcr = qpcr_lab_values([{"subject_id": "S01", "visit_id": "week_0", "ifn_score": 8.0}])
        assert save_lab_values(store, "immune_profile", qpcr, actor="lab", reason="plate 1") == 1
        densities = pd.DataFrame(
            {
                "subject_id": ["S01", "S01"],
                "visit_id": ["week_0", "week_0"],
                "marker": ["CD3", "mucin"],
                "positive_per_mm2": [150.0, math.nan],
                "stained_area_fraction": [math.nan, -0.0],
            }
        )
        ihc = ihc_lab_values(densities)
        assert save_lab_values(store, "immune_profile", ihc, actor="lab", reason="slides") == 1
        (record,) = store.records(form_id="immune_profile")
    assert record.version == 2
    assert set(record.values) == {"ifn_score", "skin_cd3_per_mm2", "skin_mucin_area_fraction"}
    assert float(str(record.values["skin_cd3_per_mm2"])) == 150.0
    assert str(record.values["skin_mucin_area_fraction"]) in ("0", "0.0")


def test_rows_without_values_are_skipped(db: str) -> None:
    with open_store(db, STUDY) as store:
        rows = [LabValues("S01", "week_0", {})]
        assert save_lab_values(store, "immune_profile", rows, actor="lab", reason="empty") == 0
        assert store.records(form_id="immune_profile") == []


def test_a_refused_value_stores_nothing(db: str) -> None:
    rows = [
        LabValues("S01", "week_0", {"ifn_score": 8.0}),
        LabValues("S01", "week_12", {"skin_cxcl10_score": 9}),
    ]
    with open_store(db, STUDY) as store:
        with pytest.raises(RecordValidationError, match=r"S01/week_12/immune_profile: field "):
            save_lab_values(store, "immune_profile", rows, actor="lab", reason="batch")
        assert store.records(form_id="immune_profile") == []


def test_non_finite_values_are_left_out() -> None:
    rows = qpcr_lab_values([{"subject_id": "S01", "visit_id": "week_0", "ifn_score": math.inf}])
    assert rows == [LabValues("S01", "week_0", {})]
