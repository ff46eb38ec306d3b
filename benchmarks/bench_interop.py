"""Benchmark: a REDCap import through the audited store vs ``pandas.read_csv`` plus a bulk insert.

Run with ``python benchmarks/bench_interop.py [--subjects 500] [--events 6]`` (not part of
pytest). A generated longitudinal project (10 forms of 5 fields, every form at every event, so
500 subjects x 6 events = 30,000 records) is imported with ``clestudy.interop.import_redcap``
(one transaction) into a new SQLite database; the baseline reads the same CSV with pandas and
inserts the same records (subject, event, form, values as JSON) into one plain table with
``executemany``, in the same run. The target is 3x; the script prints the ratio, and with
``--gate`` exits 1 above it. The gate is opt-in while the store has no bulk write path: the
import is far slower (see docs/performance.md, "Imports"), and a failing gate would stop
``make bench`` before the benchmarks after this one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from clestudy.interop import import_redcap
from clestudy.interop._redcap_dictionary import UI_COLUMNS

LIMIT = 3.0
FORMS, FIELDS = 10, 5


def generate(folder: Path, subjects: int, events: int, seed: int = 14) -> tuple[Path, Path]:
    """A dictionary and a flat records export of the given size."""
    rng = np.random.default_rng(seed)
    dictionary = folder / "dictionary.csv"
    with dictionary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(UI_COLUMNS)
        writer.writerow(["record_id", "form_0", "", "text", "Record ID", *[""] * 13])
        for f in range(FORMS):
            for i in range(FIELDS):
                row = [f"f{f}_v{i}", f"form_{f}", "", "text", f"Value {i}", "", "", "integer"]
                writer.writerow([*row, "0", "1000", *[""] * 8])
    header = ["record_id", "redcap_event_name"] + [
        c
        for f in range(FORMS)
        for c in [*(f"f{f}_v{i}" for i in range(FIELDS)), f"form_{f}_complete"]
    ]
    records = folder / "records.csv"
    values = rng.integers(0, 1000, size=(subjects * events, FORMS * FIELDS))
    with records.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for n, row in enumerate(values):
            cells: list[str] = []
            for f in range(FORMS):
                cells += [str(v) for v in row[f * FIELDS : (f + 1) * FIELDS]] + ["2"]
            writer.writerow([f"S{n // events:05d}", f"event_{n % events + 1}_arm_1", *cells])
    return dictionary, records


def baseline(records: Path, database: Path) -> float:
    """pandas.read_csv and a bulk insert of one row per record (values as JSON)."""
    start = time.perf_counter()
    frame = pd.read_csv(records, dtype=str)
    rows = []
    for record in frame.to_dict("records"):
        for f in range(FORMS):
            values = {f"f{f}_v{i}": int(record[f"f{f}_v{i}"]) for i in range(FIELDS)}
            rows.append(
                (record["record_id"], record["redcap_event_name"], f"form_{f}", json.dumps(values))
            )
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE record (subject TEXT, event TEXT, form TEXT, values_json TEXT)"
        )
        connection.executemany("INSERT INTO record VALUES (?, ?, ?, ?)", rows)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--gate", action="store_true", help=f"exit 1 above {LIMIT}x")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-interop-"))
    dictionary, records = generate(folder, args.subjects, args.events)
    start = time.perf_counter()
    plan = import_redcap(f"sqlite:///{folder / 'clestudy.db'}", dictionary, records,
                         study="bench", actor="bench")  # fmt: skip
    clestudy_s = time.perf_counter() - start
    bulk_s = baseline(records, folder / "bulk.db")
    ratio = clestudy_s / bulk_s
    print(f"{len(plan.creates)} records: clestudy import {clestudy_s:.1f} s, "
          f"read_csv + bulk insert {bulk_s:.2f} s, ratio {ratio:.1f}x (target {LIMIT}x)")  # fmt: skip
    return 1 if args.gate and ratio > LIMIT else 0


if __name__ == "__main__":
    sys.exit(main())
