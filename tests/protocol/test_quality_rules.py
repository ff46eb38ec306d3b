"""The pure data-quality runner: each rule on hand-made records, study rules checked at load time,
and properties (never raises on any stored values, order-independent)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests._quality_study import PROTOCOL_YAML, protocol

from clestudy.errors import ProtocolError
from clestudy.protocol import QualityRecord, parse_protocol, run_quality_rules

TODAY = dt.date(2030, 1, 7)
P = protocol()


def _keys(records: list[QualityRecord], subjects: tuple[str, ...] = ("S1",)) -> list[str]:
    return [f.key for f in run_quality_rules(P, subjects, records, today=TODAY)]


def _base(**vs: object) -> list[QualityRecord]:
    return [
        QualityRecord("S1", "baseline", "dm", 1, {"sex": "F"}),
        QualityRecord("S1", "baseline", "vs", 1, {"vsdat": "2029-12-01", "weight": "70", **vs}),
    ]


def test_a_complete_baseline_before_week_4_is_due_has_no_finding() -> None:
    # the week-4 window closes on 2030-01-01: not due on that day
    assert run_quality_rules(P, ["S1"], _base(), today=dt.date(2030, 1, 1)) == []


def test_missing_forms_are_the_due_visits_non_repeating_forms_without_a_record() -> None:
    assert _keys([]) == ["S1/baseline/dm/dq.missing_form", "S1/baseline/vs/dq.missing_form"]
    # from 2030-01-02 week 4 is due (its repeating AE form never is); week 8 is not yet
    found = run_quality_rules(P, ["S1"], _base(), today=dt.date(2030, 1, 2))
    assert [(f.key, f.message) for f in found] == [
        ("S1/week_4/vs/dq.missing_form",
         "form 'vs' has no record (visit 'week_4' window closed on 2030-01-01)"),
    ]  # fmt: skip


def test_missing_values_name_every_needed_field_in_one_finding() -> None:
    found = run_quality_rules(
        P, [], [QualityRecord("S1", "baseline", "vs", 1, {"sysbp": 120, "weight": ""})],
        today=dt.date(2029, 12, 1),
    )  # fmt: skip
    assert [f.key for f in found] == [
        "S1/baseline/dm/dq.missing_form", "S1/baseline/vs/dq.missing_value",
    ]  # fmt: skip
    finding = found[1]
    assert finding.key == "S1/baseline/vs/dq.missing_value"
    assert finding.fields == ("vsdat", "weight")
    assert finding.message == "2 needed value(s) missing: vsdat, weight"


def test_out_of_range_is_per_field_and_those_values_are_read_by_no_other_rule() -> None:
    found = run_quality_rules(P, [], _base(weight="400", sysbp="abc"), today=dt.date(2030, 1, 1))
    assert [(f.key, f.message) for f in found] == [
        ("S1/baseline/vs/dq.out_of_range/weight",
         "field 'weight': '400' is out of range; allowed 2 to 300 kg"),
        ("S1/baseline/vs/dq.out_of_range/sysbp", "field 'sysbp': 'abc' is not an integer"),
    ]  # fmt: skip


def test_visit_window_and_edit_checks_rerun_with_the_current_baseline() -> None:
    records = [
        *_base(),
        QualityRecord(
            "S1", "week_4", "vs", 1, {"vsdat": "2029-12-20", "weight": "71", "sysbp": 201}
        ),
    ]
    found = run_quality_rules(P, [], records, today=dt.date(2030, 1, 1))
    assert [(f.key, f.category, f.severity) for f in found] == [
        ("S1/week_4/vs/dq.visit_window", "window", "warning"),
        ("S1/week_4/vs/vs.sysbp_high", "edit-check", "warning"),
    ]


def test_a_study_rule_reads_another_visit_and_applies_only_when_its_values_are_there() -> None:
    heavy = QualityRecord("S1", "week_4", "vs", 1, {"vsdat": "2029-12-29", "weight": "85"})
    (finding,) = run_quality_rules(P, [], [*_base(), heavy], today=dt.date(2030, 1, 1))
    assert (finding.key, finding.category, finding.fields) == (
        "S1/week_4/vs/vs.weight_change", "study-rule", ("weight",),
    )  # fmt: skip
    without_baseline = [_base()[0], heavy]
    found = run_quality_rules(P, [], without_baseline, today=dt.date(2030, 1, 1))
    assert "S1/week_4/vs/vs.weight_change" not in [f.key for f in found]


def test_records_of_visits_or_forms_the_protocol_no_longer_has_are_left_out() -> None:
    gone = [
        QualityRecord("S1", "week_99", "vs", 1, {}),
        QualityRecord("S1", "baseline", "x", 1, {}),
    ]
    assert run_quality_rules(P, [], [*_base(), *gone], today=dt.date(2030, 1, 1)) == []


_RULE = "rule: weight <= baseline__vs__weight * 1.2"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (_RULE, "rule: wieght > 1", r"quality_rules\[0\]\.rule: 'wieght > 1': unknown name 'wieght'"),
        (_RULE, "rule: weight + 1", r"quality_rules\[0\]\.rule: 'weight \+ 1': must give true or false"),
        ("id: vs.weight_change", "id: dq.mine",
         r"quality_rules\[0\]\.id: reserved \(built-in or edit-check\) rule id 'dq.mine'"),
        ("id: vs.weight_change", "id: vs.sysbp_high",
         r"quality_rules\[0\]\.id: reserved \(built-in or edit-check\) rule id 'vs.sysbp_high'"),
        ("id: vs.weight_change\n  form: vs", "id: vs.weight_change\n  form: nope",
         r"quality_rules\[0\]\.form: unknown form 'nope'"),
    ],
)  # fmt: skip
def test_study_rules_are_checked_when_the_protocol_loads(old: str, new: str, message: str) -> None:
    assert old in PROTOCOL_YAML
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(PROTOCOL_YAML.replace(old, new), "p.yaml")


# -- properties -----------------------------------------------------------------------------------

_VALUES = st.one_of(
    st.none(), st.integers(-(10**12), 10**12), st.booleans(), st.text(max_size=12),
    st.sampled_from(["2029-12-01", "2030-02-30", "70", "1e400", "-0.0", "F", "X", ""]),
    st.lists(st.text(max_size=3), max_size=3),
)  # fmt: skip
_FIELDS = ["vsdat", "weight", "sysbp", "sex", "brthdat", "aeterm", "unknown"]
_RECORDS = st.lists(
    st.builds(
        QualityRecord,
        subject_id=st.sampled_from(["S1", "S2", "S3"]),
        visit_id=st.sampled_from(["baseline", "week_4", "week_8", "gone"]),
        form_id=st.sampled_from(["dm", "vs", "ae", "x"]),
        instance=st.integers(1, 3),
        values=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=6),
    ),
    max_size=12,
    unique_by=lambda r: (r.subject_id, r.visit_id, r.form_id, r.instance),  # as a store holds them
)


@settings(max_examples=150, deadline=None)
@given(records=_RECORDS, seed=st.integers(0, 2**32 - 1))
def test_the_runner_never_raises_and_does_not_depend_on_input_order(
    records: list[QualityRecord], seed: int
) -> None:
    found = run_quality_rules(P, ["S1", "S4"], records, today=TODAY)
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    assert run_quality_rules(P, ["S4", "S1"], shuffled, today=TODAY) == found
    keys = [f.key for f in found]
    assert len(keys) == len(set(keys))  # one finding per stable key
