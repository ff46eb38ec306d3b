"""Gating strategies: Gating-ML 2.0 files, FlowJo 10 workspaces and the packaged templates.

FlowKit does the parsing (``flowkit.parse_gating_xml``, ``flowkit.Workspace``); this module only
turns its errors into one-line messages that name the file, lists the channels a strategy needs,
and finds the packaged lupus-panel templates.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from clestudy.immuno._errors import GatingStrategyError

__all__ = [
    "TEMPLATE_STRATEGIES",
    "GateRef",
    "load_strategy",
    "strategy_channels",
    "strategy_gates",
    "template_path",
    "use_matrix_file",
]

#: Packaged Gating-ML templates for the lupus panels (``statistics-and-flow.md`` §3.5). Channels
#: are named by marker ($PnS) and thresholds are placeholders: the lab edits a copy per panel.
TEMPLATE_STRATEGIES: dict[str, str] = {
    "activated_t": "activated_t.xml",
    "monocyte_hladr": "monocyte_hladr.xml",
    "pdc": "pdc.xml",
    "treg": "treg.xml",
}

#: The compensation id that replaces ``FCS`` ($SPILL) when a matrix file is given instead.
MATRIX_FILE_COMP_ID = "clestudy_matrix_file"


@dataclass(frozen=True)
class GateRef:
    """A gate of a strategy: its id and the ids of its ancestors (``gate_path``)."""

    gate_id: str
    gate_path: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        """The parent gate id, ``None`` for a gate on all events."""
        return None if self.gate_path[-1] == "root" else self.gate_path[-1]


def _flowkit() -> Any:
    try:
        import flowkit
    except ImportError as exc:  # pragma: no cover - flowkit is in the test extra
        raise GatingStrategyError(
            "flow cytometry needs FlowKit: pip install 'clestudy[flow]'"
        ) from exc
    return flowkit


def template_path(name: str) -> Path:
    """Path of a packaged template strategy (copy it and set the thresholds of your panel).

    Examples
    --------
    >>> template_path("treg").name
    'treg.xml'
    """
    if name not in TEMPLATE_STRATEGIES:
        raise GatingStrategyError(
            f"template {name!r} is unknown; choose one of {', '.join(sorted(TEMPLATE_STRATEGIES))}"
        )
    ref = resources.files("clestudy.immuno") / "templates" / TEMPLATE_STRATEGIES[name]
    return Path(str(ref))


def load_strategy(path: str | Path, *, sample_name: str | Path | None = None) -> Any:
    """Load a gating strategy (a ``flowkit.GatingStrategy``) from Gating-ML or a FlowJo workspace.

    Parameters
    ----------
    path
        A Gating-ML 2.0 XML file, or a FlowJo 10 ``.wsp`` workspace.
    sample_name
        For a workspace: the FCS file (or its name) whose gates to use (FlowJo keeps gates per
        sample), matched by file name or by name without extension. ``None`` takes the first
        sample of the workspace. A workspace of exactly one sample is used for any file, with a
        :class:`UserWarning` when the names differ (:func:`gate_fcs` reports it among the
        sample's QC warnings instead).

    Raises
    ------
    GatingStrategyError
        The file is missing or FlowKit cannot parse it, or ``sample_name`` is not a sample of a
        workspace of several samples; the message names the file.
    """
    strategy, notes = _load_strategy(path, sample_name=sample_name)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return strategy


def _load_strategy(
    path: str | Path, *, sample_name: str | Path | None = None
) -> tuple[Any, tuple[str, ...]]:
    """:func:`load_strategy`, returning its warnings (to report with the sample) instead."""
    fk = _flowkit()
    path = Path(path)
    if not path.is_file():
        raise GatingStrategyError(f"{path}: no such gating strategy file")
    try:
        if path.suffix.lower() == ".wsp":
            workspace = fk.Workspace(str(path), load_missing_file_data=True)
            ids = [str(i) for i in workspace.get_sample_ids(loaded_only=False)]
            chosen, notes = _workspace_sample(path, ids, sample_name)
            return workspace.get_gating_strategy(chosen), notes
        return fk.parse_gating_xml(str(path)), ()
    except GatingStrategyError:
        raise
    except Exception as exc:  # FlowKit raises ValueError, KeyError, lxml errors...
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise GatingStrategyError(f"{path}: not a usable Gating-ML 2.0 file: {message}") from None


def _workspace_sample(
    path: Path, ids: list[str], sample_name: str | Path | None
) -> tuple[str, tuple[str, ...]]:
    """The workspace sample whose gates gate ``sample_name``, and a warning if it is a stand-in."""
    if not ids:
        raise GatingStrategyError(f"{path}: the FlowJo workspace has no sample with gates")
    if sample_name is None:
        return ids[0], ()
    fcs = Path(sample_name)
    for candidate in (fcs.name, fcs.stem):
        if candidate in ids:
            return candidate, ()
    if len(ids) == 1:
        # one sample: the lab gated one file in FlowJo and applies its gates to the batch
        return ids[0], (
            f"{sample_name}: not a sample of FlowJo workspace {path}; gated with the gates of its "
            f"only sample {ids[0]}",
        )
    # FlowJo gates are per sample: using another sample's gates would be a silent mix-up
    raise GatingStrategyError(
        f"{path}: FCS file {sample_name} is not a sample of this FlowJo workspace "
        f"(samples: {', '.join(ids)}); name the files as in the workspace"
    )


def strategy_gates(strategy: Any) -> list[GateRef]:
    """Every reportable gate of a strategy (quadrants as their quadrant ids), in file order."""
    fk = _flowkit()
    out: list[GateRef] = []
    for gate_id, gate_path in strategy.get_gate_ids():
        try:
            gate = strategy.get_gate(gate_id, gate_path)
        except fk.exceptions.QuadrantReferenceError:
            out.append(GateRef(gate_id, tuple(gate_path)))
            continue
        if not isinstance(gate, fk.gates.QuadrantGate):
            out.append(GateRef(gate_id, tuple(gate_path)))
    return out


def _dimensions(strategy: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(gate id, dimension)`` of the strategy's gates (quadrants come with their gate)."""
    fk = _flowkit()
    for gate_id, gate_path in strategy.get_gate_ids():
        try:
            gate = strategy.get_gate(gate_id, gate_path)
        except fk.exceptions.QuadrantReferenceError:
            continue
        for dim in getattr(gate, "dimensions", None) or []:
            yield gate_id, dim


def strategy_channels(strategy: Any) -> dict[str, str]:
    """Map each channel label a strategy needs to the first gate that needs it.

    Ratio dimensions contribute the channels of their ratio transform. A label that is a
    fluorochrome of a referenced compensation matrix maps to that matrix's detector.
    """
    fk = _flowkit()
    needed: dict[str, str] = {}
    for gate_id, dim in _dimensions(strategy):
        if isinstance(dim, fk.RatioDimension):
            xform = strategy.transformations.get(dim.ratio_ref)
            labels = [str(d) for d in getattr(xform, "dimensions", [])]
        elif isinstance(dim, fk.QuadrantDivider):
            labels = [str(dim.dimension_ref)]
        else:
            labels = [str(dim.id)]
        comp = getattr(dim, "compensation_ref", None)
        matrix = strategy.comp_matrices.get(comp) if comp else None
        for label in labels:
            if matrix is not None and label in (matrix.fluorochromes or []):
                label = matrix.detectors[list(matrix.fluorochromes).index(label)]
            needed.setdefault(label, gate_id)
    return needed


def use_matrix_file(strategy: Any, matrix: Any) -> None:
    """Make every ``FCS`` ($SPILL) compensation reference of ``strategy`` use ``matrix`` instead."""
    strategy.add_comp_matrix(MATRIX_FILE_COMP_ID, matrix)
    for _, dim in _dimensions(strategy):
        if getattr(dim, "compensation_ref", None) == "FCS":
            dim.compensation_ref = MATRIX_FILE_COMP_ID
