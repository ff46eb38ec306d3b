"""Gating-ML 2.0 compliance: data1.fcs through clestudy's pipeline gives the ISAC truth counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.immuno import GatingStrategyError, gate_fcs

# gml_parent_quadrant_rect_gate.xml names its gate ParRectangle1; the ISAC truth file for it is
# Results_ParQuadRect.txt (the same pairing as FlowKit's own compliance tests).
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


def test_every_strategy_matches_truth(gatingml: Path) -> None:
    truth = _truth(gatingml)
    checked = 0
    without_truth = set()
    for gml in sorted((gatingml / "gml").glob("*.xml")):
        if gml.name in INVALID:
            with pytest.raises(GatingStrategyError, match=rf"{gml.name}: not a usable Gating-ML"):
                gate_fcs(gatingml / "data1.fcs", gml)
            continue
        result = gate_fcs(gatingml / "data1.fcs", gml)
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
    out = json.loads(capsys.readouterr().out)
    assert all(set(r) == {"sample", "gate", "parent", "count", "percent_parent"} for r in out)
    rows = {r["gate"]: r for r in out}
    truth = _truth(gatingml)
    gate = rows["ParRectangle1"]
    assert gate["count"] == truth["ParQuadRect"]
    assert gate["sample"] == "data1"
    assert gate["parent"] == "FL2P-FL4P"  # a quadrant of Quadrant1
    assert rows["FL2P-FL4P"]["parent"] is None
    expected = 100 * gate["count"] / rows["FL2P-FL4P"]["count"]
    assert gate["percent_parent"] == pytest.approx(expected)
