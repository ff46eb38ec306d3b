"""Data-quality runs over the whole study: the built-in rules on a crafted study, a study rule,
reproducibility, the one discrepancy list, exclusions and their audit, and `audit verify`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, text
from tests._quality_study import EXPECTED, Clock, populate, protocol

from clestudy.errors import InputError, NotFoundError
from clestudy.store import Store, audit_events, make_engine, open_store, verify_audit
from clestudy.store._quality import QUALITY_CSV_COLUMNS, quality_csv

AMENDED = {
    "version: '1'": "version: '2'",
    "min: 2, max: 300": "min: 2, max: 80",
    "edit_checks:\n": "edit_checks:\n- id: vs.sysbp_low\n  form: vs\n  rule: sysbp >= 90\n"
    "  message: systolic pressure below 90 mmHg\n",
}


@pytest.fixture
def study(db_url: str) -> Iterator[Store]:
    store = open_store(db_url, protocol())
    store.clock = Clock()
    populate(store)
    yield store
    store.close()


def _listed(store: Store, **filters: str) -> list[tuple[str, str, str]]:
    return [(i.key, i.source, i.status) for i in store.data_quality(**filters)]


def test_a_run_finds_each_built_in_rule_and_the_study_rule_exactly(study: Store) -> None:
    run = study.run_quality_rules(actor="monitor")
    assert _listed(study) == EXPECTED
    assert run.run == 1 and run.as_of == "2030-01-07" and run.protocol_version == "1"
    assert run.counts == {
        "missing": 5, "study-rule": 1, "window": 1, "findings": 7, "subjects": 4, "records": 6,
    }  # fmt: skip
    by_key = {i.key: i for i in study.data_quality()}
    window = by_key["S-01/week_4/vs/dq.visit_window"]
    assert window.message == (
        "field 'vsdat' 2029-12-20 is study day 19 (baseline 2029-12-01); visit 'week_4' "
        "allows days 25 to 31"
    )
    assert window.category == "window" and window.fields == ("vsdat",) and window.run == 1
    assert by_key["S-02/baseline/dm/dq.missing_value"].message == ("1 needed value(s) missing: sex")
    assert by_key["S-03/week_4/vs/dq.missing_form"].message == (
        "form 'vs' has no record (visit 'week_4' window closed on 2030-01-01)"
    )
    assert by_key["S-04/baseline/dm/dq.missing_form"].message == (
        "form 'dm' has no record (the baseline visit is due from enrolment)"
    )
    assert by_key["S-01/week_4/vs/vs.weight_change"].message == (
        "weight more than 20 % above baseline (weight=90, baseline__vs__weight=70)"
    )
    saved = by_key["S-01/week_4/vs/vs.sysbp_high"]
    assert (saved.category, saved.run, saved.site) == ("edit-check", None, "site01")


def test_an_amendment_tightening_a_range_and_adding_a_check_is_caught_by_the_next_run(
    study: Store,
) -> None:
    study.amend_protocol(protocol(**AMENDED), actor="admin", reason="weight limit per DSMB")
    study.run_quality_rules(actor="monitor")
    found = {i.key: i for i in study.data_quality(source="dq-rule")}
    weight = found["S-01/week_4/vs/dq.out_of_range/weight"]
    assert weight.message == "field 'weight': '90' is out of range; allowed 2 to 80 kg"
    assert "S-01/week_4/vs/vs.weight_change" not in found  # it reads no out-of-range value
    low = found["S-03/baseline/vs/vs.sysbp_low"]
    assert (low.category, low.severity) == ("edit-check", "error")
    assert low.message == "systolic pressure below 90 mmHg (sysbp=85)"
    assert study.quality_runs()[-1].protocol_version == "2"


def test_two_runs_over_the_same_data_give_the_identical_list(study: Store) -> None:
    first = study.run_quality_rules(actor="monitor")
    listed = study.data_quality()
    second = study.run_quality_rules(actor="monitor")
    assert study.data_quality() == [
        type(i)(**{**i.__dict__, "run": i.run and second.run}) for i in listed
    ]
    assert (first.findings_sha256, first.data_sha256) == (
        second.findings_sha256, second.data_sha256,
    )  # fmt: skip
    study.save_record(
        "S-04", "baseline", "dm", {"sex": "F"}, actor="coord"
    )  # the data change: so do the hash and the list
    third = study.run_quality_rules(actor="monitor")
    assert third.data_sha256 != second.data_sha256
    assert "S-04/baseline/dm/dq.missing_form" not in {i.key for i in study.data_quality()}


def test_a_run_is_audited_and_verified(study: Store, db_url: str) -> None:
    run = study.run_quality_rules(actor="monitor")
    events = [e for e in audit_events(db_url) if e["entity_type"] == "dq_run"]
    assert [(e["action"], e["entity_key"], e["actor"]) for e in events] == [
        ("run", "dq-test@dq-run:1", "monitor")
    ]
    after = events[0]["after"]
    assert isinstance(after, dict) and after["findings_sha256"] == run.findings_sha256
    assert after["counts"]["findings"] == 7 and after["protocol_version"] == "1"
    assert verify_audit(db_url).ok


def test_an_exclusion_needs_a_reason_is_audited_and_survives_a_rerun(
    study: Store, db_url: str
) -> None:
    study.run_quality_rules(actor="monitor")
    key = "S-01/week_4/vs/dq.visit_window"
    with pytest.raises(InputError, match=f"excluding {key}: a reason is required"):
        study.exclude_finding(key, reason="  ", actor="monitor")
    item = study.exclude_finding(key, reason="visit moved by the sponsor", actor="monitor")
    assert (item.status, item.detail) == ("excluded", "visit moved by the sponsor")
    with pytest.raises(InputError, match="already excluded"):
        study.exclude_finding(key, reason="again", actor="monitor")
    study.run_quality_rules(actor="monitor")
    assert _listed(study, status="excluded") == [(key, "dq-rule", "excluded")]
    events = [e for e in audit_events(db_url) if e["entity_type"] == "dq_exclusion"]
    assert [(e["action"], e["entity_key"], e["reason"]) for e in events] == [
        ("exclude", f"dq-test/{key}", "visit moved by the sponsor")
    ]
    after = events[0]["after"]
    assert isinstance(after, dict) and len(after.pop("data_sha256")) == 64
    assert after == {
        "finding": key, "rule": "dq.visit_window", "status": "excluded",
        "reason": "visit moved by the sponsor",
    }  # fmt: skip
    assert verify_audit(db_url).ok


def test_an_excluded_finding_reappears_when_its_data_change_and_after_a_revoke(
    study: Store, db_url: str
) -> None:
    study.run_quality_rules(actor="monitor")
    key = "S-01/week_4/vs/vs.weight_change"
    study.exclude_finding(key, reason="sponsor agreed", actor="monitor")
    study.save_record(
        "S-01", "week_4", "vs", {"weight": "95"}, actor="coord", reason="typo",
        expected_version=1,
    )  # fmt: skip
    study.run_quality_rules(actor="monitor")
    (item,) = study.data_quality(rule="vs.weight_change")
    assert item.status == "open"
    assert item.detail == "excluded by monitor (sponsor agreed), but the data changed since"
    study.exclude_finding(key, reason="still agreed", actor="monitor")  # over the new data
    with pytest.raises(InputError, match="a reason is required"):
        study.revoke_exclusion(key, reason="", actor="admin")
    study.revoke_exclusion(key, reason="sponsor withdrew the waiver", actor="admin")
    assert _listed(study, rule="vs.weight_change") == [(key, "dq-rule", "open")]
    with pytest.raises(NotFoundError, match=f"no exclusion of {key} to revoke"):
        study.revoke_exclusion(key, reason="twice", actor="admin")
    actions = [e["action"] for e in audit_events(db_url) if e["entity_type"] == "dq_exclusion"]
    assert actions == ["exclude", "exclude", "revoke"]
    assert verify_audit(db_url).ok


def test_a_save_time_window_warning_stands_for_the_runs_window_finding(study: Store) -> None:
    study.run_quality_rules(actor="monitor")
    study.save_record(
        "S-01", "week_4", "vs", {"vsdat": "2029-12-21"}, actor="coord", reason="typo",
        expected_version=1,
    )  # fmt: skip  # the save now knows the baseline date and opens builtin.visit_window
    study.run_quality_rules(actor="monitor")
    assert _listed(study, subject_id="S-01") == [
        ("S-01/week_4/vs/builtin.visit_window", "edit-check", "open"),
        ("S-01/week_4/vs/vs.sysbp_high", "edit-check", "open"),
        ("S-01/week_4/vs/vs.weight_change", "dq-rule", "open"),
    ]


def test_exclusions_are_refused_for_unknown_findings_other_sites_and_save_time_ones(
    study: Store,
) -> None:
    with pytest.raises(
        NotFoundError, match=r"no data-quality finding S-01/x/vs/r in the latest run \(no run yet\)"
    ):
        study.exclude_finding("S-01/x/vs/r", reason="r", actor="m")
    study.run_quality_rules(actor="monitor")
    with pytest.raises(
        NotFoundError, match=r"no data-quality finding S-03/week_4/vs/dq\.missing_form$"
    ):
        study.exclude_finding(
            "S-03/week_4/vs/dq.missing_form", reason="r", actor="m", sites=("site01",)
        )
    with pytest.raises(InputError, match="is a save-time discrepancy: resolve it"):
        study.exclude_finding("S-01/week_4/vs/vs.sysbp_high", reason="r", actor="m")
    with pytest.raises(NotFoundError, match="no data-quality finding NOPE/a/b/c"):
        study.exclude_finding("NOPE/a/b/c", reason="r", actor="m")


def test_the_list_filters_by_site_subject_form_rule_status_and_source(study: Store) -> None:
    study.run_quality_rules(actor="monitor")
    keys: Callable[..., list[str]] = lambda **f: [i.key for i in study.data_quality(**f)]  # noqa: E731
    assert keys(sites=("site02",)) == [k for k, _, _ in EXPECTED if k.startswith(("S-03", "S-04"))]
    assert keys(site="site01", form_id="dm") == ["S-02/baseline/dm/dq.missing_value"]
    assert keys(subject_id="S-01", source="edit-check") == ["S-01/week_4/vs/vs.sysbp_high"]
    assert keys(rule="dq.missing_form", sites=()) == []
    study.resolve_discrepancy(
        "S-01", "week_4", "vs", "vs.sysbp_high", reason="confirmed", actor="i"
    )
    assert keys(status="resolved") == ["S-01/week_4/vs/vs.sysbp_high"]
    with pytest.raises(InputError, match="status 'closed' is not one of open, resolved, excluded"):
        study.data_quality(status="closed")


def test_the_csv_export_has_one_row_per_item_and_neutralises_formulas(study: Store) -> None:
    study.run_quality_rules(actor="monitor")
    items = study.data_quality()
    rows = list(csv.reader(io.StringIO(quality_csv(items))))
    assert tuple(rows[0]) == QUALITY_CSV_COLUMNS
    assert [r[0] for r in rows[1:]] == [k for k, _, _ in EXPECTED]
    item = items[0]
    evil = type(item)(**{**item.__dict__, "detail": "=HYPERLINK(1)"})
    assert list(csv.reader(io.StringIO(quality_csv([evil]))))[1][13] == "'=HYPERLINK(1)"


def test_verify_reports_a_run_whose_findings_were_edited(sqlite_url: str) -> None:
    store = open_store(sqlite_url, protocol())
    store.clock = Clock()
    try:
        populate(store)
        store.run_quality_rules(actor="monitor")
        store.exclude_finding("S-02/baseline/vs/dq.missing_form", reason="lost", actor="m")
    finally:
        store.close()
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE dq_run SET findings_json = '[]'"))
        conn.execute(text("UPDATE dq_exclusion SET reason = 'forged'"))
    engine.dispose()
    result = verify_audit(sqlite_url)
    assert not result.ok
    assert (result.mismatched_kind, result.mismatched_record) == (
        "data-quality run", "dq-test@dq-run:1",
    )  # fmt: skip


def _statements_of(store: Store) -> int:
    """How many SQL statements a run and a read of the list send."""
    seen: list[str] = []

    def _count(conn: object, cursor: object, statement: str, *rest: object) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", _count)
    store.run_quality_rules(actor="monitor")
    store.data_quality()
    event.remove(store.engine, "before_cursor_execute", _count)
    return len(seen)


def test_a_run_and_the_list_read_with_as_many_queries_for_more_subjects(sqlite_url: str) -> None:
    """One pass with batched reads: the statements of a run do not grow with the study."""
    counts = []
    for subjects in (2, 12):
        store = open_store(sqlite_url.replace("study.db", f"s{subjects}.db"), protocol())
        store.clock = Clock()
        try:
            for n in range(subjects):
                store.add_subject(f"S-{n:02d}", arm="a", site="site01", actor="setup")
                store.save_record(
                    f"S-{n:02d}", "baseline", "vs", {"vsdat": "2029-12-01", "weight": "2"},
                    actor="setup",
                )  # fmt: skip
            counts.append(_statements_of(store))
        finally:
            store.close()
    assert counts[0] == counts[1]
