"""A small two-site study for the data-quality tests, with every built-in rule's case in it.

Dates lie in 2029 and the clock in 2030 (after the real time at which the study is registered:
audit times never go back). As of 2030-01-07, with baseline 2029-12-01, the week-4 window (day 25
to 31) has closed on 2030-01-01 and the week-8 window (to day 59) is still open.
"""

from __future__ import annotations

import datetime as dt

from clestudy.protocol import Protocol, parse_protocol
from clestudy.store import Store

STUDY = "dq-test"
NOW = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)

PROTOCOL_YAML = """
id: dq-test
title: Data-quality test study
version: '1'
arms: [{id: a, name: Arm A}]
sites: [{id: site01, name: Site 01}, {id: site02, name: Site 02}]
visits:
- {id: baseline, name: Baseline, day: 0, forms: [dm, vs]}
- {id: week_4, name: Week 4, day: 28, window_before: 3, window_after: 3, forms: [vs, ae]}
- {id: week_8, name: Week 8, day: 56, window_before: 3, window_after: 3, forms: [vs]}
forms:
- id: dm
  name: Demographics
  fields:
  - {id: brthdat, label: Date of birth, type: date, cdash: BRTHDAT}
  - id: sex
    label: Sex
    type: single_choice
    required: true
    cdash: SEX
    choices: [{code: F, label: Female}, {code: M, label: Male}]
- id: vs
  name: Vital signs
  visit_date: vsdat
  fields:
  - {id: vsdat, label: Date, type: date, required: true}
  - {id: weight, label: Weight, type: decimal, unit: kg, min: 2, max: 300, required: true}
  - {id: sysbp, label: Systolic pressure, type: integer, unit: mmHg, min: 50, max: 250}
- id: ae
  name: Adverse event
  repeating: true
  fields:
  - {id: aeterm, label: Term, type: text, required: true}
edit_checks:
- id: vs.sysbp_high
  form: vs
  rule: sysbp < 200
  severity: warning
  message: systolic pressure of 200 mmHg or more
quality_rules:
- id: vs.weight_change
  form: vs
  rule: weight <= baseline__vs__weight * 1.2
  message: weight more than 20 % above baseline
"""


def protocol(**changes: str) -> Protocol:
    """The study's protocol; ``changes`` replace exact substrings of its YAML (an amendment)."""
    text = PROTOCOL_YAML
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_protocol(text, "dq-test.yaml")


class Clock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def populate(store: Store) -> None:
    """Subjects S-01, S-02 at site01 and S-03, S-04 at site02 (see :data:`EXPECTED`)."""
    save = store.save_record
    for subject, site in (("S-01", "site01"), ("S-02", "site01"), ("S-03", "site02"),
                          ("S-04", "site02")):  # fmt: skip
        store.add_subject(subject, arm="a", site=site, actor="setup")
    save("S-01", "baseline", "dm", {"sex": "F", "brthdat": "1980-01-01"}, actor="coord")
    # week 4 entered before the baseline visit was dated: no window check could run on save
    save("S-01", "week_4", "vs", {"vsdat": "2029-12-20", "weight": "90", "sysbp": 210},
         actor="coord")  # fmt: skip
    save("S-01", "baseline", "vs", {"vsdat": "2029-12-01", "weight": "70", "sysbp": 120},
         actor="coord")  # fmt: skip
    save("S-02", "baseline", "dm", {"brthdat": "1990-05-05"}, actor="coord")
    save("S-03", "baseline", "dm", {"sex": "M"}, actor="coord")
    save("S-03", "baseline", "vs", {"vsdat": "2029-12-01", "weight": "70", "sysbp": 85},
         actor="coord")  # fmt: skip


#: The list after one run of the populated study: (key, source, status), in list order.
EXPECTED = [
    ("S-01/week_4/vs/dq.visit_window", "dq-rule", "open"),
    ("S-01/week_4/vs/vs.sysbp_high", "edit-check", "open"),
    ("S-01/week_4/vs/vs.weight_change", "dq-rule", "open"),
    ("S-02/baseline/dm/dq.missing_value", "dq-rule", "open"),
    ("S-02/baseline/vs/dq.missing_form", "dq-rule", "open"),
    ("S-03/week_4/vs/dq.missing_form", "dq-rule", "open"),
    ("S-04/baseline/dm/dq.missing_form", "dq-rule", "open"),
    ("S-04/baseline/vs/dq.missing_form", "dq-rule", "open"),
]
