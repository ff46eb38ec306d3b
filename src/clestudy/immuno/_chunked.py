"""Gate a large sample in chunks of events, so memory does not grow with the event count.

Every step of gating is per event: compensation is a matrix product on each event, transforms
act on each value, and gates (Boolean gates included) test each event on its own. Gating the
events in consecutive chunks with FlowKit and adding the counts therefore gives exactly the counts
of gating the whole file at once, while FlowKit's working copies (compensated events, cached
transforms, per-gate data frames) only ever hold one chunk. FlowKit's event cache is keyed by
sample id, so it is cleared around every chunk. Percentages are recomputed from the
summed counts; medians are taken over the member events collected from every chunk.
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


@dataclass
class ChunkedGating:
    """Counts summed over chunks, per gate key ``(gate id, ancestor path)``, in report order."""

    n_events: int = 0
    order: list[GateKey] = field(default_factory=list)
    parents: dict[GateKey, str] = field(default_factory=dict)
    counts: dict[GateKey, int] = field(default_factory=dict)
    members: dict[tuple[GateKey, int], list[np.ndarray]] = field(default_factory=dict)

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
    for part in _chunks(sample, chunk_events):
        # FlowKit caches compensated and transformed events by sample id and keeps them when
        # cache_events=True: clear it around every chunk, or the next chunk would reuse them
        strategy.clear_cache()
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
