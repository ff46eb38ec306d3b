"""The store's one write path: validation, versions, stale edits, derived scores, batches."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clestudy.errors import (
    ClestudyError,
    InputError,
    NotFoundError,
    RecordValidationError,
    StaleVersionError,
)
from clestudy.protocol import load_protocol
from clestudy.store import RecordInput, Store, tidy_table, verify_audit

OpenStudy = Callable[..., Store]


def _store(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, "pediatric-cle-chart-review")
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    return store


def test_create_then_edit_bumps_version_and_audits(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    first = store.save_record(
        "P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="coordinator"
    )
    assert first.version == 1
    second = store.save_record(
        "P01",
        "initiation",
        "steroids",
        {"prednisone_mg_day": "25"},
        actor="monitor",
        reason="source document says 25 mg",
        expected_version=1,
    )
    assert second.version == 2
    assert second.values == {"prednisone_mg_day": "25"}
    assert second.updated_by == "monitor"
    # register + enroll + create + update
    assert store.audit_count() == 4
    assert verify_audit(db_url).ok


def test_stale_edit_names_record_and_both_versions(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="a")
    store.save_record(
        "P01",
        "initiation",
        "steroids",
        {"prednisone_mg_day": "25"},
        actor="a",
        reason="r",
        expected_version=1,
    )
    with pytest.raises(
        StaleVersionError,
        match=r"^record P01/initiation/steroids: the edit was made on version 1 but the record "
        r"is now at version 2; reload it and re-apply the edit$",
    ):
        store.save_record(
            "P01",
            "initiation",
            "steroids",
            {"prednisone_mg_day": "30"},
            actor="b",
            reason="r",
            expected_version=1,
        )
    assert store.records(form_id="steroids")[0].values == {"prednisone_mg_day": "25"}


def test_saving_over_an_existing_record_without_a_version_is_refused(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="a")
    with pytest.raises(StaleVersionError, match="already exists at version 1"):
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "5"}, actor="a")


def test_edit_needs_a_reason_and_unchanged_values_write_nothing(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="a")
    with pytest.raises(InputError, match="a reason for change is required"):
        store.save_record(
            "P01",
            "initiation",
            "steroids",
            {"prednisone_mg_day": "5"},
            actor="a",
            expected_version=1,
        )
    before = store.audit_count()
    same = store.save_record(
        "P01",
        "initiation",
        "steroids",
        {"prednisone_mg_day": "20"},
        actor="a",
        expected_version=1,
    )
    assert same.version == 1
    assert store.audit_count() == before


@pytest.mark.parametrize(
    ("visit", "form", "values", "error", "message"),
    [
        ("week_9", "labs", {}, NotFoundError, r"P01/week_9/labs: unknown visit 'week_9'"),
        ("initiation", "vitals", {}, NotFoundError, r"unknown form 'vitals'"),
        (
            "initiation",
            "ae",
            {},
            RecordValidationError,
            r"form 'ae' is not collected at visit 'initiation'",
        ),
        (
            "initiation",
            "labs",
            {"lbdat": "2011-01-01", "esr": 250},
            RecordValidationError,
            r"^P01/initiation/labs: field 'esr': 250 is out of range; allowed 0 to 200 mm/h$",
        ),
    ],
)
def test_invalid_records_are_refused_with_location(
    open_study: OpenStudy,
    db_url: str,
    visit: str,
    form: str,
    values: dict[str, object],
    error: type,
    message: str,
) -> None:
    store = _store(open_study, db_url)
    with pytest.raises(error, match=message):
        store.save_record("P01", visit, form, values, actor="a")


def test_unknown_subject_is_refused(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    with pytest.raises(NotFoundError, match="subject 'P77' is not enrolled"):
        store.save_record("P77", "initiation", "steroids", {}, actor="a")
    with pytest.raises(InputError, match=r"arm 'placebo' is not one of \['lenalidomide'\]"):
        store.add_subject("P02", arm="placebo", site="site01", actor="a")
    with pytest.raises(InputError, match="P01 is already enrolled"):
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="a")


def test_batch_is_all_or_nothing(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    count = store.audit_count()
    batch = [
        RecordInput("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}),
        RecordInput("P01", "month_6", "steroids", {"prednisone_mg_day": "-5"}),
    ]
    with pytest.raises(
        RecordValidationError, match="P01/month_6/steroids: field 'prednisone_mg_day'"
    ):
        store.save_records(batch, actor="import")
    assert store.records() == []
    assert store.audit_count() == count


def test_repeating_forms_take_instances(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    ae = {"aeterm": "Pyelonephritis", "aestdat": "2011-06-01", "aetoxgr": 3, "aeser": True}
    store.save_record("P01", "month_6", "ae", ae, actor="a", instance=2)
    with pytest.raises(RecordValidationError, match="form does not repeat: only 1"):
        store.save_record("P01", "month_6", "steroids", {}, actor="a", instance=2)
    assert [r.key for r in store.records()] == ["P01/month_6/ae#2"]


def test_tidy_table_has_units_and_numbers(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    store.save_record(
        "P01", "initiation", "labs", {"lbdat": "2011-01-01", "esr": 30, "lym": "0.8"}, actor="a"
    )
    tidy = tidy_table(store).set_index("item")
    assert tidy.loc["esr", "value"] == 30
    assert tidy.loc["lym", "value"] == pytest.approx(0.8)
    assert tidy.loc["lym", "unit"] == "10^9/L"


def test_derived_scores_are_computed_on_save_with_instrument_version(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, "lenalidomide-cle-open-label")
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="a")
    form = store.protocol.form("clasi")
    assert form is not None
    # every item entered (0 or "no" where nothing is seen): a blank item leaves CLASI incomplete
    zeros = {f.id: (False if f.type == "boolean" else 0) for f in form.fields if f.id != "rsdat"}
    values = zeros | {
        "nose_erythema": 3,
        "nose_scale": 2,
        "rest_of_face_erythema": 2,
        "mucous_membrane": 1,
        "nose_dyspigmentation": 1,
        "dyspigmentation_12_months": True,
        "scalp_scarring": 3,
    }
    record = store.save_record("L01", "week_0", "clasi", values, actor="a")
    clasi = record.derived["clasi"]
    # hand calculation: activity 3+2+2+1 = 8; damage 1 x 2 (doubled) + 3 = 5
    assert clasi["values"]["clasi_activity"] == 8
    assert clasi["values"]["clasi_damage"] == 5
    assert clasi["values"]["clasi_activity_severity"] == "mild"
    assert clasi["instrument"] == "clasi" and clasi["version"]
    with pytest.raises(
        RecordValidationError,
        match=r"^L01/week_6/clasi: field 'scalp_scarring': 2 is not one of the allowed",
    ):
        store.save_record("L01", "week_6", "clasi", {"scalp_scarring": 2}, actor="a")


def test_reopening_with_a_changed_protocol_is_refused(open_study: OpenStudy, db_url: str) -> None:
    open_study(db_url, "pediatric-cle-chart-review")
    changed = load_protocol("pediatric-cle-chart-review").model_copy(update={"version": "2.0"})
    with pytest.raises(ClestudyError, match=r"runs on protocol version 1\.2"):
        open_study(db_url, changed)
    assert open_study(db_url, "pediatric-cle-chart-review").protocol.version == "1.2"
