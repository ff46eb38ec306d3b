"""The packaged template strategies gate a designed sample: hand counts, and FlowKit agrees.

The sample is synthetic by design (no real file carries all twelve markers of the four lupus
panels): each event is "high" (raw 40,000-60,000, logicle about 0.82-0.86 with the templates'
T=262144, W=0.5, M=4.5) or "low" (raw 0-20, logicle about 0.11-0.13) on each marker, so every
template threshold (0.35-0.55 logicle) separates them and the expected counts follow by hand.
"""

from __future__ import annotations

from pathlib import Path

import flowio
import flowkit as fk
import numpy as np
import pytest

from clestudy.immuno import FlowOptions, gate_fcs, template_path

MARKERS = ("Lin", "HLA-DR", "CD11c", "CD123", "BDCA-2", "CD3", "CD4", "CD8", "CD25", "CD127",
           "CD38", "CD14")  # fmt: skip

#: (events, markers that are high): the populations the templates look for.
DESIGN: tuple[tuple[int, set[str]], ...] = (
    (50, {"HLA-DR", "CD123", "BDCA-2"}),  # pDC: Lin- HLA-DR+ CD11c- CD123+ BDCA-2+
    (40, {"Lin", "CD3", "CD4", "CD25"}),  # Treg: CD3+ CD4+ CD25hi CD127lo
    (200, {"Lin", "CD3", "CD4", "CD127"}),  # conventional CD4 T
    (30, {"Lin", "CD3", "CD8", "HLA-DR", "CD38"}),  # activated CD8 T: HLA-DR+ CD38+
    (20, {"Lin", "CD3", "CD8", "HLA-DR"}),  # HLA-DR+ CD38- CD8 T
    (100, {"Lin", "CD14", "HLA-DR"}),  # monocytes
    (560, set()),  # everything low
)


@pytest.fixture(scope="module")
def designed_fcs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(20261202)
    blocks = []
    for n, high in DESIGN:
        is_high = np.array([m in high for m in MARKERS])
        blocks.append(
            np.where(is_high, rng.uniform(40_000, 60_000, (n, 12)), rng.uniform(0, 20, (n, 12)))
        )
    events = np.vstack(blocks)
    identity = np.eye(len(MARKERS)).ravel()  # $SPILL present (the templates compensate), no spill
    spill = ",".join([str(len(MARKERS)), *MARKERS, *(f"{x:g}" for x in identity)])
    path = tmp_path_factory.mktemp("designed") / "designed.fcs"
    with path.open("wb") as handle:
        flowio.create_fcs(handle, events.ravel(), list(MARKERS), metadata_dict={"SPILL": spill})
    return path, events


def _flowkit_counts(path: Path, strategy: Path) -> dict[str, int]:
    session = fk.Session(
        gating_strategy=fk.parse_gating_xml(str(strategy)), fcs_samples=[str(path)]
    )
    session.analyze_samples(use_mp=False)
    (sample_id,) = session.get_sample_ids()
    return {str(r.gate_name): int(r.count) for r in session.get_gating_results(sample_id).report.itertuples()}  # fmt: skip


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("pdc", {"Lin_neg": 50 + 560, "HLADR_pos": 50, "CD11c_neg": 50, "pDC": 50}),
        ("treg", {"CD3_pos": 290, "CD4_T": 240, "Treg": 40}),
        (
            "activated_t",
            {
                "CD3_pos": 290,
                "CD4_T": 240,
                "CD8_T": 50,
                "CD4_HLADR_pos": 0,
                "CD8_HLADR_pos": 50,
                "CD8_HLADR_CD38_pos": 30,
                "T_HLADR_pos": 50,
                "T_HLADR_CD38_pos": 30,
            },
        ),
        ("monocyte_hladr", {"CD3_neg": 50 + 100 + 560, "Monocytes": 100}),
    ],
)
def test_template_gates_the_designed_populations(
    designed_fcs: tuple[Path, np.ndarray], template: str, expected: dict[str, int]
) -> None:
    path, _ = designed_fcs
    strategy = template_path(template)
    result = gate_fcs(path, strategy, FlowOptions(min_events=1))
    got = dict(zip(result.populations["gate"], result.populations["count"], strict=True))
    for gate, count in expected.items():
        assert got[gate] == count, gate
    assert got == _flowkit_counts(path, strategy)  # every gate, against FlowKit itself


def test_monocyte_hladr_median_is_the_monocytes_own(designed_fcs: tuple[Path, np.ndarray]) -> None:
    path, events = designed_fcs
    result = gate_fcs(
        path, template_path("monocyte_hladr"), FlowOptions(median_channels=("HLA-DR",))
    )
    monocytes = result.populations.set_index("gate").to_dict(orient="index")["Monocytes"]
    first = sum(n for n, _ in DESIGN[:5])
    by_hand = float(np.median(events[first : first + 100, MARKERS.index("HLA-DR")]))
    assert float(monocytes["median_HLA-DR"]) == pytest.approx(by_hand, rel=1e-4)  # float32 file
