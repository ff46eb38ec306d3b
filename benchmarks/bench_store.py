"""Benchmark: the audited store against bare SQLAlchemy Core inserts of the same rows.

Run with ``python benchmarks/bench_store.py [--pg URL]`` (not part of pytest; ``--pg`` defaults to
``$CLESTUDY_TEST_DATABASE_URL``, and each PostgreSQL run uses a schema of its own, dropped after).
It prints, as store time / bare time in the same run (issue 10):

* **batch**: ``save_records`` of ``--records`` (5,000) adverse-event records across 50 subjects
  vs one Core ``executemany`` of the same ``form_record`` rows plus the same ``audit_event`` rows
  with their SHA-256 chain computed;
* **single**: ``--single`` (200) interactive saves, one transaction each, vs one bare transaction
  per record inserting its row and its hashed audit row;
* **audit share**: the time of the audit path alone (``flush_events``) in the batch;
* **parallel** (PostgreSQL only): records/s of 8 writer processes saving one record at a time to
  8 different subjects vs 1 writer, ``--per-writer`` (100) records each, with what the writers'
  busy database sessions waited on (``Lock`` would mean a serialised write path; ``Client`` is
  the writers' own Python, ``IO`` the WAL);
* **start-up**: wall time of ``clestudy --help``, of ``clestudy score clasi`` and of
  ``python -c 'import typer'`` in the same run (best of 5); ``--startup-only`` times just these.

The limits of the issue are printed next to each ratio; the exit code is always 0 (a report).
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event, insert, text

from clestudy.store import RecordInput, make_engine, open_store
from clestudy.store import _chain as chain_module
from clestudy.store._audit import AuditEntry, canonical_json, chain_genesis, chain_hash
from clestudy.store._migrate import upgrade_to_head
from clestudy.store._schema import Base

STUDY = "lenalidomide-cle-open-label"
AE = {"aeterm": "rash", "aestdat": "2026-01-05", "aetoxgr": 1, "aeser": False}
SUBJECTS = 50
NOW = "2026-12-03T10:00:00.000000Z"
TABLES = Base.metadata.tables


@contextmanager
def fresh_url(backend: str, pg: str | None) -> Iterator[str]:
    """A new empty database: a temporary SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench_store_")
        try:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    assert pg is not None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg else "?"
    try:
        yield f"{pg}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _items(count: int, subjects: int = SUBJECTS) -> list[RecordInput]:
    return [
        RecordInput(f"S{n % subjects:03d}", "week_6", "ae", AE, instance=1 + n // subjects)
        for n in range(count)
    ]


def _store_with_subjects(url: str, subjects: int = SUBJECTS) -> Any:
    store = open_store(url, STUDY)
    for n in range(subjects):
        store.add_subject(f"S{n:03d}", arm="lenalidomide", site="site01", actor="bench")
    return store


def _bare_setup(url: str, subjects: int = SUBJECTS) -> tuple[Any, int, dict[str, int]]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        study = conn.execute(
            insert(TABLES["study"]).returning(TABLES["study"].c.id),
            {"study_key": STUDY, "protocol_version": "1", "protocol_json": "{}", "created_at": NOW},
        ).scalar_one()
        conn.execute(
            insert(TABLES["subject"]),
            [
                {"study_id": study, "subject_key": f"S{n:03d}", "arm": "lenalidomide",
                 "site": "site01", "status": "enrolled", "created_at": NOW, "deleted": False}
                for n in range(subjects)
            ],
        )  # fmt: skip
        ids: dict[str, int] = {
            str(key): int(pk)
            for key, pk in conn.execute(text("SELECT subject_key, id FROM subject"))
        }
    return engine, study, ids


def _bare_rows(
    items: list[RecordInput], study: int, ids: dict[str, int], heads: dict[str, tuple[int, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, tuple[int, str]]]:
    """The same record rows and audit rows the store writes, with the SHA-256 chain computed."""
    records, events, seq = [], [], 1 + sum(n for n, _ in heads.values())
    for item in items:
        values = canonical_json(AE)
        records.append(
            {"study_id": study, "subject_id": ids[item.subject_id], "visit_key": item.visit_id,
             "form_key": item.form_id, "instance": item.instance, "values_json": values,
             "status": "complete", "version": 1, "created_at": NOW, "updated_at": NOW,
             "updated_by": "bench", "deleted": False}
        )  # fmt: skip
        chain = f"{STUDY}/{item.subject_id}"
        position, prev = heads.get(chain, (0, chain_genesis(chain)))
        key = f"{chain}/week_6/ae#{item.instance}"
        after = {"version": 1, "values": AE, "derived": {}}
        entry = AuditEntry(seq, NOW, "bench", "create", "form_record", key, None, after, None,
                           2, chain, position + 1)  # fmt: skip
        digest = chain_hash(prev, entry)
        events.append(
            {"seq": seq, "format_version": 2, "occurred_at": NOW, "actor": "bench",
             "action": "create", "entity_type": "form_record", "entity_key": key,
             "before_json": None, "after_json": canonical_json(after), "reason": None,
             "prev_hash": prev, "hash": digest, "chain": chain, "chain_seq": position + 1,
             "key_id": None}
        )  # fmt: skip
        heads[chain] = (position + 1, digest)
        seq += 1
    return records, events, heads


def bench_batch(url_of: Callable[[], Any], count: int) -> tuple[float, float, float]:
    """(store seconds, bare seconds, audit-path seconds) for one batch of ``count`` records."""
    items = _items(count)
    audit = [0.0]
    real_flush = chain_module.flush_events

    def timed_flush(*args: Any) -> None:
        start = time.perf_counter()
        real_flush(*args)
        audit[0] += time.perf_counter() - start

    with url_of() as url:
        store = _store_with_subjects(url)
        chain_module.flush_events = timed_flush  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            store.save_records(items, actor="bench")
            stored = time.perf_counter() - start
        finally:
            chain_module.flush_events = real_flush
            store.close()
    with url_of() as url:
        engine, study, ids = _bare_setup(url)
        start = time.perf_counter()
        records, events, _ = _bare_rows(items, study, ids, {})
        with engine.begin() as conn:
            conn.execute(insert(TABLES["form_record"]), records)
            conn.execute(insert(TABLES["audit_event"]), events)
        bare = time.perf_counter() - start
        engine.dispose()
    return stored, bare, audit[0]


def bench_single(url_of: Callable[[], Any], count: int) -> tuple[float, float]:
    """(store seconds, bare seconds) for ``count`` saves of one record each."""
    items = _items(count)
    with url_of() as url:
        store = _store_with_subjects(url)
        start = time.perf_counter()
        for item in items:
            store.save_records([item], actor="bench")
        stored = time.perf_counter() - start
        store.close()
    with url_of() as url:
        engine, study, ids = _bare_setup(url)
        heads: dict[str, tuple[int, str]] = {}
        start = time.perf_counter()
        for item in items:
            records, events, heads = _bare_rows([item], study, ids, heads)
            with engine.begin() as conn:
                conn.execute(insert(TABLES["form_record"]), records)
                conn.execute(insert(TABLES["audit_event"]), events)
        bare = time.perf_counter() - start
        engine.dispose()
    return stored, bare


def _writer(url: str, subject: str, count: int, ready: Any, go: Any, done: Any) -> None:
    store = open_store(url, STUDY)
    statements = [0]

    def _count(*_: Any) -> None:
        statements[0] += 1

    event.listen(store.engine, "before_cursor_execute", _count)
    ready.put(subject)
    go.wait()
    cpu = time.process_time()
    for instance in range(1, count + 1):
        store.save_records(
            [RecordInput(subject, "week_6", "ae", AE, instance=instance)], actor=subject
        )
    cpu = time.process_time() - cpu
    store.close()
    done.put((time.perf_counter(), cpu, statements[0]))


class LockSampler:
    """Samples ``pg_stat_activity`` every 20 ms: how often a client backend waits on a lock
    (a serialised write path) rather than on its client (Python) or on I/O."""

    def __init__(self, pg: str) -> None:
        self.engine = create_engine(pg)
        self.stop = threading.Event()
        self.states: Counter[str] = Counter()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = text(
            "SELECT coalesce(wait_event_type, 'CPU') FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND state <> 'idle'"
        )
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                self.states.update(str(w) for (w,) in conn.execute(query))
                conn.commit()
                time.sleep(0.02)

    def __enter__(self) -> LockSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.engine.dispose()

    def describe(self) -> str:
        total = sum(self.states.values()) or 1
        return ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in self.states.most_common())


@dataclass(frozen=True)
class Parallel:
    """One parallel run: throughput, what the sessions waited on, and the writers' own cost."""

    records_per_s: float
    waits: str
    cpu_ms_per_record: float
    statements_per_record: float


def bench_parallel(pg: str, writers: int, per_writer: int) -> Parallel:
    """Records per second of ``writers`` processes, each saving to its own subject, what their
    database sessions waited on while in a transaction, and each writer's CPU time and SQL
    statements per record (the client cost that bounds the throughput on few cores)."""
    with fresh_url("postgres", pg) as url:
        _store_with_subjects(url, writers).close()
        ctx = mp.get_context("spawn")
        ready, go, done = ctx.Queue(), ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=_writer, args=(url, f"S{n:03d}", per_writer, ready, go, done))
            for n in range(writers)
        ]
        for p in procs:
            p.start()
        for _ in procs:  # every writer has imported clestudy and opened the store
            ready.get(timeout=600)
        with LockSampler(pg) as sampler:
            start = time.perf_counter()
            go.set()
            ends = [done.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        total = writers * per_writer
        return Parallel(
            total / (max(end for end, _, _ in ends) - start),
            sampler.describe(),
            1000 * sum(cpu for _, cpu, _ in ends) / total,
            sum(n for _, _, n in ends) / total,
        )


#: A CLASI form for the ``clestudy score`` start-up run (any valid input does).
SCORE_INPUT = b'{"areas": {"scalp": {"erythema": 2, "scale": 1}}, "mucous_membrane": 1}'


def bench_startup() -> dict[str, float]:
    """Best of 5 wall seconds: ``clestudy --help``, ``clestudy score``, ``import typer``."""
    cli = str(Path(sys.executable).with_name("clestudy"))

    def best(argv: list[str], stdin: bytes = b"") -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, input=stdin)
            times.append(time.perf_counter() - start)
        return min(times)

    return {
        "clestudy --help": best([cli, "--help"]),
        "clestudy score clasi": best([cli, "score", "clasi", "-", "--json"], SCORE_INPUT),
        "import typer": best([sys.executable, "-c", "import typer"]),
    }


def print_startup() -> None:
    """Print the start-up times; the target is <= 0.3 s for help and score (issue 10)."""
    times = bench_startup()
    typer = times["import typer"]
    for name in ("clestudy --help", "clestudy score clasi"):
        print(f"start-up: {name} {times[name]:.2f} s = {times[name] / typer:.1f}x import typer "
              f"({typer:.2f} s); target <= 0.3 s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--per-writer", type=int, default=100)
    parser.add_argument("--pg", default=os.environ.get("CLESTUDY_TEST_DATABASE_URL"))
    parser.add_argument("--startup-only", action="store_true", help="Time only the start-up.")
    args = parser.parse_args(argv)
    if args.startup_only:
        print_startup()
        return 0
    backends = ["sqlite"] + (["postgres"] if args.pg else [])
    for backend in backends:
        url_of = functools.partial(fresh_url, backend, args.pg)
        stored, bare, audit = bench_batch(url_of, args.records)
        print(f"[{backend}] batch of {args.records}: store {stored:.2f} s, bare {bare:.2f} s, "
              f"ratio {stored / bare:.1f}x (target <= 3x); audit path {audit:.3f} s "
              f"({100 * audit / stored:.1f} % of the store time)")  # fmt: skip
        stored, bare = bench_single(url_of, args.single)
        print(f"[{backend}] {args.single} single saves: store {args.single / stored:.0f} "
              f"records/s, bare {args.single / bare:.0f} records/s, ratio {stored / bare:.1f}x "
              "(target <= 5x)")  # fmt: skip
    if args.pg:
        one = bench_parallel(args.pg, 1, args.per_writer)
        eight = bench_parallel(args.pg, 8, args.per_writer)
        print(f"[postgres] parallel: 1 writer {one.records_per_s:.0f} records/s, 8 writers "
              f"{eight.records_per_s:.0f} records/s, ratio "
              f"{eight.records_per_s / one.records_per_s:.2f}x (target >= 3x); busy sessions of "
              f"the 8 writers waited on: {eight.waits}; per record, each writer spent "
              f"{one.cpu_ms_per_record:.1f} ms CPU alone and {eight.cpu_ms_per_record:.1f} ms "
              f"among 8, and ran {eight.statements_per_record:.1f} SQL statements; machine: "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    else:
        print("[postgres] parallel: skipped, no --pg URL and CLESTUDY_TEST_DATABASE_URL unset")
    print_startup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
