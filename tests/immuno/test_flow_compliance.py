"""Gating-ML 2.0 compliance: data1.fcs through clestudy's pipeline gives the ISAC truth counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.cli import main
from clestudy.immuno import FlowOptions, GatingStrategyError, gate_fcs

# gml_parent_quadrant_rect_gate.xml names its gate ParRectangle1; the ISAC truth file for it is
# Results_ParQuadRect.txt (the same pairing as FlowKit's own compliance tests).
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
ALIASES = {"ParRectangle1": "ParQuadRect"}
# gml_range_gate_attr_testing.xml wraps its gate in a non-schema <sample> element: a file that
# must be refused, not gated.
INVALID = {"gml_range_gate_attr_testing.xml"}


def _truth(folder: Path) -> dict[str, int]:
    # one 0/1 line per event of data1.fcs (13,367 events); the count is the number of 1s
    out = {}
    for path in (folder / "truth").glob("Results_*.txt"):
        lines = path.read_text().split()
        out[path.stem.removeprefix("Results_")] = sum(int(x) for x in lines)
    return out


@pytest.mark.parametrize("chunk_events", [0, 4001])
def test_every_strategy_matches_truth(gatingml: Path, chunk_events: int) -> None:
    # 4001-event chunks: 4 chunks with a short last one; counts must not change
    truth = _truth(gatingml)
    checked = 0
    without_truth = set()
    for gml in sorted((gatingml / "gml").glob("*.xml")):
        if gml.name in INVALID:
            with pytest.raises(GatingStrategyError, match=rf"{gml.name}: not a usable Gating-ML"):
                gate_fcs(gatingml / "data1.fcs", gml)
            continue
        result = gate_fcs(gatingml / "data1.fcs", gml, FlowOptions(chunk_events=chunk_events))
        assert result.n_events == 13367
        for row in result.populations.itertuples(index=False):
            name = ALIASES.get(row.gate, row.gate)
            if name in truth:
                assert row.count == truth[name], f"{gml.name}: {row.gate}"
                checked += 1
            else:
                without_truth.add(row.gate)
    # every truth file is matched; the only gate without one is the second ellipse's
    assert without_truth == {"myEllipse2"}
    assert checked >= 2 * 49


def test_cli_contract(gatingml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gml = gatingml / "gml" / "gml_parent_quadrant_rect_gate.xml"
    assert (
        main(["flow", "gate", "--strategy", str(gml), str(gatingml / "data1.fcs"), "--json"]) == 0
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert all(set(r) == {"sample", "gate", "parent", "count", "percent_parent"} for r in out)
    # the total-events QC line goes to stderr, so stdout stays the contract's JSON
    assert f"qc: {gatingml / 'data1.fcs'}: 13367 events in total" in captured.err
    rows = {r["gate"]: r for r in out}
    truth = _truth(gatingml)
    gate = rows["ParRectangle1"]
    assert gate["count"] == truth["ParQuadRect"]
    assert gate["sample"] == "data1"
    assert gate["parent"] == "FL2P-FL4P"  # a quadrant of Quadrant1
    assert rows["FL2P-FL4P"]["parent"] is None
    expected = 100 * gate["count"] / rows["FL2P-FL4P"]["count"]
    assert gate["percent_parent"] == pytest.approx(expected)


def test_percentages_and_medians_do_not_depend_on_chunks(gatingml: Path) -> None:
    import flowkit as fk

    gml = gatingml / "gml" / "gml_all_gates.xml"
    opts = FlowOptions(median_channels=("FL1-H", "FL4-H"), chunk_events=0)
    whole = gate_fcs(gatingml / "data1.fcs", gml, opts).populations
    for size in (700, 1500, 4096):
        opts = FlowOptions(median_channels=("FL1-H", "FL4-H"), chunk_events=size * 3 + 1)
        parts = gate_fcs(gatingml / "data1.fcs", gml, opts).populations
        assert parts.drop(columns="percent_reference").equals(
            whole.drop(columns="percent_reference")
        )
    # percent of parent is FlowKit's relative_percent (quadrants and their children included)
    session = fk.Session(gating_strategy=fk.parse_gating_xml(str(gml)))
    session.add_samples(fk.Sample(str(gatingml / "data1.fcs"), sample_id="data1"))
    session.analyze_samples(use_mp=False)
    report = session.get_gating_results("data1").report
    expected = {
        (r["gate_name"], "/".join(r["gate_path"])): r["relative_percent"]
        for r in report.to_dict("records")
    }
    got = {(r["gate"], r["gate_path"]): r["percent_parent"] for r in whole.to_dict("records")}
    assert got == pytest.approx(expected)


@settings(derandomize=True, max_examples=8, deadline=None)
@given(st.integers(min_value=1500, max_value=20000))
def test_any_chunk_size_gives_truth_counts(chunk_events: int) -> None:
    folder = FIXTURES / "gatingml"
    if not (folder / "data1.fcs").is_file():
        pytest.skip(f"Gating-ML compliance fixtures not found at {folder}")
    truth = _truth(folder)
    opts = FlowOptions(chunk_events=chunk_events)
    result = gate_fcs(folder / "data1.fcs", folder / "gml" / "gml_all_gates.xml", opts)
    for row in result.populations.to_dict("records"):
        name = ALIASES.get(row["gate"], row["gate"])
        if name in truth:
            assert row["count"] == truth[name], (chunk_events, row["gate"])


def test_flowjo_workspace(gatingml: Path, tmp_path: Path) -> None:
    import flowkit as fk

    # a FlowJo 10 workspace written by FlowKit from the ISAC rectangle strategy
    strategy = fk.parse_gating_xml(str(gatingml / "gml" / "gml_rect1_gate.xml"))
    session = fk.Session(gating_strategy=strategy, fcs_samples=[str(gatingml / "data1.fcs")])
    wsp = tmp_path / "rect1.wsp"
    with wsp.open("wb") as handle:
        session.export_wsp(handle, "All Samples")
    result = gate_fcs(gatingml / "data1.fcs", wsp)
    assert result.populations["gate"].tolist() == ["Rectangle1"]
    assert result.populations["count"].tolist() == [_truth(gatingml)["Rectangle1"]]
