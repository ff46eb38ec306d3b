"""Gate a large sample in chunks of events, so memory does not grow with the event count.

Every step of gating is per event: compensation is a matrix product on each event, transforms
act on each value, and gates (Boolean gates included) test each event on its own. Gating the
events in consecutive chunks with FlowKit and adding the counts therefore gives exactly the counts
of gating the whole file at once, while FlowKit's working copies (compensated events, cached
transforms, per-gate data frames) only ever hold one chunk. FlowKit's event cache is keyed by
sample id, so it is cleared around every chunk. Percentages are recomputed from the
summed counts; medians are taken over the member events collected from every chunk.

Less work than FlowKit, same counts: a rectangle gate only asks on which side of its thresholds
each event's transformed value lies. For a channel whose logicle or hyperlog values are read by
rectangle gates only, and since both transforms increase monotonically, the thresholds are
mapped back to raw values once (the closed-form inverse); events farther than a margin from every
raw threshold get a stand-in value strictly inside their interval between thresholds, and only
the events within the margin are transformed, exactly as FlowKit does. These columns are put in
FlowKit's own event cache before it gates, so every gate test, parent and Boolean combination is
still FlowKit's. Logicle is the costly step of gating (an iterative root-find per value; Parks DR,
Roederer M, Moore WA, Cytometry A 2006;69:541-551, doi:10.1002/cyto.a.20258), so this removes most
of the work. FlowKit does not offer this:
it transforms every value of every transformed channel.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ChunkedGating", "gate_in_chunks"]

GateKey = tuple[str, tuple[str, ...]]

#: (compensation ref, transform ref, channel index): FlowKit's key of a transformed column.
ColumnKey = tuple[str | None, str, int]

#: Margin around each threshold, in transformed units (logicle and hyperlog map the data to about
#: 0-1): events whose value may lie this close to a threshold are transformed exactly. Far above
#: the transforms' numerical error, far below any gate's resolution.
THRESHOLD_MARGIN = 1e-4


@dataclass
class ChunkedGating:
    """Counts summed over chunks, per gate key ``(gate id, ancestor path)``, in report order."""

    n_events: int = 0
    order: list[GateKey] = field(default_factory=list)
    parents: dict[GateKey, str] = field(default_factory=dict)
    counts: dict[GateKey, int] = field(default_factory=dict)
    members: dict[tuple[GateKey, int], list[np.ndarray]] = field(default_factory=dict)
    #: The column index of each median channel label.
    median_channels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def merge(cls, parts: Sequence[ChunkedGating]) -> ChunkedGating:
        """The gating of consecutive event ranges of one file, in file order, as one: counts and
        events add, member values are concatenated (percentages and medians are derived later,
        from the merged counts and members)."""
        merged = cls()
        for part in parts:
            merged.n_events += part.n_events
            merged.median_channels.update(part.median_channels)
            for key in part.order:
                if key not in merged.counts:
                    merged.order.append(key)
                    merged.parents[key] = part.parents[key]
                    merged.counts[key] = 0
                merged.counts[key] += part.counts[key]
            for member_key, values in part.members.items():
                merged.members.setdefault(member_key, []).extend(values)
        return merged

    def parent_count(self, key: GateKey) -> int:
        """Events of the gate's parent (all events for a gate on the root)."""
        parent = self.parents[key]
        if parent == "root":
            return self.n_events
        path = key[1]
        # a gate's parent sits one level up; the parent of a quadrant's child is the quadrant,
        # whose results carry the path of its quadrant gate, two levels up
        for candidate in ((parent, path[:-1]), (parent, path[:-2])):
            if candidate in self.counts:
                return self.counts[candidate]
        raise KeyError(f"parent {parent} of gate {key[0]} not in the gating results")

    def percent_parent(self, key: GateKey) -> float:
        """``100 * count / parent count`` (0 when the parent is empty, as FlowKit reports)."""
        total = self.parent_count(key)
        return 100.0 * self.counts[key] / total if total else 0.0

    def median(self, key: GateKey, channel: int) -> float:
        """Median of one channel over the gate's events (NaN for an empty gate)."""
        parts = self.members.get((key, channel), [])
        values = np.concatenate(parts) if parts else np.empty(0)
        return float(np.median(values)) if values.size else math.nan


def _chunks(sample: Any, size: int) -> Iterator[Any]:
    raw = sample.get_events(source="raw")
    if size <= 0 or raw.shape[0] <= size or not hasattr(sample, "_raw_events"):
        yield sample
        return
    for start in range(0, raw.shape[0], size):
        part = copy.copy(sample)  # shares channels and metadata; only the events differ
        part._raw_events = raw[start : start + size]
        part.event_count = int(part._raw_events.shape[0])
        part._comp_events = None
        part._transformed_events = None
        yield part


def _channel_index(sample: Any, label: str) -> int | None:
    """The column FlowKit reads for a dimension label (PnN, PnS, FlowJo's PnN), else ``None``."""
    for labels in (
        sample.pnn_labels,
        sample.pns_labels,
        [x.replace("/", "_") for x in sample.pnn_labels],
    ):
        if label in labels:
            return int(list(labels).index(label))
    return None


def threshold_columns(strategy: Any, sample: Any) -> dict[ColumnKey, list[float]]:
    """The transformed columns read only by rectangle gates, with the thresholds they are cut at.

    A column any other gate reads (polygon, ellipse, quadrant...) is left out: those need every
    value. Only logicle and hyperlog columns are listed (the transforms worth avoiding).
    """
    import flowkit as fk

    costly = (fk.transforms.LogicleTransform, fk.transforms.HyperlogTransform)
    cuts: dict[ColumnKey, list[float]] = {}
    exact: set[ColumnKey] = set()
    for gate_id, gate_path in strategy.get_gate_ids():
        try:
            gate = strategy.get_gate(gate_id, gate_path, sample_id=sample.id)
        except fk.exceptions.QuadrantReferenceError:
            continue
        dims = list(getattr(gate, "dimensions", None) or [])
        refs = {d.compensation_ref for d in dims} - {None, "uncompensated"}
        comp = next(iter(refs)) if len(refs) == 1 else None
        rectangle = isinstance(gate, fk.gates.RectangleGate)
        for dim in dims:
            if isinstance(dim, fk.RatioDimension):
                continue  # FlowKit computes ratio dimensions from the sample, outside its cache
            label = dim.dimension_ref if isinstance(dim, fk.QuadrantDivider) else dim.id
            xform = getattr(dim, "transformation_ref", None)
            index = _channel_index(sample, label)
            if xform is None or index is None:
                continue
            key: ColumnKey = (comp, str(xform), index)
            usable = rectangle and len(refs) <= 1
            if not usable or not isinstance(strategy.transformations.get(xform), costly):
                exact.add(key)
                continue
            cuts.setdefault(key, []).extend(
                float(t) for t in (dim.min, dim.max) if t is not None and math.isfinite(t)
            )
    return {key: sorted(set(t)) for key, t in cuts.items() if key not in exact and t}


def _stand_in(xform: Any, raw: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Transformed values exact within the margin of every threshold, elsewhere a value strictly
    inside the event's interval between thresholds (so every ``>=``/``<`` test is unchanged)."""
    cuts = np.asarray(thresholds, dtype=float)

    def inverse(values: np.ndarray) -> np.ndarray:
        return np.asarray(xform.inverse(values[:, None]), dtype=float).ravel()

    bounds = inverse(cuts)
    low, high = inverse(cuts - THRESHOLD_MARGIN), inverse(cuts + THRESHOLD_MARGIN)
    inside = np.concatenate(([cuts[0] - 1.0], (cuts[:-1] + cuts[1:]) / 2, [cuts[-1] + 1.0]))
    column = inside[np.searchsorted(bounds, raw, side="right")]
    near = np.zeros(raw.shape[0], dtype=bool)
    for lo, hi in zip(low, high, strict=True):
        near |= (raw >= lo) & (raw <= hi)
    if near.any():
        column[near] = np.asarray(xform.apply(raw[near][:, None])).ravel()
    return column[:, None]


def _prime_cache(strategy: Any, part: Any, columns: dict[ColumnKey, list[float]]) -> None:
    """Put the threshold-only columns in FlowKit's event cache for this chunk."""
    for (comp, xform_id, index), thresholds in columns.items():
        # FlowKit's own compensation (which it caches for the gates that follow)
        events = strategy._compensate_sample(set() if comp is None else {comp}, part)
        column = _stand_in(strategy.transformations[xform_id], events[:, index], thresholds)
        strategy._cache_preprocessed_events(column, part.id, comp, xform_id, dim_idx=index)


def gate_in_chunks(
    strategy: Any,
    sample: Any,
    chunk_events: int,
    median_channels: Sequence[int] = (),
    comp_events: Any = None,
) -> ChunkedGating:
    """Gate ``sample`` with FlowKit ``chunk_events`` events at a time and merge the results.

    ``comp_events(part)`` returns a chunk's compensated events; it is needed only for medians.
    """
    merged = ChunkedGating(n_events=int(sample.event_count))
    columns = threshold_columns(strategy, sample)
    for part in _chunks(sample, chunk_events):
        # FlowKit caches compensated and transformed events by sample id and keeps them when
        # cache_events=True: clear it around every chunk, or the next chunk would reuse them
        strategy.clear_cache()
        _prime_cache(strategy, part, columns)
        results = strategy.gate_sample(part, cache_events=True)
        strategy.clear_cache()
        for rec in results.report.to_dict("records"):
            key: GateKey = (str(rec["gate_name"]), tuple(rec["gate_path"]))
            if key not in merged.counts:
                merged.order.append(key)
                merged.parents[key] = str(rec["parent"])
                merged.counts[key] = 0
            merged.counts[key] += int(rec["count"])
        if median_channels:
            events = comp_events(part)
            for key in merged.order:
                member = np.asarray(results.get_gate_membership(key[0], "/".join(key[1])))
                for idx in median_channels:
                    chosen = events[member.astype(bool), idx]
                    merged.members.setdefault((key, idx), []).append(chosen)
            del events
        del results
    return merged
