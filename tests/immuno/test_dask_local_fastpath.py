"""The faster per-file path (used by the local pool and every Dask worker) counts exactly as
FlowKit: logicle and hyperlog columns read only by rectangle gates are transformed near their
thresholds only (``clestudy.immuno._chunked``), and events placed on the thresholds, one float32
step either side and at the edges of the exact-transform margin are counted as FlowKit counts them.
"""

from __future__ import annotations

from pathlib import Path

import flowio
import numpy as np
import pytest

from clestudy.immuno import FlowOptions, gate_fcs, load_strategy, read_sample, template_path
from clestudy.immuno._chunked import THRESHOLD_MARGIN, threshold_columns

#: Suite strategies with logicle/hyperlog rectangle gates on channel 3 of data1.fcs (FL1-H).
STRATEGIES = (
    "gml_all_gates.xml",
    "gml_transform_logicle_range4_gate.xml",
    "gml_transform_logicle_range5_gate.xml",
    "gml_transform_hyperlog_range2_gate.xml",
)


def test_columns_cut_only_where_rectangles_alone_read_them(gatingml: Path) -> None:
    sample = read_sample(gatingml / "data1.fcs")
    columns = threshold_columns(load_strategy(gatingml / "gml" / "gml_all_gates.xml"), sample)
    assert columns == {
        (None, "Hyperlog_10000_1_4.5_0", 2): [0.37, 0.63],
        (None, "Logicle_10000_0.5_4.5_0", 2): [0.37, 0.63],
        (None, "Logicle_10000_1_4_0.5", 2): [0.37, 0.63],
    }
    # a polygon on untransformed scatter, a fluorochrome-named compensated channel: not cut
    polygon = load_strategy(gatingml / "gml" / "gml_poly1_gate.xml")
    assert threshold_columns(polygon, sample) == {}
    comp = load_strategy(gatingml / "gml" / "gml_matrix_transform_logicle_range4c_gate.xml")
    assert threshold_columns(comp, sample) == {}


def _boundary_events(gatingml: Path, tmp_path: Path) -> Path:
    """data1.fcs's channels; on FL1-H, events on and around every raw threshold of STRATEGIES."""
    source = read_sample(gatingml / "data1.fcs")
    values: list[np.ndarray] = []
    for name in STRATEGIES:
        strategy = load_strategy(gatingml / "gml" / name)
        for (_, xform_id, _), cuts in threshold_columns(strategy, source).items():
            xform = strategy.transformations[xform_id]
            for cut in cuts:
                for target in (cut, cut - THRESHOLD_MARGIN, cut + THRESHOLD_MARGIN):
                    raw = np.float32(np.asarray(xform.inverse(np.array([[target]]))).item())
                    steps = [raw]
                    for _ in range(4):  # four float32 steps each way
                        steps = [np.nextafter(steps[0], np.float32(-np.inf)), *steps]
                        steps.append(np.nextafter(steps[-1], np.float32(np.inf)))
                    values.append(np.array(steps, dtype=np.float32))
    special = np.concatenate(values)
    spread = np.random.default_rng(7).uniform(
        1, 12_000, 4000
    )  # log gates: positive.astype(np.float32)
    column = np.concatenate([special, spread])
    events = np.random.default_rng(8).uniform(0, 1000, (column.size, len(source.pnn_labels)))
    events[:, 2] = column
    path = tmp_path / "boundaries.fcs"
    with path.open("wb") as handle:
        flowio.create_fcs(handle, events.astype(np.float32).ravel(), list(source.pnn_labels))
    return path


@pytest.mark.parametrize("chunk_events", [0, 997])
def test_counts_equal_flowkit_on_and_around_thresholds(
    gatingml: Path, tmp_path: Path, chunk_events: int
) -> None:
    path = _boundary_events(gatingml, tmp_path)
    sample = read_sample(path)
    for name in STRATEGIES:
        strategy = load_strategy(gatingml / "gml" / name)
        report = strategy.gate_sample(sample).report  # FlowKit alone, every value transformed
        expected = {str(r["gate_name"]): int(r["count"]) for r in report.to_dict("records")}
        ours = gate_fcs(path, gatingml / "gml" / name, FlowOptions(chunk_events=chunk_events))
        assert dict(zip(ours.populations["gate"], ours.populations["count"], strict=True)) == (
            expected
        ), name
        assert sum(expected.values()) > 0


def test_templates_cut_every_marker_column() -> None:
    from tests.immuno.test_templates_gate import MARKERS

    strategy = load_strategy(template_path("treg"))

    class Labels:  # what threshold_columns reads of a sample
        def __init__(self) -> None:
            self.id = "s"
            self.pnn_labels = list(MARKERS)
            self.pns_labels = [""] * len(MARKERS)

    columns = threshold_columns(strategy, Labels())
    assert {MARKERS[i] for _, _, i in columns} == {"CD3", "CD4", "CD8", "CD25", "CD127"}
