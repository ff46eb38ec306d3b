"""Edit checks: the built-in checks, declared rules, and their load-time validation."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from clestudy.errors import NotFoundError, ProtocolError, RecordValidationError
from clestudy.protocol import (
    BUILTIN_CHECK_IDS,
    CheckContext,
    EditFinding,
    Protocol,
    load_protocol,
    parse_protocol,
    run_edit_checks,
    validate_values,
)

OPEN_LABEL = load_protocol("lenalidomide-cle-open-label")
CHART = load_protocol("pediatric-cle-chart-review")
TODAY = dt.date(2025, 6, 1)
BASELINE = dt.date(2024, 1, 8)


def _ctx(visit: str = "week_12", **dates: dt.date) -> CheckContext:
    dates.setdefault("baseline_date", BASELINE)
    return CheckContext.for_visit(OPEN_LABEL, visit, today=TODAY, **dates)


def _ids(findings: list[EditFinding]) -> list[tuple[str, str]]:
    return [(f.check_id, f.severity) for f in findings]


GOOD_AE = {
    "aeterm": "Rash",
    "aestdat": "2024-03-01",
    "aeendat": "2024-03-10",
    "aetoxgr": 2,
    "aeser": False,
    "aeout": "RECOVERED/RESOLVED",
}


def test_a_consistent_record_has_no_findings() -> None:
    assert run_edit_checks(OPEN_LABEL, "ae", GOOD_AE, _ctx()) == []
    labs = {"lbdat": "2024-04-01", "wbc": "6.0", "neut": "3.5", "lym": "1.8", "hgb": "13.1"}
    assert run_edit_checks(OPEN_LABEL, "labs", labs, _ctx()) == []


def test_context_takes_the_visit_window_from_the_protocol() -> None:
    ctx = CheckContext.for_visit(CHART, "month_6", today=TODAY)
    assert (ctx.visit_id, ctx.visit_day, ctx.window_before, ctx.window_after) == (
        "month_6",
        182,
        30,
        30,
    )
    with pytest.raises(NotFoundError, match="visit 'week_99' is not in pediatric"):
        CheckContext.for_visit(CHART, "week_99", today=TODAY)


def test_unknown_form_is_refused() -> None:
    with pytest.raises(NotFoundError, match="form 'nope' is not in lenalidomide"):
        run_edit_checks(OPEN_LABEL, "nope", {}, _ctx())


def test_visit_window_warns_outside_and_passes_at_the_edges() -> None:
    # week_12 is day 84 with a 7-day window either side: days 77..91 from baseline.
    for day, fires in ((76, True), (77, False), (91, False), (92, True), (-3, True)):
        date = (BASELINE + dt.timedelta(days=day)).isoformat()
        findings = run_edit_checks(OPEN_LABEL, "vs", {"vsdat": date}, _ctx())
        assert (_ids(findings) == [("builtin.visit_window", "warning")]) is fires, day
    findings = run_edit_checks(OPEN_LABEL, "clasi", {"rsdat": "2023-12-01"}, _ctx())
    assert findings[0].fields == ("rsdat",)
    assert "study day -38" in findings[0].message
    assert "'week_12' allows days 77 to 91" in findings[0].message


def test_visit_window_needs_a_baseline_date() -> None:
    ctx = CheckContext.for_visit(OPEN_LABEL, "week_12", today=TODAY)
    assert run_edit_checks(OPEN_LABEL, "vs", {"vsdat": "2024-01-08"}, ctx) == []


def test_future_dates_and_dates_before_birth_are_errors() -> None:
    labs = {"lbdat": "2099-01-01"}
    ctx = _ctx(birth_date=dt.date(1980, 5, 1))
    findings = run_edit_checks(OPEN_LABEL, "labs", labs, ctx)
    assert ("builtin.date_not_in_future", "error") in _ids(findings)
    assert "field 'lbdat' 2099-01-01 is in the future (today is 2025-06-01)" in findings[-1].message
    early = run_edit_checks(OPEN_LABEL, "ae", {**GOOD_AE, "aestdat": "1979-01-01"}, ctx)
    assert _ids(early) == [("builtin.date_not_before_birth", "error")]
    assert early[0].fields == ("aestdat",)


def test_birth_date_on_the_form_itself_is_used_and_not_checked_against_itself() -> None:
    ctx = CheckContext.for_visit(OPEN_LABEL, "week_0", today=TODAY)
    assert run_edit_checks(OPEN_LABEL, "dm", {"brthdat": "1970-02-03", "age": 54}, ctx) == []
    future = run_edit_checks(OPEN_LABEL, "dm", {"brthdat": "2030-01-01"}, ctx)
    assert _ids(future) == [("builtin.date_not_in_future", "error")]


def test_visit_before_enrolment_warns() -> None:
    ctx = _ctx(enrolment_date=dt.date(2024, 4, 20))
    findings = run_edit_checks(OPEN_LABEL, "labs", {"lbdat": "2024-04-01"}, ctx)
    assert _ids(findings) == [("builtin.not_before_enrolment", "warning")]


def test_ae_ending_before_it_starts_is_an_error_naming_both_fields() -> None:
    ae = {**GOOD_AE, "aeendat": "2024-02-01"}
    (finding,) = run_edit_checks(OPEN_LABEL, "ae", ae, _ctx())
    assert finding == EditFinding(
        "builtin.end_not_before_start",
        "error",
        "field 'aeendat' 2024-02-01 is before field 'aestdat' 2024-03-01",
        ("aestdat", "aeendat"),
    )


@pytest.mark.parametrize(
    ("changes", "fields", "message"),
    [
        ({"aetoxgr": 5}, ("aetoxgr", "aeout", "aeser"), "needs outcome FATAL, not RECOVERED"),
        ({"aetoxgr": 5, "aeout": "FATAL", "aeser": True}, None, ""),
        ({"aetoxgr": 5, "aeout": "FATAL"}, ("aeser",), "resulting in death is serious"),
        ({"aetoxgr": 3, "aeout": "FATAL", "aeser": True}, ("aetoxgr", "aeout"), "needs grade 5"),
    ],
)
def test_grade_5_is_fatal_and_serious(
    changes: dict[str, object], fields: tuple[str, ...] | None, message: str
) -> None:
    findings = run_edit_checks(OPEN_LABEL, "ae", {**GOOD_AE, **changes}, _ctx())
    grade5 = [f for f in findings if f.check_id == "builtin.grade5_fatal_serious"]
    if fields is None:
        assert grade5 == []
    else:
        assert [(f.severity, f.fields) for f in grade5] == [("error", fields)]
        assert message in grade5[0].message


def test_recovered_needs_an_end_date() -> None:
    ae = {k: v for k, v in GOOD_AE.items() if k != "aeendat"}
    assert _ids(run_edit_checks(OPEN_LABEL, "ae", ae, _ctx())) == [
        ("builtin.recovered_has_end_date", "warning")
    ]
    ongoing = {**ae, "aeout": "NOT RECOVERED/NOT RESOLVED"}
    assert run_edit_checks(OPEN_LABEL, "ae", ongoing, _ctx()) == []


def test_every_failure_of_one_record_is_reported_at_once() -> None:
    ae = {**GOOD_AE, "aestdat": "2099-03-01", "aeendat": "2024-02-01", "aetoxgr": 5}
    ids = [f.check_id for f in run_edit_checks(OPEN_LABEL, "ae", ae, _ctx())]
    assert ids == [
        "builtin.date_not_in_future",
        "builtin.end_not_before_start",
        "builtin.grade5_fatal_serious",
    ]
    assert set(ids) <= set(BUILTIN_CHECK_IDS)


@pytest.mark.parametrize("p", [OPEN_LABEL, CHART], ids=lambda p: p.id)
def test_builtin_protocols_check_the_differential_with_decimals(p: Protocol) -> None:
    visit = p.visits[0].id
    ctx = CheckContext.for_visit(p, visit, today=TODAY)
    form = p.form("labs")
    assert form is not None
    units = {f.unit for f in form.fields if f.id in ("wbc", "neut", "lym")}
    assert units == {"10^9/L"}, "the rule compares the three counts in one unit"
    # 3.3 = 1.1 + 2.2 exactly in decimals (in binary floats 1.1 + 2.2 > 3.3).
    ok = validate_values(
        form, {"lbdat": "2024-01-08", "wbc": 3.3, "neut": 1.1, "lym": 2.2}, where="x"
    )
    assert run_edit_checks(p, "labs", ok, ctx) == []
    bad = {**ok, "wbc": "3.2"}
    (finding,) = run_edit_checks(p, "labs", bad, ctx)
    assert finding.check_id == "labs.wbc_covers_differential"
    assert finding.severity == "warning"
    assert finding.fields == ("wbc", "neut", "lym")
    assert finding.message.endswith("(wbc=3.2, neut=1.1, lym=2.2)")


def test_builtin_lab_plausibility_warnings_cite_ctcae() -> None:
    labs = {
        "lbdat": "2024-04-01",
        "wbc": "0.9",
        "neut": "0.4",
        "lym": "0.1",
        "plat": "20",
        "hgb": "7.5",
    }
    findings = run_edit_checks(OPEN_LABEL, "labs", labs, _ctx())
    assert _ids(findings) == [
        ("labs.wbc_grade4", "warning"),
        ("labs.neut_grade4", "warning"),
        ("labs.lym_grade4", "warning"),
        ("labs.plat_grade4", "warning"),
        ("labs.hgb_grade3", "warning"),
    ]
    for check in OPEN_LABEL.edit_checks:
        assert check.source, f"{check.id} cites its source"


def test_a_rule_is_skipped_while_a_field_it_reads_is_empty() -> None:
    assert run_edit_checks(OPEN_LABEL, "labs", {"lbdat": "2024-04-01", "wbc": "0.5"}, _ctx()) != []
    assert run_edit_checks(OPEN_LABEL, "labs", {"lbdat": "2024-04-01", "neut": "9"}, _ctx()) == []


def test_a_value_of_the_wrong_type_is_refused_naming_the_field() -> None:
    with pytest.raises(RecordValidationError, match=r"week_12/labs: field 'lbdat': 'soon'"):
        run_edit_checks(OPEN_LABEL, "labs", {"lbdat": "soon"}, _ctx())


MINI = """\
id: mini
title: Minimal study
version: "1"
arms: [{id: a, name: Arm A}]
sites: [{id: s1, name: Site 1}]
visits: [{id: v0, name: Baseline, day: 0, window_after: 10, forms: [f]}]
forms:
  - id: f
    name: Form
    visit_date: fdat
    fields:
      - {id: fdat, label: Date, type: date}
      - {id: low, label: Low, type: integer, min: 0, max: 10}
      - {id: high, label: High, type: decimal}
      - {id: kind, label: Kind, type: single_choice, choices: [{code: a, label: A}, {code: b, label: B}]}
edit_checks:
  - id: f.order
    form: f
    rule: RULE
    when: WHEN
    severity: warning
    message: low must not exceed high
"""


def _mini(rule: str = "low <= high", when: str = "kind == 'a'") -> str:
    return MINI.replace("RULE", json.dumps(rule)).replace("WHEN", json.dumps(when))


def test_declared_rule_with_a_condition() -> None:
    p = parse_protocol(_mini(), "mini.yaml")
    ctx = CheckContext.for_visit(p, "v0", today=TODAY)
    assert run_edit_checks(p, "f", {"low": 5, "high": "4.5", "kind": "b"}, ctx) == []
    (finding,) = run_edit_checks(p, "f", {"low": 5, "high": "4.5", "kind": "a"}, ctx)
    assert finding == EditFinding(
        "f.order", "warning", "low must not exceed high (low=5, high=4.5)", ("low", "high")
    )


def test_days_between_and_context_dates_in_a_rule() -> None:
    p = parse_protocol(_mini("days_between(baseline_date, fdat) <= 3", "fdat == fdat"), "mini.yaml")
    ctx = CheckContext.for_visit(p, "v0", today=TODAY, baseline_date=dt.date(2024, 1, 1))
    assert run_edit_checks(p, "f", {"fdat": "2024-01-04"}, ctx) == []
    assert [f.check_id for f in run_edit_checks(p, "f", {"fdat": "2024-01-05"}, ctx)] == ["f.order"]
    no_baseline = CheckContext.for_visit(p, "v0", today=TODAY)
    assert run_edit_checks(p, "f", {"fdat": "2024-01-05"}, no_baseline) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "low <= hihg",
            r"mini\.yaml:19: edit_checks\[0\]\.rule: 'low <= hihg': unknown name 'hihg'",
        ),
        ("low <=", r"edit_checks\[0\]\.rule: 'low <=': not a valid expression"),
        ("open('x')", r"unknown function 'open'"),
        ("low.__class__ == 1", r"'Attribute' is not allowed"),
        ("[x for x in (1, 2)] == 1", r"'ListComp' is not allowed"),
        ("fdat > 3", r"cannot be evaluated on values of the fields' types"),
        ("low + 1", r"must give true or false, not a int"),
        ("-" * 150 + "low > 0", r"too long \(30[0-9] parts"),
    ],
)
def test_bad_rules_fail_when_the_protocol_loads(rule: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(_mini(rule), "mini.yaml")


def test_bad_check_references_fail_when_the_protocol_loads() -> None:
    text = _mini().replace("form: f\n    rule", "form: g\n    rule")
    with pytest.raises(ProtocolError, match=r"edit_checks\[0\]\.form: unknown form 'g'"):
        parse_protocol(text, "mini.yaml")
    text = _mini().replace("id: f.order", "id: builtin.order")
    with pytest.raises(
        ProtocolError, match=r"reserved \(built-in checks\) check id 'builtin.order'"
    ):
        parse_protocol(text, "mini.yaml")
    text = _mini().replace("severity: warning", "severity: warning\n    fields: [low, nope]")
    with pytest.raises(
        ProtocolError, match=r"edit_checks\[0\]\.fields\[1\]: 'nope' is not a field"
    ):
        parse_protocol(text, "mini.yaml")
    text = _mini().replace("visit_date: fdat", "visit_date: low")
    with pytest.raises(ProtocolError, match=r"forms\[0\]\.visit_date: 'low' is not a date field"):
        parse_protocol(text, "mini.yaml")
