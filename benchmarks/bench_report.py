"""Benchmark: time and peak memory of the HTML report for 100, 1,000 and 5,000 subjects.

Run with ``python benchmarks/bench_report.py [--sizes 100 1000 5000] [--profile N]`` (not part of
pytest). For each size it generates a synthetic open-label study of ``N`` subjects x 6 visits
(the built-in open-label protocol with one more visit, week 36): demographics, exposure, vital
signs, CLASI, labs and, at two visits, the immune profile, with an adverse event for one subject
in ten. The records go through ``Store.save_records`` in batches of ``--batch`` (2,000) records,
the audited write path every import uses. Then it runs :func:`clestudy.report.write_report` on
the database in a fresh process and prints its wall time and peak resident memory (the
process's ``ru_maxrss``), and the ratio of consecutive sizes against the ratio of subjects: the
target is linear growth, 1,000 -> 5,000 subjects costing at most 5.5x the time.

``--profile N`` runs the report of an ``N``-subject study under cProfile and prints the 25
costliest functions by cumulative time instead. ``--keep DIR`` keeps the generated databases in
``DIR`` and reuses them on the next run (generating 5,000 subjects takes minutes; the data are the
same for the same seed), and ``--repeat K`` times each report ``K`` times (the fastest and the
slowest are printed: on a shared machine the spread is the noise). The exit code is always 0 (a
report).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from clestudy.demo._clasi_items import clasi_items
from clestudy.protocol import Visit, load_protocol
from clestudy.protocol._model import Protocol
from clestudy.store import RecordInput, open_store

ACTOR = "bench-report"
START = dt.date(2020, 1, 6)
DAYS = {"week_0": 0, "week_6": 42, "week_12": 84, "week_24": 168, "week_36": 252, "week_52": 364}
AREAS = ("scalp", "ears", "nose", "rest_of_face", "v_neck", "chest", "arms", "hands")


def bench_protocol() -> Protocol:
    """The open-label protocol with a sixth visit (week 36), as a separate study id."""
    base = load_protocol("lenalidomide-cle-open-label")
    week_24 = base.visit("week_24")
    assert week_24 is not None
    extra = Visit(id="week_36", name="Week 36", day=252, window_before=14, window_after=14,
                  forms=week_24.forms)  # fmt: skip
    visits = [*base.visits[:4], extra, *base.visits[4:]]
    return base.model_copy(update={"id": "bench-report", "visits": tuple(visits)})


def _pos(rng: np.random.Generator, mean: float, sd: float) -> float:
    """A normal draw kept inside the protocol's allowed range (at least a tenth of the mean)."""
    return max(mean / 10, float(rng.normal(mean, sd)))


def _subject_records(rng: np.random.Generator, subject: str, index: int) -> list[RecordInput]:
    responder = rng.random() < 0.7
    baseline = int(rng.integers(10, 30))
    involved = tuple(AREAS[: 4 + int(rng.integers(0, 5))])
    sex = "F" if rng.random() < 0.8 else "M"
    age = int(rng.integers(25, 70))
    records: list[RecordInput] = []
    for step, (visit, offset) in enumerate(DAYS.items()):
        day = START + dt.timedelta(days=index % 300 + offset)
        fall = (0.12 if responder else 0.01) * step * baseline
        activity = max(0, round(baseline - fall + float(rng.normal(0, 1))))
        activity = min(activity, 5 * len(involved) + 5)
        forms: dict[str, dict[str, Any]] = {
            "vs": {"vsdat": day.isoformat(), "weight": f"{rng.normal(72, 8):.1f}",
                   "height": f"{rng.normal(167, 7):.0f}"},
            "clasi": {"rsdat": day.isoformat(), **clasi_items(
                rng, activity, involved=involved, dyspigmented=involved[:1], scarred=(),
                dyspigmentation_12_months=False)},
            "labs": {
                "lbdat": day.isoformat(), "wbc": f"{_pos(rng, 6.0, 0.8):.1f}",
                "neut": f"{_pos(rng, 3.4, 0.7):.1f}", "lym": f"{_pos(rng, 1.6, 0.3):.1f}",
                "plat": int(_pos(rng, 240, 40)), "hgb": f"{_pos(rng, 13.4, 0.9):.1f}",
                "creat": f"{_pos(rng, 0.85, 0.1):.2f}", "alt": int(_pos(rng, 24, 6)),
                "ast": int(_pos(rng, 24, 6)), "esr": int(_pos(rng, 18, 4)),
                "c3": int(_pos(rng, 105, 8)), "c4": int(_pos(rng, 22, 3)),
                "dsdna": int(_pos(rng, 12, 4)), "pregnancy_test": "not_applicable",
            },
        }  # fmt: skip
        if step == 0:
            forms["dm"] = {
                "brthdat": (day - dt.timedelta(days=int(365.25 * age) + 40)).isoformat(),
                "age": age, "sex": sex, "race": "WHITE", "ethnic": "NOT HISPANIC OR LATINO",
                "cle_subtype": ("dle", "scle", "mixed")[int(rng.integers(0, 3))],
            }  # fmt: skip
            forms["ex"] = {"extrt": "LENALIDOMIDE", "exdose": 10, "exstdat": day.isoformat()}
        if visit in ("week_0", "week_12"):
            after = step > 0
            forms["immune_profile"] = {
                "sample_date": day.isoformat(),
                "pdc_pct_lin_neg": f"{rng.normal(0.3 if after else 0.22, 0.03):.3f}",
                "treg_pct_cd4": f"{rng.normal(5.5, 0.4):.2f}",
                "hladr_pct_cd3": f"{rng.normal(14.0 if after else 7.5, 1.0):.1f}",
                "ifn_score": f"{rng.normal(3.1 if after else 9.8, 0.6):.2f}",
            }
        if visit == "week_12" and index % 10 == 0:
            forms["ae"] = {
                "aeterm": "Neutrophil count decreased", "aestdat": day.isoformat(),
                "aetoxgr": 1 + index % 3, "aeser": False, "aerel": "RELATED",
                "aeout": "RECOVERED/RESOLVED", "aeacn": "DOSE NOT CHANGED",
            }  # fmt: skip
        records += [RecordInput(subject, visit, form, values) for form, values in forms.items()]
    return records


def generate(path: Path, subjects: int, *, batch: int = 2000, seed: int = 20261203) -> float:
    """Write a study of ``subjects`` subjects to a new SQLite file; return the seconds it took."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with open_store(f"sqlite:///{path}", bench_protocol(), actor=ACTOR) as store:
        pending: list[RecordInput] = []
        for index in range(subjects):
            subject = f"S{index + 1:05d}"
            store.add_subject(subject, arm="lenalidomide", site="site01", actor=ACTOR)
            pending += _subject_records(rng, subject, index)
            if len(pending) >= batch:
                store.save_records(pending, actor=ACTOR, reason="benchmark data")
                pending = []
        if pending:
            store.save_records(pending, actor=ACTOR, reason="benchmark data")
    return time.perf_counter() - started


def _report_child(database: str, out: str) -> None:
    """Run in a fresh process: write the report, print seconds and peak RSS (MiB)."""
    from clestudy.report import write_report

    started = time.perf_counter()
    write_report(f"sqlite:///{database}", Path(out))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{seconds:.3f} {peak:.1f}")


def time_report(database: Path, out: Path) -> tuple[float, float]:
    """Seconds and peak MiB of one report run in a fresh interpreter."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[3]); import bench_report as b; "
        "b._report_child(sys.argv[1], sys.argv[2])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(database), str(out), str(Path(__file__).parent)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the report of {database} failed:\n{done.stderr}")
    seconds, peak = done.stdout.split()[-2:]
    return float(seconds), float(peak)


def study_database(folder: Path, subjects: int, batch: int) -> tuple[Path, float | None]:
    """The database of ``subjects`` subjects in ``folder``: reused when a finished one is there
    (``None`` seconds), else generated under a temporary name and renamed when complete."""
    database = folder / f"study-{subjects}.db"
    if database.exists():
        return database, None
    partial = folder / f"study-{subjects}.partial.db"
    partial.unlink(missing_ok=True)
    made = generate(partial, subjects, batch=batch)
    partial.rename(database)
    return database, made


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, help="profile the report of N subjects")
    parser.add_argument("--keep", type=Path, default=None, help="keep and reuse the databases")
    parser.add_argument("--repeat", type=int, default=1, help="time each report K times")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.profile:
            database, _ = study_database(folder, args.profile, args.batch)
            from clestudy.report import write_report

            profiler = cProfile.Profile()
            profiler.runcall(write_report, f"sqlite:///{database}", Path(tmp) / "report.html")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return 0
        results: list[tuple[int, float, float]] = []
        print(f"{'subjects':>8} {'generate s':>11} {'report s (min-max)':>19} {'peak MiB':>9} "
              f"{'ratio':>14}")  # fmt: skip
        for size in args.sizes:
            database, made = study_database(folder, size, args.batch)
            runs = [time_report(database, Path(tmp) / f"report-{size}.html")
                    for _ in range(max(1, args.repeat))]  # fmt: skip
            seconds = min(s for s, _ in runs)
            slowest = max(s for s, _ in runs)
            peak = max(p for _, p in runs)
            ratio = ""
            if results:
                last_size, last_seconds, _ = results[-1]
                ratio = f"{seconds / last_seconds:.2f}x / {size / last_size:.0f}x"
            results.append((size, seconds, peak))
            generated = "reused" if made is None else f"{made:.1f}"
            spread = f"{seconds:.2f}-{slowest:.2f}"
            print(f"{size:>8} {generated:>11} {spread:>19} {peak:>9.0f} {ratio:>14}", flush=True)
        print("target: 1,000 -> 5,000 subjects at most 5.5x the time (linear)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
