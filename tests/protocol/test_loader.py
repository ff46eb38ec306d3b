"""Protocol loading: the built-in protocols, and one-line errors that name the YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from clestudy.errors import ProtocolError
from clestudy.protocol import BUILTIN_PROTOCOLS, load_protocol, parse_protocol

MINIMAL = """\
id: mini
title: Minimal study
version: "1"
arms: [{id: a, name: Arm A}]
sites: [{id: s1, name: Site 1}]
visits:
  - {id: v0, name: Baseline, day: 0, forms: [f]}
  - {id: v1, name: Follow-up, day: 28, window_before: 3, window_after: 3, forms: [f]}
forms:
  - id: f
    name: Form
    fields:
      - {id: score, label: Score, type: integer, min: 0, max: 10}
endpoints:
  - {id: score, label: Score, form: f, item: score}
analysis_plan:
  - {endpoint: score, before_visit: v0, after_visit: v1}
"""


@pytest.mark.parametrize("name", BUILTIN_PROTOCOLS)
def test_builtin_protocols_load(name: str) -> None:
    protocol = load_protocol(name)
    assert protocol.id == name
    assert protocol.analysis_plan, "each built-in protocol has a prespecified analysis"
    for visit in protocol.visits:
        for form_id in visit.forms:
            assert protocol.form(form_id) is not None


def test_open_label_protocol_matches_seed_design() -> None:
    protocol = load_protocol("lenalidomide-cle-open-label")
    assert [v.day // 7 for v in protocol.visits] == [0, 6, 12, 24, 52]
    assert {"clasi", "labs", "immune_profile", "ae"} <= {f.id for f in protocol.forms}
    assert protocol.endpoints[0].id == "clasi_activity"
    assert protocol.endpoints[0].role == "primary"
    assert protocol.derived_scores[0].instrument == "clasi"
    clasi = protocol.form("clasi")
    assert clasi is not None
    assert clasi.field("scalp_scarring") is not None


def test_chart_review_protocol_matches_seed_design() -> None:
    protocol = load_protocol("pediatric-cle-chart-review")
    assert [v.id for v in protocol.visits] == ["initiation", "month_6"]
    assert [a.endpoint for a in protocol.analysis_plan] == ["prednisone_mg_day", "esr", "lym"]
    assert all(a.rule == "t-then-wilcoxon" for a in protocol.analysis_plan)
    labs = protocol.form("labs")
    assert labs is not None
    esr = labs.field("esr")
    assert esr is not None and esr.unit == "mm/h"


def test_minimal_protocol_parses() -> None:
    protocol = parse_protocol(MINIMAL, "mini.yaml")
    assert protocol.visit("v1") is not None
    assert protocol.analysis_plan[0].rule == "t-then-wilcoxon"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "day: 28",
            "day: four weeks",
            r"^mini\.yaml:8: visits\[1\]\.day: Input should be a valid integer",
        ),
        (
            "forms: [f]}\nforms",
            "forms: [g]}\nforms",
            r"^mini\.yaml:8: visits\[1\]\.forms\[0\]: unknown form 'g'",
        ),
        (
            "min: 0, max: 10",
            "min: 10, max: 0",
            r"^mini\.yaml:13: forms\[0\]\.fields\[0\]: field 'score': min 10\.0 is greater than max 0\.0",
        ),
        (
            "after_visit: v1",
            "after_visit: v9",
            r"^mini\.yaml:17: analysis_plan\[0\]\.after_visit: unknown visit 'v9'",
        ),
        (
            "item: score}",
            "item: nope}",
            r"^mini\.yaml:15: endpoints\[0\]\.item: 'nope' is not a field of form 'f'",
        ),
        (
            "type: integer",
            "type: float",
            r"^mini\.yaml:13: forms\[0\]\.fields\[0\]\.type: Input should be 'integer'",
        ),
        (
            'version: "1"\n',
            'version: "1"\ncolour: red\n',
            r"^mini\.yaml:4: colour: Extra inputs are not permitted",
        ),
    ],
)
def test_errors_name_the_yaml_path_and_line(old: str, new: str, message: str) -> None:
    assert old in MINIMAL
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(MINIMAL.replace(old, new, 1), "mini.yaml")


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ProtocolError, match=r"^bad\.yaml:3: not valid YAML"):
        parse_protocol("id: x\ntitle: [unclosed\nversion: 1\n", "bad.yaml")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ProtocolError, match="must be a YAML mapping"):
        parse_protocol("- just\n- a list\n", "list.yaml")


def test_unknown_protocol_name_lists_builtins(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="built-in: lenalidomide-cle-open-label"):
        load_protocol(tmp_path / "missing.yaml")


def test_protocol_file_is_loaded_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_protocol(path).id == "mini"
