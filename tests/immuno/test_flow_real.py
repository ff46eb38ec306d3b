"""Real human FCS files from PyPI wheels: clestudy's pipeline agrees with FlowKit called directly."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import flowkit as fk
import numpy as np
import pytest

from clestudy.cli import main
from clestudy.immuno import FcsFileError, FlowOptions, gate_batch, gate_fcs

RealFcs = Callable[[str], Path]


def _flowkit_counts(path: Path, strategy: Path) -> dict[str, int]:
    """Counts from FlowKit's own Session, the reference implementation."""
    session = fk.Session(
        gating_strategy=fk.parse_gating_xml(str(strategy)), fcs_samples=[str(path)]
    )
    session.analyze_samples(use_mp=False)
    (sample_id,) = session.get_sample_ids()
    report = session.get_gating_results(sample_id).report
    return {str(r.gate_name): int(r.count) for r in report.itertuples()}


def test_facs_diva_with_spill_matches_flowkit(real_fcs: RealFcs, immuno_data: Path) -> None:
    path = real_fcs("facs_diva")
    strategy = immuno_data / "diva_bcell.xml"
    expected = _flowkit_counts(path, strategy)
    result = gate_fcs(path, strategy, FlowOptions(reference_gate="CD45_pos"))
    got = dict(zip(result.populations["gate"], result.populations["count"], strict=True))
    assert got == expected
    assert result.n_events == 83411
    assert expected["CD19_pos"] > 1000  # a real population, not an empty gate
    table = result.populations.set_index("gate")
    assert table.loc["CD45_pos", "percent_reference"] == pytest.approx(100.0)
    assert table.loc["CD19_pos", "percent_reference"] == pytest.approx(
        100 * expected["CD19_pos"] / expected["CD45_pos"]
    )


def test_cytof_batch_matches_flowkit(real_fcs: RealFcs, immuno_data: Path, tmp_path: Path) -> None:
    paths = [real_fcs(n) for n in ("cytof_021", "cytof_028", "cytof_034")]
    strategy = immuno_data / "cytof_pbmc.xml"
    results = gate_batch(paths, strategy, workers=2)
    assert [r.sample for r in results] == [p.stem for p in paths]
    for path, result in zip(paths, results, strict=True):
        got = dict(zip(result.populations["gate"], result.populations["count"], strict=True))
        assert got == _flowkit_counts(path, strategy)
        # 1,000-event files: every rare population is flagged
        assert any("gate Treg" in w and "fewer than the minimum 100" in w for w in result.warnings)


def test_median_matches_numpy_on_flowkit_events(real_fcs: RealFcs, immuno_data: Path) -> None:
    path = real_fcs("facs_diva")
    strategy = immuno_data / "diva_bcell.xml"
    result = gate_fcs(path, strategy, FlowOptions(median_channels=("CD38", "FITC-A")))
    # reference: compensate with $SPILL in FlowKit, select the gate's events, numpy median
    sample = fk.Sample(str(path))
    sample.apply_compensation(sample.metadata["spill"])
    events = sample.get_events(source="comp")
    session = fk.Session(gating_strategy=fk.parse_gating_xml(str(strategy)), fcs_samples=[sample])
    session.analyze_samples(use_mp=False)
    member = session.get_gate_membership(sample.id, "CD19_pos")
    table = result.populations.set_index("gate")
    cd38 = sample.pnn_labels.index("Alexa700-A")
    assert table.loc["CD19_pos", "median_CD38"] == pytest.approx(np.median(events[member, cd38]))
    fitc = sample.pnn_labels.index("FITC-A")
    assert table.loc["CD19_pos", "median_FITC-A"] == pytest.approx(np.median(events[member, fitc]))


def test_cli_on_real_files(
    real_fcs: RealFcs, immuno_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [real_fcs("cytof_021"), real_fcs("cytof_028")]
    args = ["flow", "gate", "--strategy", str(immuno_data / "cytof_pbmc.xml"), *map(str, paths)]
    assert main([*args, "--json", "--workers", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["sample"] for r in out} == {p.stem for p in paths}
    expected = _flowkit_counts(paths[1], immuno_data / "cytof_pbmc.xml")
    got = {r["gate"]: r["count"] for r in out if r["sample"] == paths[1].stem}
    assert got == expected


def test_facs_diva_in_chunks_is_identical(real_fcs: RealFcs, immuno_data: Path) -> None:
    # 83,411 events in chunks of 5,000 (17 chunks, compensated with $SPILL, logicle)
    path = real_fcs("facs_diva")
    strategy = immuno_data / "diva_bcell.xml"
    opts = FlowOptions(median_channels=("CD38", "SSC-A"), reference_gate="Cells")
    whole = gate_fcs(path, strategy, replace(opts, chunk_events=0)).populations
    parts = gate_fcs(path, strategy, replace(opts, chunk_events=5000)).populations
    assert parts.equals(whole)
    got = dict(zip(parts["gate"], parts["count"], strict=True))
    assert got == _flowkit_counts(path, strategy)


def test_matrix_file_replaces_spill(real_fcs: RealFcs, immuno_data: Path, tmp_path: Path) -> None:
    path = real_fcs("facs_diva")
    strategy = immuno_data / "diva_bcell.xml"
    sample = fk.Sample(str(path))
    detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
    matrix = fk.Matrix(sample.metadata["spill"], detectors).as_dataframe()
    same = tmp_path / "spill.csv"
    matrix.to_csv(same, index=False)  # FlowJo-style: a header of detector names, then values
    with_file = gate_fcs(path, strategy, FlowOptions(compensation_file=str(same)))
    with_spill = gate_fcs(path, strategy)
    assert with_file.populations.equals(with_spill.populations)
    identity = tmp_path / "identity.csv"
    (matrix * 0 + np.eye(len(detectors))).to_csv(identity, index=False)
    uncompensated = gate_fcs(path, strategy, FlowOptions(compensation_file=str(identity)))
    assert not uncompensated.populations["count"].equals(with_spill.populations["count"])
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    with pytest.raises(FcsFileError, match=r"bad\.csv: not a usable compensation matrix"):
        gate_fcs(path, strategy, FlowOptions(compensation_file=str(bad)))
