"""Gate many FCS files on an existing Dask ``distributed`` cluster.

Dask's scheduler places the tasks, moves the results and survives slow or lost workers; this module
builds no scheduler of its own. It only turns a batch into Dask tasks and back:

* one task per file, gated exactly as in the local process pool (:func:`gate_fcs`, which gates a
  large file ``chunk_events`` events at a time inside its task, so a worker's memory is bounded by
  its threads times one chunk, whatever the file size);
* the gating strategy (and a compensation matrix file) is shipped once per worker: its bytes are
  scattered to every worker with ``broadcast=True`` and each task receives that worker's copy;
  each worker thread parses it once and reuses it for every file;
* results stream back as they finish (``as_completed``), driving the progress callback, and are
  returned in input order; the first failed file cancels the rest and is raised, naming the file;
  with ``on_error`` the failure is reported and the batch goes on.

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
from clestudy.immuno._batch import ErrorCallback, ProgressCallback, _gate_one
from clestudy.immuno._errors import FcsFileError
from clestudy.immuno._gating import BeadCount, FlowOptions, SampleResult
from clestudy.immuno._strategy import load_strategy

__all__ = ["SCHEDULER_ENV", "ClusterError", "gate_batch_dask"]

#: Environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "CLESTUDY_DASK_SCHEDULER"

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


def _gate_on_worker(
    path: str,
    shipped: tuple[ShippedFile, ShippedFile | None, str, str | None],
    options: FlowOptions,
    beads: BeadCount | None,
) -> SampleResult:
    """One file, on a worker, with the worker's copy of the strategy (and matrix file)."""
    strategy, matrix, strategy_origin, matrix_origin = shipped
    local = _materialise(strategy)
    if matrix is not None:
        options = replace(options, compensation_file=_materialise(matrix))
    try:
        result: SampleResult = _gate_one(path, local, options, beads)
        return result
    except ClestudyError as exc:
        # name the user's files, not the worker's copies of them
        message = str(exc).replace(local, strategy_origin)
        if matrix is not None and matrix_origin is not None and options.compensation_file:
            message = message.replace(options.compensation_file, matrix_origin)
        raise type(exc)(message) from None


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

    Raises
    ------
    ClusterError
        The scheduler does not answer, the cluster has no workers, or some worker cannot read a
        file the others can.
    clestudy.immuno.FcsFileError, clestudy.immuno.GatingStrategyError
        The first failed file (without ``on_error``); the remaining tasks are cancelled.
    """
    from distributed import as_completed

    opts = options or FlowOptions()
    files = [str(p) for p in paths]
    bead_list = list(beads) if beads is not None else [None] * len(files)
    if len(bead_list) != len(files):
        raise ValueError(f"{len(bead_list)} bead counts for {len(files)} files")
    strategy = str(strategy_path)
    load_strategy(strategy)  # a broken strategy fails once, here, before the cluster is asked
    matrix = None
    if opts.compensation_file is not None:
        if not Path(opts.compensation_file).is_file():
            raise FcsFileError(f"{opts.compensation_file}: no such compensation matrix file")
        matrix = ShippedFile.read(opts.compensation_file)
    bundle = (ShippedFile.read(strategy), matrix, strategy, opts.compensation_file)
    results: list[SampleResult | None] = [None] * len(files)
    own = isinstance(scheduler, str)
    client: Any = _connect(scheduler) if isinstance(scheduler, str) else scheduler
    address = scheduler if isinstance(scheduler, str) else str(client.scheduler.address)
    try:
        check_paths(client, files, address)
        [shipped] = client.scatter([bundle], broadcast=True)
        batch = uuid.uuid4().hex[:12]  # keys unique per batch: a reused client keeps old ones
        futures = {
            client.submit(
                _gate_on_worker,
                path,
                shipped,
                opts,
                bead,
                key=f"clestudy-gate-{batch}-{i}",  # the dashboard shows what runs
                retries=0,
            ): i
            for i, (path, bead) in enumerate(zip(files, bead_list, strict=True))
        }
        done = 0
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                index = futures[future]
                if future.status == "error":
                    error = _named(future.exception(), files[index])
                    if on_error is None:
                        raise error
                    on_error(files[index], error)
                else:
                    results[index] = future.result()
                done += 1
                if progress is not None:
                    progress(done, len(files), files[index])
        finally:
            client.cancel(list(futures))
    finally:
        if own:
            client.close()
    return [r for r in results if r is not None]


def _named(error: BaseException, path: str) -> Exception:
    """A task's error as one naming its file (a lost worker's error names none)."""
    if isinstance(error, ClestudyError):
        return error
    message = " ".join(str(error).split()) or type(error).__name__
    return FcsFileError(
        f"{path}: gating failed on the Dask cluster: {type(error).__name__}: {message}"
    )
