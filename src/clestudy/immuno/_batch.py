"""Gate many FCS files in parallel processes with bounded memory.

Each worker process holds one file at a time: the parent sends only paths and receives only the
small population tables, so peak memory is about ``workers`` times one file's gating, whatever the
batch size. The strategy is parsed once per worker. The first error cancels the rest of the batch
and is raised as is (its message names the file), so a caller that stores results stores nothing;
with ``on_error`` the batch goes on instead and the failed files are left out of the results.

The same per-file work runs on a Dask cluster through :mod:`clestudy.immuno._dask`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from clestudy.errors import ClestudyError
from clestudy.immuno._chunked import ChunkedGating
from clestudy.immuno._fcs_range import EventRange
from clestudy.immuno._gating import BeadCount, FlowOptions, SampleResult, gate_events, tabulate
from clestudy.immuno._strategy import _load_strategy, load_strategy

__all__ = ["ErrorCallback", "ProgressCallback", "default_workers", "gate_batch"]

#: Called after each file: (files done, files in the batch, the file just done).
ProgressCallback = Callable[[int, int, str], None]

#: Called for each file that failed, instead of failing the batch: (the file, its error).
ErrorCallback = Callable[[str, Exception], None]

#: Per worker process and thread: (strategy file, FCS file or "", thread) -> (strategy, warnings).
#: FlowKit caches events on the strategy object while gating, so two threads (a Dask worker runs
#: several) must not gate with the same object at once.
_STRATEGIES: dict[tuple[str, str, int], tuple[Any, tuple[str, ...]]] = {}


def default_workers(n_files: int) -> int:
    """Worker processes for a batch: one per CPU this process may use, at most one per file.

    Examples
    --------
    >>> default_workers(1)
    1
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, n_files))


def _strategy_for(strategy_path: str, fcs_path: str) -> tuple[Any, tuple[str, ...]]:
    sample = fcs_path if strategy_path.lower().endswith(".wsp") else ""
    key = (strategy_path, sample, threading.get_ident())
    if key not in _STRATEGIES:
        _STRATEGIES[key] = _load_strategy(strategy_path, sample_name=fcs_path)
    return _STRATEGIES[key]


def _gate_one(path: str, strategy_path: str, options: FlowOptions, beads: BeadCount | None) -> Any:
    merged, notes = _gate_range(path, strategy_path, options, None)
    return tabulate(Path(path), merged, options, beads, notes)


def _gate_range(
    path: str, strategy_path: str, options: FlowOptions, events: EventRange | None
) -> tuple[ChunkedGating, tuple[str, ...]]:
    """The counts of one file (or of its events ``[start, stop)``) and its QC warnings so far:
    the strategy's notes, then those of reading the file."""
    strategy, notes = _strategy_for(strategy_path, path)
    if options.compensation_file is not None:
        # the matrix file rewrites the strategy's compensation references: use a fresh copy
        strategy, notes = _load_strategy(strategy_path, sample_name=path)
    merged, read_notes = gate_events(Path(path), strategy, options, events)
    return merged, (*notes, *read_notes)


def _context() -> multiprocessing.context.BaseContext:
    # fork shares the already imported FlowKit with the workers (no re-import per worker);
    # elsewhere spawn is the only safe choice.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def gate_batch(
    paths: Sequence[str | Path],
    strategy_path: str | Path,
    options: FlowOptions | None = None,
    *,
    beads: Sequence[BeadCount | None] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    on_error: ErrorCallback | None = None,
) -> list[SampleResult]:
    """Gate every file with one strategy, in parallel processes; results in input order.

    Parameters
    ----------
    paths
        FCS files.
    strategy_path
        Gating-ML 2.0 file or FlowJo workspace.
    options
        What to report (:class:`~clestudy.immuno.FlowOptions`).
    beads
        Counting beads per file (same order as ``paths``), or ``None``.
    workers
        Worker processes; default one per usable CPU (at most one per file). ``1`` gates in this
        process.
    progress
        Called after each file (gated or failed) as ``progress(done, total, path)``.
    on_error
        Keep going: a file that fails with a :class:`~clestudy.errors.ClestudyError` is passed to
        ``on_error(path, error)`` and left out of the results, instead of failing the batch.

    Raises
    ------
    clestudy.immuno.FcsFileError, clestudy.immuno.GatingStrategyError
        The first failure of the batch (without ``on_error``); the remaining files are cancelled.
    """
    opts = options or FlowOptions()
    files = [str(p) for p in paths]
    bead_list = list(beads) if beads is not None else [None] * len(files)
    strategy = str(strategy_path)
    load_strategy(strategy)  # a broken strategy fails once, before any worker starts
    n_workers = workers or default_workers(len(files))
    results: list[SampleResult | None] = [None] * len(files)
    if n_workers <= 1 or len(files) <= 1:
        for i, (path, bead) in enumerate(zip(files, bead_list, strict=True)):
            try:
                results[i] = _gate_one(path, strategy, opts, bead)
            except ClestudyError as exc:
                if on_error is None:
                    raise
                on_error(path, exc)
            if progress is not None:
                progress(i + 1, len(files), path)
        return [r for r in results if r is not None]
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=_context()) as pool:
        futures: dict[Future[Any], int] = {
            pool.submit(_gate_one, path, strategy, opts, bead): i
            for i, (path, bead) in enumerate(zip(files, bead_list, strict=True))
        }
        pending = set(futures)
        done_count = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                index = futures[future]
                error = future.exception()
                if isinstance(error, ClestudyError) and on_error is not None:
                    on_error(files[index], error)
                elif error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                else:
                    results[index] = future.result()
                done_count += 1
                if progress is not None:
                    progress(done_count, len(files), files[index])
    return [r for r in results if r is not None]
