"""Write ``examples/demo_pbmc.fcs``: 3,000 synthetic PBMC events for the flow tour (seed fixed).

Usage: ``python scripts/make_demo_fcs.py [OUT]`` (default ``examples/demo_pbmc.fcs``).

The events are invented, not measured: blocks of events whose markers are either high
(uniform 40,000 to 60,000) or low (uniform 0 to 20) on twelve channels, in the proportions below,
so that each packaged Gating-ML template (``clestudy flow template NAME``) finds its population
and the tour needs no external data. The file carries an identity ``$SPILL`` because the
templates compensate with the file's own matrix (``compensation-ref="FCS"``). Rerunning the
script writes the same events (tests/cli/test_flow_tour.py checks the shipped file against it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import flowio
import numpy as np

MARKERS = ("Lin", "HLA-DR", "CD11c", "CD123", "BDCA-2", "CD3", "CD4", "CD8", "CD25", "CD127",
           "CD38", "CD14")  # fmt: skip
SEED = 20261203

#: (events, markers that are high) per population, in file order.
POPULATIONS: tuple[tuple[int, frozenset[str]], ...] = (
    (150, frozenset({"HLA-DR", "CD123", "BDCA-2"})),  # pDC: Lin- HLA-DR+ CD11c- CD123+ BDCA-2+
    (120, frozenset({"Lin", "CD3", "CD4", "CD25"})),  # Treg: CD3+ CD4+ CD25hi CD127lo
    (600, frozenset({"Lin", "CD3", "CD4", "CD127"})),  # conventional CD4 T
    (90, frozenset({"Lin", "CD3", "CD8", "HLA-DR", "CD38"})),  # activated CD8 T
    (60, frozenset({"Lin", "CD3", "CD8", "HLA-DR"})),  # HLA-DR+ CD38- CD8 T
    (300, frozenset({"Lin", "CD14", "HLA-DR"})),  # monocytes
    (1680, frozenset()),  # everything low
)


def demo_events(seed: int = SEED) -> np.ndarray:
    """The events, one row per event and one column per marker of :data:`MARKERS`."""
    rng = np.random.default_rng(seed)
    blocks = []
    for n, high in POPULATIONS:
        is_high = np.array([m in high for m in MARKERS])
        low = rng.uniform(0, 20, (n, len(MARKERS)))
        blocks.append(np.where(is_high, rng.uniform(40_000, 60_000, (n, len(MARKERS))), low))
    return np.vstack(blocks).astype(np.float32)


def write_demo_fcs(path: Path) -> Path:
    """Write :func:`demo_events` as an FCS 3.1 file with an identity ``$SPILL``."""
    identity = np.eye(len(MARKERS)).ravel()
    spill = ",".join([str(len(MARKERS)), *MARKERS, *(f"{x:g}" for x in identity)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        flowio.create_fcs(
            handle, demo_events().ravel(), list(MARKERS), metadata_dict={"SPILL": spill}
        )
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("examples/demo_pbmc.fcs")
    print(write_demo_fcs(out))
