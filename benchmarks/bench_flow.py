"""Benchmark: clestudy's flow gating (local pool, Dask cluster) against FlowKit's best configuration.

Not a test (pytest does not collect ``benchmarks/``). Run it by hand::

    .venv/bin/python benchmarks/bench_flow.py            # 8 files x 1,000,000 events
    .venv/bin/python benchmarks/bench_flow.py --n-files 4 --events 500000 --repeat 1

It synthesises the batch from a real human FCS file (fcsparser's FACSDiva B-cell file, 83,411
events x 12 channels with $SPILL; ``pip install --no-deps fcsparser==0.2.8``) by resampling its
events with replacement, one seed per file, and gates every file with
``tests/immuno/data/diva_bcell.xml`` (compensation from $SPILL, logicle on 4 channels, a polygon and
5 rectangle gates). Contenders, each in a fresh interpreter:

* ``flowkit-serial``: ``flowkit.Session(...).analyze_samples(cache_events=True, use_mp=False)``;
* ``flowkit-best``: the same with FlowKit's default multiprocessing (``use_mp=True``): FlowKit's
  best configuration;
* ``clestudy-1``: ``clestudy.immuno.gate_batch(files, strategy, workers=1)`` (work, not parallelism);
* ``clestudy-pool``: the same with ``--workers`` processes;
* ``dask-K``: ``gate_batch_dask`` on a ``distributed.LocalCluster`` of K single-thread worker
  processes (K = 1, 2, 4), started before the clock and closed after it;
* ``flowkit-single``: FlowKit on one file (each file in turn), for the memory of the largest file.

``--large N`` measures something else: one file of ``N`` events on a 2-worker ``LocalCluster``,
gated as one task (``dask-2-whole``, ``task_events=0``) and as one task per range of
``DEFAULT_TASK_EVENTS`` events (``dask-2``, the default), beside ``clestudy-1``: wall time, CPU
seconds, peak memory per worker and identical counts, in one run::

    .venv/bin/python benchmarks/bench_flow.py --large 4194304 --repeat 2

Wall time starts after the imports (and after the cluster is up). CPU seconds are those of every
process that worked: the contender and its finished children (``os.times``), or the contender and
the Dask workers (``os.times`` run on each worker). Memory is not sampled while timing: each
process's peak resident set is the kernel's high-water mark (``getrusage``), read after the run,
which costs nothing. "Peak per worker" is the largest worker's (for a pool, the largest child's);
it includes the interpreter and the imported libraries, as the single-file figure does.

Each contender runs ``--repeat`` times, interleaved; the fastest run is reported (the least
disturbed by other load), with the highest memory peak. Counts must be identical everywhere.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STRATEGY = ROOT / "tests" / "immuno" / "data" / "diva_bcell.xml"
SOURCE = "tests/data/FlowCytometers/FACS_Diva/facs_diva_test.fcs"
_CPU_FIELDS = ("user", "system", "children_user", "children_system")
CLUSTER_SIZES = (1, 2, 4)


def _source_file() -> Path:
    spec = importlib.util.find_spec("fcsparser")
    if spec is None or not spec.submodule_search_locations:
        # like the tests, skip (exit 0) and say why, so `make bench` runs the other benchmarks
        print("bench_flow skipped: needs fcsparser's data: pip install --no-deps fcsparser==0.2.8")
        sys.exit(0)
    return Path(next(iter(spec.submodule_search_locations))) / SOURCE


def synthesise(out: Path, n_files: int, n_events: int) -> list[Path]:
    """Write ``n_files`` FCS 3.1 files of ``n_events`` events resampled from the real file."""
    import flowio
    import flowkit as fk
    import numpy as np

    src = fk.Sample(str(_source_file()))
    events = src.get_events(source="raw")
    spill = src.metadata["spill"]
    pns = [label or pnn for label, pnn in zip(src.pns_labels, src.pnn_labels, strict=True)]
    paths = []
    for seed in range(n_files):
        path = out / f"synthetic_{n_events}_{seed:02d}.fcs"
        if not path.exists():
            rng = np.random.default_rng(seed)
            rows = events[rng.integers(0, events.shape[0], size=n_events)].astype(np.float32)
            with path.open("wb") as handle:
                flowio.create_fcs(
                    handle,
                    rows.ravel(),
                    channel_names=src.pnn_labels,
                    opt_channel_names=pns,
                    metadata_dict={"spill": spill},
                )
        paths.append(path)
    return paths


def _cpu() -> float:
    now = os.times()
    return sum(getattr(now, f) for f in _CPU_FIELDS)


def _own_cpu() -> float:
    now = os.times()
    return now.user + now.system


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def _flowkit(files: list[str], use_mp: bool) -> dict[str, dict[str, int]]:
    import flowkit as fk

    session = fk.Session(gating_strategy=fk.parse_gating_xml(str(STRATEGY)), fcs_samples=files)
    session.analyze_samples(cache_events=True, use_mp=use_mp)
    counts = {}
    for sample_id in session.get_sample_ids():
        report = session.get_gating_results(sample_id).report
        counts[Path(str(sample_id)).stem] = {
            str(r["gate_name"]): int(r["count"]) for r in report.to_dict("records")
        }
    return counts


def _tables(results: list[Any]) -> dict[str, dict[str, int]]:
    return {
        r.sample: dict(zip(r.populations["gate"], map(int, r.populations["count"]), strict=True))
        for r in results
    }


def run_contender(kind: str, files: list[str], workers: int) -> dict[str, Any]:
    """Gate ``files`` in this interpreter; wall and CPU seconds, peak memory, counts per file."""
    import flowkit  # noqa: F401  (imported before the clock, as every contender's)

    from clestudy.immuno import gate_batch

    if kind.startswith("dask-"):
        size, _, whole = kind.removeprefix("dask-").partition("-")
        return _run_dask(files, int(size), split=whole != "whole")
    start, cpu = time.perf_counter(), _cpu()
    if kind.startswith("flowkit"):
        counts = _flowkit(files, use_mp=kind == "flowkit-best")
    else:
        n = 1 if kind == "clestudy-1" else workers
        counts = _tables(gate_batch(files, STRATEGY, workers=n))
    seconds, cpu_seconds = time.perf_counter() - start, _cpu() - cpu
    children = _peak_mb(resource.RUSAGE_CHILDREN)
    own = _peak_mb(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "counts": counts,
        # a pool's work runs in its children; a serial run in the process itself
        "peak_worker_mb": children if children > 0 and kind != "clestudy-1" else own,
        "peak_self_mb": own,
    }


def _run_dask(files: list[str], n_workers: int, *, split: bool = True) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    from clestudy.immuno._dask import DEFAULT_TASK_EVENTS, gate_batch_dask

    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("flowkit") is None)  # imports before the clock
        before = client.run(_own_cpu)
        start, cpu = time.perf_counter(), _own_cpu()
        task_events = DEFAULT_TASK_EVENTS if split else 0
        counts = _tables(
            gate_batch_dask(files, STRATEGY, scheduler=client, task_events=task_events)
        )
        seconds = time.perf_counter() - start
        after = client.run(_own_cpu)
        cpu_seconds = _own_cpu() - cpu + sum(after[w] - before[w] for w in after)
        peaks = client.run(_peak_mb, resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "counts": counts,
        "peak_worker_mb": max(peaks.values()),
        "peak_self_mb": _peak_mb(resource.RUSAGE_SELF),
    }


def _measure(kind: str, files: list[Path], workers: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--run", kind, "--workers", str(workers), *map(str, files)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        sys.exit(f"{kind} failed with exit code {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["peak_worker_mb"] = max(r["peak_worker_mb"] for r in runs)
    best["counts_agree"] = all(r["counts"] == runs[0]["counts"] for r in runs)
    return best


def large_file(n_events: int, repeat: int, out: Path | None) -> None:
    """One large file on 2 Dask workers: one task for the file against one task per range."""
    from clestudy.immuno._dask import DEFAULT_TASK_EVENTS

    with tempfile.TemporaryDirectory() as tmp:
        folder = out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        files = synthesise(folder, 1, n_events)
        print(
            f"synthesised 1 file x {n_events:,} events in {time.perf_counter() - t0:.1f} s "
            f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}); ranges of "
            f"{DEFAULT_TASK_EVENTS:,} events"
        )
        kinds = ["clestudy-1", "dask-2-whole", "dask-2"]
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for _ in range(repeat):
            for kind in kinds:
                runs[kind].append(_measure(kind, files, 1))
        best = {kind: _fastest(r) for kind, r in runs.items()}
        names = {
            "clestudy-1": "clestudy, 1 process",
            "dask-2-whole": "Dask, 2 workers, one task",
            "dask-2": "Dask, 2 workers, range tasks",
        }
        print(f"{'contender':30s} {'wall s':>7s} {'CPU s':>7s} {'peak/worker MB':>14s}")
        for kind, r in best.items():
            print(
                f"{names[kind]:30s} {r['seconds']:7.2f} {r['cpu_seconds']:7.1f} "
                f"{r['peak_worker_mb']:14.0f}"
            )
        reference = best["clestudy-1"]["counts"]
        identical = all(r["counts"] == reference and r["counts_agree"] for r in best.values())
        whole, ranges = best["dask-2-whole"], best["dask-2"]
        print(
            f"range tasks: wall {whole['seconds'] / ranges['seconds']:.2f}x faster than one task; "
            f"peak per worker {ranges['peak_worker_mb'] / whole['peak_worker_mb']:.2f}x; "
            f"identical counts: {identical}"
        )
        print(f"load average after the runs: {os.getloadavg()[0]:.2f} (other processes share CPUs)")
        if not identical:
            sys.exit("counts differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--n-files", type=int, default=8)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="local pool processes")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each (fastest)")
    parser.add_argument("--out", type=Path, help="folder for the synthetic files (default: temp)")
    parser.add_argument("--large", type=int, help="one file of this many events: range tasks")
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_contender(args.run, args.files, args.workers)))
        return
    if args.large:
        large_file(args.large, args.repeat, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        files = synthesise(out, args.n_files, args.events)
        print(
            f"synthesised {len(files)} files x {args.events:,} events in "
            f"{time.perf_counter() - t0:.1f} s ({os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f})"
        )
        kinds = ["flowkit-serial", "flowkit-best", "clestudy-1", "clestudy-pool"]
        kinds += [f"dask-{k}" for k in CLUSTER_SIZES]
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for _ in range(args.repeat):
            for kind in kinds:
                runs[kind].append(_measure(kind, files, args.workers))
        best = {kind: _fastest(r) for kind, r in runs.items()}
        singles = [_measure("flowkit-serial", [f], 1) for f in files]
        largest = max(s["peak_worker_mb"] for s in singles)
        total = len(files) * args.events
        names = {
            "flowkit-serial": "FlowKit serial (cached)",
            "flowkit-best": "FlowKit best (cached, mp)",
            "clestudy-1": "clestudy, 1 process",
            "clestudy-pool": f"clestudy pool, {args.workers} proc",
        }
        names |= {f"dask-{k}": f"clestudy Dask, {k} worker(s)" for k in CLUSTER_SIZES}
        print(f"{'contender':30s} {'wall s':>7s} {'M ev/s':>7s} {'CPU s':>7s} {'CPU s/M ev':>10s} "
              f"{'peak/worker MB':>14s}")  # fmt: skip
        for kind, r in best.items():
            print(
                f"{names[kind]:30s} {r['seconds']:7.2f} {total / r['seconds'] / 1e6:7.3f} "
                f"{r['cpu_seconds']:7.1f} {r['cpu_seconds'] / total * 1e6:10.2f} "
                f"{r['peak_worker_mb']:14.0f}"
            )
        print(f"{'FlowKit, largest single file':30s} peak {largest:.0f} MB")
        reference = best["flowkit-serial"]["counts"]
        identical = all(r["counts"] == reference and r["counts_agree"] for r in best.values())
        fk_best = best["flowkit-best"]
        cpu_gain = fk_best["cpu_seconds"] / best["clestudy-1"]["cpu_seconds"]
        wall_gain = best["flowkit-serial"]["seconds"] / best["clestudy-pool"]["seconds"]
        memory = max(best[f"dask-{k}"]["peak_worker_mb"] for k in CLUSTER_SIZES) / largest
        per_file = best["dask-1"]["seconds"] / len(files)
        print(
            f"CPU per M events: FlowKit best / clestudy = {cpu_gain:.2f}x (target >= 1.5x); "
            f"wall: FlowKit serial / clestudy pool = {wall_gain:.2f}x (target >= 2x); "
            f"peak per Dask worker {memory:.2f}x the largest single file (target <= 1.5x); "
            f"identical counts: {identical}"
        )
        scaling = ", ".join(
            f"{k}: {best['dask-1']['seconds'] / best[f'dask-{k}']['seconds']:.2f}x"
            for k in CLUSTER_SIZES
        )
        print(f"Dask scaling over 1 worker: {scaling}; one worker: {per_file:.2f} s per file")
        print(f"load average after the runs: {os.getloadavg()[0]:.2f} (other processes share CPUs)")
        if not identical:
            sys.exit("counts differ")


if __name__ == "__main__":
    main()
