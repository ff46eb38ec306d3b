"""Gating-ML 2.0 compliance: data1.fcs through clestudy's pipeline gives the ISAC truth, event by
event and in counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.cli import main
from clestudy.immuno import FlowOptions, GatingStrategyError, gate_fcs, load_strategy, read_sample

# gml_parent_quadrant_rect_gate.xml names its gate ParRectangle1; the ISAC truth file for it is
# Results_ParQuadRect.txt (the same pairing as FlowKit's own compliance tests).
ALIASES = {"ParRectangle1": "ParQuadRect"}
# gml_range_gate_attr_testing.xml wraps its gate in a non-schema <sample> element: a file that
# must be refused, not gated.
INVALID = {"gml_range_gate_attr_testing.xml"}
#: data1.fcs has 13,367 events; every truth file has one 0/1 line per event.
N_EVENTS = 13367
#: Populations with a truth file, summed over the suite's 46 usable strategy files (counted from
#: the files: gml_all_gates.xml's 49 and the single-gate files' 83), so an empty or short loop
#: fails. The one gate without a truth file is gml_ellipse2_gate.xml's myEllipse2.
N_GATES_WITH_TRUTH = 132
N_ALL_GATES_WITH_TRUTH = 49
WITHOUT_TRUTH = {"myEllipse2"}


def _truth(folder: Path) -> dict[str, np.ndarray]:
    """Each ``truth/Results_GATE.txt`` as its per-event membership (0/1 per line)."""
    out = {}
    for path in (folder / "truth").glob("Results_*.txt"):
        member = np.loadtxt(path, dtype=int)
        assert member.shape == (N_EVENTS,), path
        out[path.stem.removeprefix("Results_")] = member
    return out


def _strategies(folder: Path) -> list[Path]:
    return [p for p in sorted((folder / "gml").glob("*.xml")) if p.name not in INVALID]


def test_every_gate_matches_truth_event_by_event(gatingml: Path) -> None:
    # What FlowKit's own compliance tests check: the membership of every event, not only counts
    # (two misclassified events of opposite sign would cancel in a count).
    truth = _truth(gatingml)
    sample = read_sample(gatingml / "data1.fcs")
    checked: list[str] = []
    without_truth = set()
    for gml in _strategies(gatingml):
        results = load_strategy(gml).gate_sample(sample)
        for rec in results.report.to_dict("records"):
            gate = str(rec["gate_name"])
            name = ALIASES.get(gate, gate)
            if name not in truth:
                without_truth.add(gate)
                continue
            member = np.asarray(results.get_gate_membership(gate, tuple(rec["gate_path"])))
            wrong = np.flatnonzero(member.astype(int) != truth[name])
            assert wrong.size == 0, f"{gml.name}: {gate}: events {wrong[:10].tolist()} differ"
            checked.append(name)
    assert len(checked) == N_GATES_WITH_TRUTH
    assert set(checked) == set(truth)  # every truth file was compared
    assert without_truth == WITHOUT_TRUTH


def _check_counts(folder: Path, chunk_events: int, strategies: list[Path]) -> tuple[int, set[str]]:
    """Gate each strategy through :func:`gate_fcs` and compare each count with its truth file.

    Returns how many counts were compared and the gates without a truth file."""
    truth = {name: int(member.sum()) for name, member in _truth(folder).items()}
    checked = 0
    without_truth = set()
    for gml in strategies:
        result = gate_fcs(folder / "data1.fcs", gml, FlowOptions(chunk_events=chunk_events))
        assert result.n_events == N_EVENTS
        for row in result.populations.to_dict("records"):
            name = ALIASES.get(row["gate"], row["gate"])
            if name not in truth:
                without_truth.add(row["gate"])
                continue
            assert row["count"] == truth[name], (gml.name, chunk_events, row["gate"])
            checked += 1
    return checked, without_truth


@pytest.mark.parametrize("chunk_events", [0, 4001])
def test_every_strategy_matches_truth_counts(gatingml: Path, chunk_events: int) -> None:
    # 4001-event chunks: 4 chunks with a short last one; counts must not change
    checked, without_truth = _check_counts(gatingml, chunk_events, _strategies(gatingml))
    assert (checked, without_truth) == (N_GATES_WITH_TRUTH, WITHOUT_TRUTH)


def test_an_unusable_strategy_is_refused(gatingml: Path) -> None:
    for name in sorted(INVALID):
        with pytest.raises(GatingStrategyError, match=rf"{name}: not a usable Gating-ML"):
            gate_fcs(gatingml / "data1.fcs", gatingml / "gml" / name)


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
    assert gate["count"] == truth["ParQuadRect"].sum()
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
def test_any_chunk_size_gives_truth_counts(gatingml: Path, chunk_events: int) -> None:
    # gml_all_gates.xml holds the suite's gates in one strategy (the other files repeat them one
    # by one): 49 populations, each with a truth file
    all_gates = [gatingml / "gml" / "gml_all_gates.xml"]
    checked, without_truth = _check_counts(gatingml, chunk_events, all_gates)
    assert (checked, without_truth) == (N_ALL_GATES_WITH_TRUTH, set())


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
    assert result.populations["count"].tolist() == [_truth(gatingml)["Rectangle1"].sum()]
