"""Gate one FCS file with FlowKit and turn the result into a tidy population table.

Per sample and gate the table holds the event count, % of parent, % of all events, % of a chosen
reference gate, medians of chosen channels and, with bead counts, the absolute count per uL:

    percent_parent    = 100 * count / count(parent)          (FlowKit's ``relative_percent``)
    percent_reference = 100 * count / count(reference gate)
    cells per uL      = count / count(bead gate) * beads per test / test volume (uL)

The absolute-count formula is the single-platform bead method of the BD Trucount tubes package
insert (BD Biosciences, Trucount Tubes IVD, "Calculation of absolute counts").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clestudy.immuno._chunked import ChunkedGating, gate_in_chunks
from clestudy.immuno._errors import FcsFileError, GatingStrategyError
from clestudy.immuno._fcs_range import EventRange, read_event_range
from clestudy.immuno._strategy import (
    _dimensions,
    _flowkit,
    _load_strategy,
    strategy_channels,
    use_matrix_file,
)

__all__ = [
    "DEFAULT_CHUNK_EVENTS",
    "DEFAULT_MIN_EVENTS",
    "OFFSET_ERROR_HINT",
    "POPULATION_COLUMNS",
    "BeadCount",
    "FlowOptions",
    "SampleResult",
    "gate_fcs",
    "population_records",
    "read_sample",
]

#: Populations with fewer events than this are reported with a warning (rare-event
#: precision: a 100-event population has a Poisson CV of 10 %; docs/references.md).
DEFAULT_MIN_EVENTS = 100

#: Events gated at a time: 2^18 keeps FlowKit's working copies near 100 MB for 12 channels
#: (a performance setting, measured in ``docs/performance.md``; it changes no result).
DEFAULT_CHUNK_EVENTS = 262_144

#: How an off-by-one data offset error says what to do; the CLI replaces it with its flag.
OFFSET_ERROR_HINT = "read it anyway with ignore_offset_error=True, then review its events"

POPULATION_COLUMNS = (
    "sample",
    "gate",
    "gate_path",
    "parent",
    "count",
    "percent_parent",
    "percent_total",
    "percent_reference",
    "absolute_count_per_ul",
)


@dataclass(frozen=True)
class BeadCount:
    """Counting beads of one tube: beads added per test and the blood volume stained (uL)."""

    beads_per_test: float
    volume_ul: float


@dataclass(frozen=True)
class FlowOptions:
    """What to report for each sample.

    Attributes
    ----------
    reference_gate
        ``percent_reference`` is computed against this gate (e.g. a live or CD45+ gate).
    median_channels
        Channels (PnN or PnS label) whose median, compensated and untransformed, is reported
        per gate as ``median_<channel>``.
    min_events
        Reported populations with fewer events raise a QC warning.
    bead_gate
        The gate holding the counting beads; with a :class:`BeadCount` per sample it gives
        ``absolute_count_per_ul``.
    compensation_file
        A spillover matrix file (FlowJo CSV/TSV with detector names) used instead of $SPILL
        wherever the strategy says ``compensation-ref="FCS"``.
    ignore_offset_error
        Read FCS files whose data offset is off by one (FlowIO ``ignore_offset_error``).
    chunk_events
        Events gated at a time (see :mod:`clestudy.immuno._chunked`); bounds the working memory
        without changing any count. ``0`` gates the whole file at once.
    """

    reference_gate: str | None = None
    median_channels: tuple[str, ...] = ()
    min_events: int = DEFAULT_MIN_EVENTS
    bead_gate: str | None = None
    compensation_file: str | None = None
    ignore_offset_error: bool = False
    chunk_events: int = DEFAULT_CHUNK_EVENTS


@dataclass(frozen=True)
class SampleResult:
    """The populations of one file, its total events and its QC warnings."""

    sample: str
    path: str
    n_events: int
    populations: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())


def read_sample(path: str | Path, *, ignore_offset_error: bool = False) -> Any:
    """Read an FCS 2.0/3.0/3.1 file as a ``flowkit.Sample``; errors name the file.

    FlowIO's warnings about the file (e.g. a forced off-by-one offset) are issued as user
    warnings naming the file; :func:`gate_fcs` reports them among its QC warnings instead.

    Raises
    ------
    FcsFileError
        A missing, truncated or corrupt file.
    """
    sample, notes = _read_sample(Path(path), ignore_offset_error)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return sample


def _read_sample(
    path: Path, ignore_offset_error: bool, events: EventRange | None = None
) -> tuple[Any, tuple[str, ...]]:
    """The sample (or events ``[start, stop)`` of it) and FlowIO's user warnings about it, each as
    ``"FILE: message"``."""
    fk = _flowkit()
    if not path.is_file():
        raise FcsFileError(f"{path}: no such FCS file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if events is None:
                # our own handle: FlowIO leaves its file open when parsing fails
                with path.open("rb") as handle:
                    sample = fk.Sample(
                        handle, sample_id=path.stem, ignore_offset_error=ignore_offset_error
                    )
            else:
                sample = read_event_range(path, events, ignore_offset_error=ignore_offset_error)
    except FcsFileError:
        raise
    except Exception as exc:  # FlowIO raises ValueError, FCSParsingError, struct.error ...
        message = " ".join(str(exc).split()) or type(exc).__name__
        if "ignore_offset_error" in message:  # FlowIO names its own argument
            message = f"its data offset is off by one byte; {OFFSET_ERROR_HINT}"
        raise FcsFileError(f"{path}: cannot read FCS file: {message}") from None
    _check_events_finite(path, sample, events)
    notes = []
    for w in caught:
        if issubclass(w.category, UserWarning):
            notes.append(f"{path}: {' '.join(str(w.message).split())}")
        else:  # deprecations and the like are for developers, not QC: pass them on
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return sample, tuple(notes)


def _check_events_finite(path: Path, sample: Any, part: EventRange | None = None) -> None:
    """A NaN or infinite event value was not measured: refuse the file rather than gate or count
    it (FlowKit would silently leave such events outside every gate but in the total). Events are
    numbered in the file, also when ``sample`` holds only the events ``part`` of it."""
    events = np.asarray(sample.get_events(source="raw"), dtype=float)
    bad = ~np.isfinite(events)
    if bad.any():
        event, channel = (int(i[0]) for i in np.nonzero(bad))
        first, where = (0, "the file") if part is None else (part[0], _event_span(part))
        raise FcsFileError(
            f"{path}: event {first + event + 1}, channel {sample.pnn_labels[channel]}: "
            f"{float(events[event, channel])!r} is not a finite number ({int(bad.sum())} such "
            f"value(s) in {where})"
        )


def _check_channels(path: Path, sample: Any, needed: dict[str, str]) -> None:
    labels = set(sample.pnn_labels) | set(sample.pns_labels)
    labels |= {label.replace("/", "_") for label in sample.pnn_labels}
    for label, gate_id in needed.items():
        if label not in labels:
            raise FcsFileError(
                f"{path}: channel {label!r} needed by gate {gate_id} is not in the file "
                f"(channels: {', '.join(sample.pnn_labels)})"
            )


def _channel_index(path: Path, sample: Any, label: str) -> int:
    if label in sample.pnn_labels:
        return int(sample.pnn_labels.index(label))
    if label in sample.pns_labels:
        return int(sample.pns_labels.index(label))
    raise FcsFileError(
        f"{path}: median channel {label!r} is not in the file "
        f"(channels: {', '.join(sample.pnn_labels)})"
    )


def _compensated_events(sample: Any, matrix: Any | None) -> np.ndarray:
    fk = _flowkit()
    meta = sample.get_metadata()
    spill = meta.get("spillover", meta.get("spill"))
    if matrix is None and spill is not None:
        detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
        matrix = fk.Matrix(spill, detectors, null_channels=sample.null_channels)
    if matrix is None:
        return np.asarray(sample.get_events(source="raw"))
    return np.asarray(matrix.apply(sample))


def gate_fcs(
    path: str | Path,
    strategy: Any,
    options: FlowOptions | None = None,
    *,
    beads: BeadCount | None = None,
) -> SampleResult:
    """Gate one FCS file with a FlowKit gating strategy and tabulate every population.

    Parameters
    ----------
    path
        The FCS file; its stem is the sample name.
    strategy
        A ``flowkit.GatingStrategy`` or a path to Gating-ML / FlowJo workspace. With
        ``options.compensation_file`` a strategy object is changed to use that matrix.
    options
        What to report (:class:`FlowOptions`).
    beads
        Counting beads of this tube, for ``absolute_count_per_ul``.

    Returns
    -------
    SampleResult
        ``populations`` has the columns :data:`POPULATION_COLUMNS` (+ ``median_<channel>``).
        ``warnings``, each naming the file: populations below ``min_events``, a strategy
        compensating with a ``$SPILL`` the file lacks, FlowIO's warnings about the file, and a
        one-sample FlowJo workspace whose sample is not this file.

    Raises
    ------
    FcsFileError
        An unreadable file or a channel the strategy or a median needs that the file lacks.
    GatingStrategyError
        An unusable strategy, or a reference or bead gate the strategy does not have.

    Examples
    --------
    >>> import tempfile, flowio, flowkit as fk
    >>> path = Path(tempfile.mkdtemp()) / "tiny.fcs"
    >>> events = np.array([[100.0, 5.0], [200.0, 50.0], [300.0, 500.0], [400.0, 8.0]])
    >>> with path.open("wb") as handle:
    ...     _ = flowio.create_fcs(handle, events.ravel(), ["FSC-A", "CD3-A"])
    >>> strategy = fk.GatingStrategy()
    >>> gate = fk.gates.RectangleGate("CD3_pos", [fk.Dimension("CD3-A", range_min=10)])
    >>> strategy.add_gate(gate, ("root",))
    >>> result = gate_fcs(path, strategy, FlowOptions(min_events=1, median_channels=("FSC-A",)))
    >>> result.populations[["gate", "count", "percent_parent", "median_FSC-A"]].values.tolist()
    [['CD3_pos', 2, 50.0, 250.0]]
    """
    opts = options or FlowOptions()
    path = Path(path)
    merged, qc_warnings = gate_events(path, strategy, opts)
    return tabulate(path, merged, opts, beads, qc_warnings)


def gate_events(
    path: Path, strategy: Any, opts: FlowOptions, events: EventRange | None = None
) -> tuple[ChunkedGating, tuple[str, ...]]:
    """The counts of every gate in one file, or in its events ``[start, stop)`` only, and the QC
    warnings of reading it (see :func:`gate_fcs`). Counts of consecutive event ranges add up to
    the file's (every gating step is per event: :mod:`clestudy.immuno._chunked`)."""
    qc_warnings: list[str] = []
    if not hasattr(strategy, "gate_sample"):
        strategy, notes = _load_strategy(strategy, sample_name=path)
        qc_warnings.extend(notes)
    sample, notes = _read_sample(path, opts.ignore_offset_error, events)
    qc_warnings.extend(notes)
    matrix = None
    if opts.compensation_file is not None:
        matrix = _matrix_from_file(opts.compensation_file, sample)
        use_matrix_file(strategy, matrix)
    elif _uses_fcs_spill(strategy) and not _has_spill(sample):
        # Gating-ML 2.0 says to gate uncompensated then, and FlowKit does: say so
        qc_warnings.append(
            f"{path}: the strategy compensates with the file's spillover "
            '(compensation-ref="FCS") but the file has no $SPILL or $SPILLOVER keyword; '
            "gated uncompensated (give the matrix with --compensation)"
        )
    _check_channels(path, sample, strategy_channels(strategy))
    median_idx = [_channel_index(path, sample, c) for c in opts.median_channels]
    try:
        merged = gate_in_chunks(
            strategy,
            sample,
            opts.chunk_events,
            median_idx,
            lambda part: _compensated_events(part, matrix),
        )
    except (LookupError, ValueError) as exc:
        message = " ".join(str(exc).split())
        where = "" if events is None else f" ({_event_span(events)})"
        raise FcsFileError(f"{path}: gating failed{where}: {message}") from None
    merged.median_channels = dict(zip(opts.median_channels, median_idx, strict=True))
    return merged, tuple(qc_warnings)


def _event_span(events: EventRange) -> str:
    return f"events {events[0] + 1}-{events[1]}"


def tabulate(
    path: Path,
    merged: ChunkedGating,
    opts: FlowOptions,
    beads: BeadCount | None,
    qc_warnings: Sequence[str] = (),
) -> SampleResult:
    """The population table of a file from its gate counts (summed over event ranges): every
    percentage and absolute count is computed here, from the counts, after the QC warnings
    given (those of reading the file)."""
    qc_warnings = list(qc_warnings)
    median_idx = [merged.median_channels[c] for c in opts.median_channels]
    counts = merged.counts
    reference = _unique_count(path, counts, opts.reference_gate, "reference")
    bead_events = _unique_count(path, counts, opts.bead_gate, "bead")
    n_events = merged.n_events
    rows: list[dict[str, Any]] = []
    for key in merged.order:
        gate_id, gate_path = key
        count = counts[key]
        parent = merged.parents[key]
        row = {
            "sample": path.stem,
            "gate": gate_id,
            "gate_path": "/".join(gate_path),
            "parent": None if parent == "root" else parent,
            "count": count,
            "percent_parent": merged.percent_parent(key),
            "percent_total": _percent(count, n_events),
            "percent_reference": math.nan if reference is None else _percent(count, reference),
            "absolute_count_per_ul": _absolute(count, bead_events, beads),
        }
        for label, idx in zip(opts.median_channels, median_idx, strict=True):
            row[f"median_{label}"] = merged.median(key, idx)
        rows.append(row)
        if count < opts.min_events:
            qc_warnings.append(
                f"{path}: gate {gate_id}: {count} events, fewer than the minimum "
                f"{opts.min_events}; its percentages are imprecise"
            )
    columns = [*POPULATION_COLUMNS, *(f"median_{c}" for c in opts.median_channels)]
    table = pd.DataFrame(rows, columns=columns)
    return SampleResult(path.stem, str(path), n_events, table, tuple(qc_warnings))


def _uses_fcs_spill(strategy: Any) -> bool:
    return any(getattr(dim, "compensation_ref", None) == "FCS" for _, dim in _dimensions(strategy))


def _has_spill(sample: Any) -> bool:
    meta = sample.get_metadata()
    return "spill" in meta or "spillover" in meta


def _unique_count(
    path: Path, counts: dict[tuple[str, tuple[str, ...]], int], gate_id: str | None, role: str
) -> int | None:
    if gate_id is None:
        return None
    found = [c for (g, _), c in counts.items() if g == gate_id]
    if len(found) != 1:
        known = ", ".join(sorted({g for g, _ in counts}))
        problem = "is not a gate of the strategy" if not found else "names several gates"
        raise GatingStrategyError(f"{path}: {role} gate {gate_id!r} {problem} (gates: {known})")
    return found[0]


def _percent(count: int, total: int | None) -> float:
    return math.nan if not total else 100.0 * count / total


def _absolute(count: int, bead_events: int | None, beads: BeadCount | None) -> float:
    if beads is None or not bead_events:
        return math.nan
    return count / bead_events * beads.beads_per_test / beads.volume_ul


def _matrix_from_file(matrix_file: str, sample: Any) -> Any:
    fk = _flowkit()
    detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
    try:
        return fk.Matrix(str(matrix_file), detectors, null_channels=sample.null_channels)
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise FcsFileError(f"{matrix_file}: not a usable compensation matrix: {message}") from None


def population_records(results: Sequence[SampleResult]) -> list[dict[str, Any]]:
    """The JSON contract of ``clestudy flow gate``: sample, gate, parent, count, percent_parent."""
    out: list[dict[str, Any]] = []
    for result in results:
        for rec in result.populations.to_dict("records"):
            out.append(
                {
                    "sample": str(rec["sample"]),
                    "gate": str(rec["gate"]),
                    "parent": None if rec["parent"] is None else str(rec["parent"]),
                    "count": int(rec["count"]),
                    "percent_parent": float(rec["percent_parent"]),
                }
            )
    return out
