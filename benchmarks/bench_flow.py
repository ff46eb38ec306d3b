"""Benchmark: clestudy's batch gating against FlowKit's own Session gating the same files serially.

Not a test (pytest does not collect ``benchmarks/``). Run it by hand::

    .venv/bin/python benchmarks/bench_flow.py            # 8 files x 1,000,000 events, 2 workers

It synthesises the batch from a real human FCS file (fcsparser's FACSDiva B-cell file, 83,411
events x 12 channels with $SPILL; ``pip install --no-deps fcsparser==0.2.8``) by resampling its
events with replacement, one seed per file, and gates every file with
``tests/immuno/data/diva_bcell.xml`` (compensation from $SPILL, logicle on 4 channels, a polygon and
5 rectangle gates). Each contender runs in a fresh interpreter while this process samples the
memory of that interpreter and all its children every 20 ms:

* ``flowkit-serial``: ``flowkit.Session(strategy, fcs_samples=files).analyze_samples(use_mp=False)``;
* ``flowkit-single``: the same on one file (each file in turn: the largest single-file run);
* ``clestudy``: ``clestudy.immuno.gate_batch(files, strategy, workers=N)``.

The two batch contenders run ``--repeat`` times (default 3), interleaved; the fastest run of each
is reported (the one least disturbed by other load on the machine), with the highest memory peak.

Timings start after the imports. Memory is the peak of the summed PSS (proportional set size:
pages shared between processes, such as the forked workers' copy of the imported libraries,
counted once) over the process tree; the summed RSS is printed too. Counts must be identical.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
STRATEGY = ROOT / "tests" / "immuno" / "data" / "diva_bcell.xml"
SOURCE = "tests/data/FlowCytometers/FACS_Diva/facs_diva_test.fcs"
_CPU_FIELDS = ("user", "system", "children_user", "children_system")


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
        path = out / f"synthetic_{seed:02d}.fcs"
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


def run_contender(kind: str, files: list[str], workers: int) -> dict[str, Any]:
    """Gate ``files`` in this interpreter; return elapsed seconds and counts per file and gate."""
    import flowkit as fk

    from clestudy.immuno import gate_batch

    start, cpu_start = time.perf_counter(), os.times()
    counts: dict[str, dict[str, int]] = {}
    if kind.startswith("flowkit"):
        session = fk.Session(gating_strategy=fk.parse_gating_xml(str(STRATEGY)), fcs_samples=files)
        session.analyze_samples(use_mp=False)
        for sample_id in session.get_sample_ids():
            report = session.get_gating_results(sample_id).report
            stem = Path(str(sample_id)).stem
            counts[stem] = {str(r["gate_name"]): int(r["count"]) for r in report.to_dict("records")}
    else:
        for result in gate_batch(files, STRATEGY, workers=workers):
            table = result.populations
            counts[result.sample] = dict(zip(table["gate"], map(int, table["count"]), strict=True))
    seconds, cpu_end = time.perf_counter() - start, os.times()
    # CPU of this process and of its finished children (the batch's worker processes)
    cpu = sum(getattr(cpu_end, f) - getattr(cpu_start, f) for f in _CPU_FIELDS)
    return {"seconds": seconds, "cpu_seconds": cpu, "counts": counts}


def _measure(kind: str, files: list[Path], workers: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--run", kind, "--workers", str(workers), *map(str, files)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = {"pss": 0, "rss": 0}
    stop = threading.Event()

    def sample() -> None:
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                pss = rss = 0
                for p in tree:
                    info = p.memory_full_info()
                    pss, rss = pss + info.pss, rss + info.rss
                peak["pss"], peak["rss"] = max(peak["pss"], pss), max(peak["rss"], rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode:
        sys.exit(f"{kind} failed with exit code {proc.returncode}")
    result = json.loads(out)
    result.update(peak_pss_mb=peak["pss"] / 2**20, peak_rss_mb=peak["rss"] / 2**20)
    return result


def _fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["peak_pss_mb"] = max(r["peak_pss_mb"] for r in runs)
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["counts_agree"] = all(r["counts"] == runs[0]["counts"] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--n-files", type=int, default=8)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each (fastest)")
    parser.add_argument("--out", type=Path, help="folder for the synthetic files (default: temp)")
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_contender(args.run, args.files, args.workers)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        files = synthesise(out, args.n_files, args.events)
        print(
            f"synthesised {len(files)} files x {args.events:,} events in "
            f"{time.perf_counter() - t0:.1f} s ({psutil.cpu_count()} CPUs)"
        )
        total = len(files) * args.events
        # interleaved repeats; the fastest run of each is the one least disturbed by other load
        serials, batches = [], []
        for _ in range(args.repeat):
            serials.append(_measure("flowkit-serial", files, 1))
            batches.append(_measure("clestudy", files, args.workers))
        serial = _fastest(serials)
        ours = _fastest(batches)
        print(
            "all runs, wall s: FlowKit "
            + ", ".join(f"{r['seconds']:.2f}" for r in serials)
            + "; clestudy "
            + ", ".join(f"{r['seconds']:.2f}" for r in batches)
        )
        singles = [_measure("flowkit-single", [f], 1) for f in files]
        largest = max(singles, key=lambda r: r["peak_pss_mb"])
        identical = ours["counts"] == serial["counts"] and ours["counts_agree"]
        for name, r in (
            ("FlowKit Session, serial", serial),
            (f"clestudy, {args.workers} workers", ours),
        ):
            print(
                f"{name:28s} {r['seconds']:7.2f} s  {total / r['seconds'] / 1e6:6.3f} M events/s  "
                f"CPU {r['cpu_seconds']:6.1f} s  "
                f"peak PSS {r['peak_pss_mb']:7.0f} MB  (RSS {r['peak_rss_mb']:7.0f} MB)"
            )
        print(
            f"{'FlowKit, largest single file':28s} {largest['seconds']:7.2f} s  "
            f"{args.events / largest['seconds'] / 1e6:6.3f} M events/s  "
            f"peak PSS {largest['peak_pss_mb']:7.0f} MB  (RSS {largest['peak_rss_mb']:7.0f} MB)"
        )
        speedup = serial["seconds"] / ours["seconds"]
        memory = ours["peak_pss_mb"] / largest["peak_pss_mb"]
        print(
            f"load average while running: {os.getloadavg()[0]:.2f} (other processes share the CPUs)"
        )
        print(
            f"speedup {speedup:.2f}x (target >= 1.8x); identical counts: {identical}; "
            f"peak memory {memory:.2f}x the largest single-file FlowKit run (target < 1.5x)"
        )
        if not identical:
            sys.exit("counts differ")


if __name__ == "__main__":
    main()
