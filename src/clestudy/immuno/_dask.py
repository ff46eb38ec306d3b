"""Gate many FCS files on an existing Dask ``distributed`` cluster.

Dask's scheduler places the tasks, moves the results and survives slow or lost workers; this module
builds no scheduler of its own. It only turns a batch into Dask tasks and back:

* one task per file, gated exactly as in the local process pool (:func:`gate_fcs`, which gates
  ``chunk_events`` events at a time inside its task);
* a file of more than ``task_events`` events (:data:`DEFAULT_TASK_EVENTS`) becomes one task per
  range of ``task_events`` events instead: the file's own task reads only its HEADER and TEXT
  segments and answers with its event count, then each range task reads its events by byte
  offset (:mod:`clestudy.immuno._fcs_range`) and returns its gate counts. The counts of the
  ranges are added in the client and the file's table (percentages of parent, of all events and
  of the reference gate, absolute counts, QC warnings) is computed from the summed counts, as for
  a file gated whole. A worker so holds one range of a large file, not the file, and the ranges
  of one file run on several workers at once. Files that cannot be read by ranges (see
  :mod:`clestudy.immuno._fcs_range`) and batches that ask for medians (which need every member
  value of the file in one place) are gated whole, in one task;
* the gating strategy (and a compensation matrix file) is shipped once per worker: its bytes are
  scattered to every worker with ``broadcast=True`` and each task receives that worker's copy;
  each worker thread parses it once and reuses it for every file;
* results stream back as they finish (``as_completed``), driving the progress callback, and are
  returned in input order; the first failed file (or range of a file) cancels the rest and is
  raised, naming the file; with ``on_error`` the file is reported once, whatever its failed
  ranges, and the batch goes on (the file's other ranges finish and are dropped).

FCS files are read by path on the workers, so every worker must see them at the same path (a
shared file system). Before any gating a small function runs on every worker (``Client.run``)
and finds the paths it cannot read: the batch fails at once naming the first path some workers
read and others cannot (or the first path when no worker reads any of them). A file no worker can
read is left to fail in its own task, as a missing file does locally.

References
----------
Dask distributed documentation, "Futures" (``Client.scatter``, ``as_completed``) and
"Client.run": https://distributed.dask.org/en/stable/
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clestudy.errors import ClestudyError
from clestudy.immuno._batch import ErrorCallback, ProgressCallback, _gate_one, _gate_range
from clestudy.immuno._chunked import ChunkedGating
from clestudy.immuno._errors import FcsFileError
from clestudy.immuno._fcs_range import EventRange, event_ranges, splittable_events
from clestudy.immuno._gating import (
    DEFAULT_CHUNK_EVENTS,
    BeadCount,
    FlowOptions,
    SampleResult,
    tabulate,
)
from clestudy.immuno._strategy import load_strategy

__all__ = ["DEFAULT_TASK_EVENTS", "SCHEDULER_ENV", "ClusterError", "gate_batch_dask"]

#: Environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "CLESTUDY_DASK_SCHEDULER"

#: A file of more events than this is gated as ranges of this many events, one task each:
#: 2^20 = 1,048,576 events, about 1 CPU s of gating and 100 MB of float64 events for 12 channels
#: (``docs/performance.md``), so a task is far longer than the scheduler's cost of a task (under
#: 1 ms) and a worker's memory stays near that of one such range. A performance setting: it
#: changes no count.
DEFAULT_TASK_EVENTS = 4 * DEFAULT_CHUNK_EVENTS

#: Seconds to wait for the scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 30

_WRITE_LOCK = threading.Lock()


class ClusterError(ClestudyError):
    """The Dask cluster cannot run the batch: unreachable, no workers, or a worker that does not
    see the FCS files."""


@dataclass(frozen=True)
class ShippedFile:
    """A small input file (strategy, compensation matrix) sent to the workers by content."""

    name: str
    data: bytes

    @property
    def digest(self) -> str:
        """SHA-256 of the content: the folder the file is written to on a worker."""
        return hashlib.sha256(self.data).hexdigest()

    @classmethod
    def read(cls, path: str | Path) -> ShippedFile:
        """The file's name and bytes."""
        path = Path(path)
        return cls(path.name, path.read_bytes())


def _materialise(shipped: ShippedFile) -> str:
    """The shipped file written once in this worker's temporary folder (same name, own folder)."""
    folder = Path(tempfile.gettempdir()) / f"clestudy-shipped-{shipped.digest[:20]}"
    target = folder / shipped.name
    with _WRITE_LOCK:
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{shipped.name}.{os.getpid()}"
            partial.write_bytes(shipped.data)
            os.replace(partial, target)  # another process on the same host may race: atomic
    return str(target)


#: What the workers get once: (strategy, matrix file or None, the user's paths of both).
Shipped = tuple[ShippedFile, ShippedFile | None, str, str | None]

#: A range task's answer: its counts and the file's QC warnings so far.
RangeCounts = tuple[ChunkedGating, tuple[str, ...]]


def _on_worker(shipped: Shipped, options: FlowOptions, gate: Any) -> Any:
    """``gate(strategy file, options)`` with the worker's copy of the strategy (and matrix)."""
    strategy, matrix, strategy_origin, matrix_origin = shipped
    local = _materialise(strategy)
    if matrix is not None:
        options = replace(options, compensation_file=_materialise(matrix))
    try:
        return gate(local, options)
    except ClestudyError as exc:
        # name the user's files, not the worker's copies of them
        message = str(exc).replace(local, strategy_origin)
        if matrix is not None and matrix_origin is not None and options.compensation_file:
            message = message.replace(options.compensation_file, matrix_origin)
        raise type(exc)(message) from None


def _gate_on_worker(
    path: str,
    shipped: Shipped,
    options: FlowOptions,
    beads: BeadCount | None,
    task_events: int = 0,
) -> SampleResult | int:
    """One file, on a worker: its result, or (a file of more than ``task_events`` events that
    can be read by ranges, without medians) its event count, for the client to split."""
    if task_events > 0 and not options.median_channels:
        n_events = splittable_events(path, ignore_offset_error=options.ignore_offset_error)
        if n_events is not None and n_events > task_events:
            return n_events
    result: SampleResult = _on_worker(
        shipped, options, lambda strategy, opts: _gate_one(path, strategy, opts, beads)
    )
    return result


def _gate_range_on_worker(
    path: str, shipped: Shipped, options: FlowOptions, events: EventRange
) -> RangeCounts:
    """The gate counts of events ``[start, stop)`` of one file, on a worker."""
    counts: RangeCounts = _on_worker(
        shipped, options, lambda strategy, opts: _gate_range(path, strategy, opts, events)
    )
    return counts


def _unreadable(paths: Sequence[str]) -> list[int]:
    """Indexes of the paths this worker cannot open for reading (run on every worker)."""
    return [i for i, p in enumerate(paths) if not (os.path.isfile(p) and os.access(p, os.R_OK))]


def _connect(scheduler: str) -> Any:
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(f"{scheduler}: cannot reach the Dask scheduler: {message}") from None


def check_paths(client: Any, files: Sequence[str], scheduler: str) -> None:
    """Fail when some workers cannot read a path the others read (or no worker reads any).

    Raises
    ------
    ClusterError
        Naming the first such path and a worker that cannot read it.
    """
    if not files:
        return
    missing: dict[str, list[int]] = client.run(_unreadable, list(files))
    if not missing:
        raise ClusterError(f"{scheduler}: the Dask cluster has no workers")
    unread = {worker: set(indexes) for worker, indexes in missing.items()}
    everywhere = set.intersection(*unread.values())
    if len(everywhere) == len(files):
        worker = sorted(unread)[0]
        raise ClusterError(
            f"{files[0]}: no Dask worker can read this file (nor any other of the batch; worker "
            f"{worker}, for one); workers read FCS files by path, so they must see the same file "
            "system as the paths given (see docs/deployment.md)"
        )
    for i, path in enumerate(files):
        if i in everywhere:
            continue  # missing for every worker: it fails in its own task, like a missing file
        blind = sorted(w for w, idx in unread.items() if i in idx)
        if blind:
            raise ClusterError(
                f"{path}: Dask worker {blind[0]} cannot read this file (other workers can); "
                "workers read FCS files by path, so every worker must see the same file system "
                "at the same paths (see docs/deployment.md)"
            )


def gate_batch_dask(
    paths: Sequence[str | Path],
    strategy_path: str | Path,
    options: FlowOptions | None = None,
    *,
    scheduler: str | Any,
    beads: Sequence[BeadCount | None] | None = None,
    progress: ProgressCallback | None = None,
    on_error: ErrorCallback | None = None,
    task_events: int = DEFAULT_TASK_EVENTS,
) -> list[SampleResult]:
    """Gate every file with one strategy on a Dask cluster; results in input order.

    The same contract as :func:`~clestudy.immuno.gate_batch`, the local process pool: the same
    results, the first failure raised (or passed to ``on_error``), progress after each file.

    Parameters
    ----------
    paths
        FCS files, as the workers see them.
    strategy_path
        Gating-ML 2.0 file or FlowJo workspace, read here and shipped to the workers.
    options
        What to report (:class:`~clestudy.immuno.FlowOptions`); a ``compensation_file`` is
        shipped like the strategy.
    scheduler
        The scheduler's address, e.g. ``tcp://10.0.0.5:8786``, or a connected
        ``distributed.Client`` (left open, for many batches in one session).
    beads
        Counting beads per file (same order as ``paths``), or ``None``.
    progress
        Called as each file finishes (in completion order) as ``progress(done, total, path)``.
    on_error
        Keep going: a file that fails is passed to ``on_error(path, error)`` and left out.
    task_events
        A file of more events than this is gated as ranges of this many events, one task each
        (see the module docstring); ``0`` gates every file in one task.

    Raises
    ------
    ClusterError
        The scheduler does not answer, the cluster has no workers, or some worker cannot read a
        file the others can.
    clestudy.immuno.FcsFileError, clestudy.immuno.GatingStrategyError
        The first failed file (without ``on_error``); the remaining tasks are cancelled.
    """
    opts = options or FlowOptions()
    files = [str(p) for p in paths]
    bead_list: list[BeadCount | None] = [None] * len(files) if beads is None else list(beads)
    if len(bead_list) != len(files):
        raise ValueError(f"{len(bead_list)} bead counts for {len(files)} files")
    if task_events < 0:
        raise ValueError(f"task_events must be 0 (never split) or positive, not {task_events}")
    strategy = str(strategy_path)
    load_strategy(strategy)  # a broken strategy fails once, here, before the cluster is asked
    matrix = None
    if opts.compensation_file is not None:
        if not Path(opts.compensation_file).is_file():
            raise FcsFileError(f"{opts.compensation_file}: no such compensation matrix file")
        matrix = ShippedFile.read(opts.compensation_file)
    bundle = (ShippedFile.read(strategy), matrix, strategy, opts.compensation_file)
    own = isinstance(scheduler, str)
    client: Any = _connect(scheduler) if isinstance(scheduler, str) else scheduler
    address = scheduler if isinstance(scheduler, str) else str(client.scheduler.address)
    try:
        check_paths(client, files, address)
        [shipped] = client.scatter([bundle], broadcast=True)
        run = _ClusterBatch(client, shipped, files, bead_list, opts, task_events)
        return run.gather(progress, on_error)
    finally:
        if own:
            client.close()


class _ClusterBatch:
    """One batch on the cluster: a task per file, the range tasks of the large files, and the
    results as they come back."""

    def __init__(
        self,
        client: Any,
        shipped: Any,
        files: list[str],
        beads: list[BeadCount | None],
        options: FlowOptions,
        task_events: int,
    ) -> None:
        self.client, self.shipped, self.files, self.beads = client, shipped, files, beads
        self.options, self.task_events = options, task_events
        self.batch = uuid.uuid4().hex[:12]  # keys unique per batch: a reused client keeps old ones
        #: future -> (file index, range) for the tasks not yet seen back; range None: whole file
        self.pending: dict[Any, tuple[int, EventRange | None]] = {}
        self.submitted: list[Any] = []
        self.ranges: dict[int, dict[EventRange, RangeCounts | None]] = {}
        self.results: list[SampleResult | None] = [None] * len(files)
        self.settled: set[int] = set()  # files gated or failed

    def _submit(self, function: Any, index: int, part: EventRange | None, *args: Any) -> Any:
        suffix = "" if part is None else f"-events-{part[0]}"
        future = self.client.submit(
            function,
            self.files[index],
            self.shipped,
            self.options,
            *args,
            key=f"clestudy-gate-{self.batch}-{index}{suffix}",  # the dashboard shows what runs
            retries=0,
        )
        self.pending[future] = (index, part)
        self.submitted.append(future)
        return future

    def gather(
        self, progress: ProgressCallback | None, on_error: ErrorCallback | None
    ) -> list[SampleResult]:
        """Run the batch; results in input order."""
        from distributed import as_completed

        for index, bead in enumerate(self.beads):
            self._submit(_gate_on_worker, index, None, bead, self.task_events)
        finished = as_completed(list(self.pending))  # type: ignore[no-untyped-call]
        try:
            for future in finished:
                index, part = self.pending.pop(future)
                if index in self.settled:
                    continue  # a range of a file that already failed
                try:
                    done = self._take(future, index, part, finished)
                except ClestudyError as exc:
                    if on_error is None:
                        raise
                    on_error(self.files[index], exc)
                    done = True
                if done:
                    self.settled.add(index)
                    if progress is not None:
                        progress(len(self.settled), len(self.files), self.files[index])
        finally:
            self.client.cancel(self.submitted)
        return [r for r in self.results if r is not None]

    def _take(self, future: Any, index: int, part: EventRange | None, finished: Any) -> bool:
        """Record one finished task; ``True`` when its file is done. Raises the file's error."""
        path = self.files[index]
        if future.status != "finished":
            where = "" if part is None else f" (events {part[0] + 1}-{part[1]})"
            error = future.exception() if future.status == "error" else None
            raise _named(error, path, where)
        value = future.result()
        if part is None and isinstance(value, SampleResult):
            self.results[index] = value
            return True
        if part is None:  # the file is large: one task per range of its events
            spans = event_ranges(int(value), self.task_events)
            self.ranges[index] = dict.fromkeys(spans)
            for span in spans:
                finished.add(self._submit(_gate_range_on_worker, index, span, span))
            return False
        self.ranges[index][part] = value
        parts = self.ranges[index]
        if any(counts is None for counts in parts.values()):
            return False
        done = [counts for _, counts in sorted(parts.items()) if counts is not None]
        merged = ChunkedGating.merge([counts for counts, _ in done])
        notes = tuple(dict.fromkeys(n for _, warnings in done for n in warnings))  # once each
        self.results[index] = tabulate(Path(path), merged, self.options, self.beads[index], notes)
        del self.ranges[index]
        return True


def _named(error: BaseException | None, path: str, where: str = "") -> ClestudyError:
    """A task's error as one naming its file (a lost worker's error names none)."""
    if isinstance(error, ClestudyError):
        return error
    if error is None:  # cancelled from elsewhere (another client, a restarted cluster)
        return FcsFileError(f"{path}: gating was cancelled on the Dask cluster{where}")
    message = " ".join(str(error).split()) or type(error).__name__
    return FcsFileError(
        f"{path}: gating failed on the Dask cluster{where}: {type(error).__name__}: {message}"
    )
