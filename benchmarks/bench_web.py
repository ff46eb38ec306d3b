"""Benchmark: form saves through the clestudy API against a bare FastAPI + SQLAlchemy insert.

Run with ``python benchmarks/bench_web.py [--saves 400] [--clients 8] [--chunk 50] [--pg URL]``
(not part of pytest).

Both servers run as their own uvicorn process (one worker, log level ``warning``: no access-log
line per request) on loopback over a fresh SQLite file
(WAL, ``synchronous=NORMAL``, as the store sets it), and the same client drives both: ``--clients``
threads, each with a keep-alive ``httpx2.Client``, PUT ``--saves`` complete CLASI forms in all, each
a new record (a subject × visit of its own), after a warm-up of ``--warmup`` saves per client.
With ``--dates schedule`` (the default) each visit is dated on its scheduled day, as a study's
data entry mostly is; with ``--dates today`` every visit is dated today, so four saves in five
are out of their visit window and each also opens a visit-window discrepancy (one more row and
audit event): the runs before 2026-12-04 used that dating.
With ``--pg URL`` (default ``$CLESTUDY_TEST_DATABASE_URL``) the same run is repeated on PostgreSQL,
each contender in a new schema of its own (dropped after), with ``--workers`` uvicorn workers for
both servers (default 1). Both servers run at once and take turns of ``--chunk`` saves (the
order alternating): on a shared machine the load moves within a minute, and a contender timed
alone in a quiet or a busy minute would be favoured or penalised.

* **clestudy**: ``clestudy serve``; ``PUT /api/v1/studies/{study}/subjects/{subject}/records/
  {visit}/clasi/1`` with a Bearer token: token check, site scoping, validation of the 55 CLASI
  items, the edit checks, the CLASI scores derived by the instrument, the record and its hashed
  audit event in one transaction.
* **bare**: a FastAPI app defined here, ``PUT /records/{subject}/{visit}/{form}``: the same JSON
  body through a pydantic model, one SQLAlchemy Core insert of the values as JSON, no
  authentication, validation, derivation or audit.

It prints saves per second, p50 and p95 latency (ms) of each, and clestudy's throughput as a
fraction of the bare one (target: at least 0.5). The exit code is always 0 (a report).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from pydantic import BaseModel

STUDY = "lenalidomide-cle-open-label"
VISITS = ("week_0", "week_6", "week_12", "week_24", "week_52")


def clasi_values(date: dt.date | None = None) -> dict[str, Any]:
    """A complete CLASI form: every item answered (a few areas active), dated ``date`` (default
    today)."""
    from clestudy.protocol import load_protocol

    form = load_protocol(STUDY).form("clasi")
    assert form is not None
    values: dict[str, Any] = {}
    for spec in form.fields:
        if spec.type == "date":
            values[spec.id] = (date or dt.date.today()).isoformat()
        elif spec.type == "boolean":
            values[spec.id] = False
        else:
            values[spec.id] = 0
    values |= {"scalp_erythema": 2, "nose_erythema": 3, "nose_scale": 1, "arms_erythema": 1}
    return values


#: ``--dates``: how the saves' visits are dated (see the module docstring).
DATINGS = ("schedule", "today")


def visit_bodies(dates: str) -> dict[str, dict[str, Any]]:
    """The PUT body of each visit's CLASI form.

    ``schedule``: each visit dated on its scheduled day (the protocol's ``day``) after a
    baseline 400 days ago, as a study's data entry mostly is: no save opens a discrepancy.
    ``today``: every visit dated today, so each week 6 to 52 save is out of its visit window
    and also opens a visit-window discrepancy (its row and audit event).
    """
    from clestudy.protocol import load_protocol

    days = {v.id: v.day for v in load_protocol(STUDY).visits}
    baseline = dt.date.today() - dt.timedelta(days=400)
    return {
        visit: {"values": clasi_values(
            baseline + dt.timedelta(days=days[visit]) if dates == "schedule" else None
        )}
        for visit in VISITS
    }  # fmt: skip


# -- the bare endpoint --------------------------------------------------------------------------


class Save(BaseModel):
    """The body of a save, as the clestudy API takes it."""

    values: dict[str, Any]
    expected_version: int | None = None
    reason: str | None = None


def bare_app(db_url: str) -> Any:
    """FastAPI + SQLAlchemy: one insert per PUT, nothing else."""
    from fastapi import FastAPI
    from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, event

    engine = create_engine(db_url)
    if db_url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL"):
                dbapi_conn.execute(f"PRAGMA {pragma}")

    meta = MetaData()
    records = Table(
        "record", meta,
        Column("id", Integer, primary_key=True),
        Column("subject", String, nullable=False),
        Column("visit", String, nullable=False),
        Column("form", String, nullable=False),
        Column("values_json", Text, nullable=False),
    )  # fmt: skip
    meta.create_all(engine, checkfirst=True)

    app = FastAPI()

    @app.get("/")
    def root() -> dict[str, str]:
        return {"ok": "bare"}

    @app.put("/records/{subject}/{visit}/{form}")
    def save(subject: str, visit: str, form: str, body: Save) -> dict[str, Any]:
        row = {"subject": subject, "visit": visit, "form": form,
               "values_json": json.dumps(body.values, sort_keys=True)}  # fmt: skip
        with engine.begin() as conn:
            new_id = conn.execute(records.insert().values(**row)).inserted_primary_key
        return {"id": new_id[0] if new_id else None, "values": body.values, "version": 1}

    return app


def _serve_bare(db_url: str, port: int, workers: int = 1) -> None:
    import uvicorn

    if workers == 1:
        uvicorn.run(bare_app(db_url), host="127.0.0.1", port=port, log_level="warning")
        return
    bare_app(db_url)  # the table, created once before the workers start
    os.environ["BENCH_WEB_BARE_DB"] = db_url
    uvicorn.run("bench_web:bare_factory", factory=True, host="127.0.0.1", port=port,
                log_level="warning", workers=workers, app_dir=str(Path(__file__).parent))  # fmt: skip


def bare_factory() -> Any:
    """The bare app of a multi-worker run (each uvicorn worker builds its own)."""
    return bare_app(os.environ["BENCH_WEB_BARE_DB"])


# -- servers and the load driver ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Server:
    """A server subprocess, stopped when the block ends."""

    def __init__(self, command: list[str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return self
            except urllib.error.HTTPError:
                return self  # it answers (clestudy: a redirect to the login page)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


class Clients:
    """``clients`` threads, each with its own keep-alive ``httpx2.Client``, that PUT
    ``body_of(job)`` to ``url_of(job)`` for the jobs they are given; they live as long as the
    block."""

    def __init__(
        self, url_of: Callable[[int], str], headers: dict[str, str],
        body_of: Callable[[int], dict[str, Any]], clients: int,
    ) -> None:  # fmt: skip
        self.url_of, self.headers, self.body_of = url_of, headers, body_of
        self.jobs: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def _client(self) -> None:
        with httpx2.Client(headers=self.headers, timeout=120) as http:
            while (job := self.jobs.get()) is not None:
                began = time.perf_counter()
                response = http.put(self.url_of(job), json=self.body_of(job))
                took = time.perf_counter() - began
                failed = "" if response.status_code == 200 else response.text[:300]
                self.done.put((took, failed and f"{response.status_code} {failed}"))

    def run(self, jobs: list[int]) -> tuple[float, list[float]]:
        """Do every job (the threads share them); the wall seconds and each save's latency."""
        began = time.perf_counter()
        for job in jobs:
            self.jobs.put(job)
        results = [self.done.get() for _ in jobs]
        wall = time.perf_counter() - began
        errors = [error for _, error in results if error]
        if errors:
            raise RuntimeError(f"{len(errors)} failed saves, first: {errors[0]}")
        return wall, [took for took, _ in results]

    def close(self) -> None:
        """Stop the threads."""
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _seed_clestudy(db_url: str, subjects: int) -> str:
    """The study with ``subjects`` subjects and a coordinator's API token."""
    from argon2 import PasswordHasher, profiles

    from clestudy.store import open_accounts, open_store

    with open_store(db_url, STUDY, actor="bench") as store:
        for n in range(subjects):
            store.add_subject(f"W{n:04d}", arm="lenalidomide", site="site01", actor="bench")
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with open_accounts(db_url, hasher=hasher) as accounts:
        accounts.add_user("bench", role="coordinator", sites=("site01",), password="x" * 16,
                          actor="bench")  # fmt: skip
        return accounts.create_api_token("bench", actor="bench", label="bench")


@contextmanager
def _database(backend: str, folder: Path, name: str, pg: str | None) -> Iterator[str]:
    """A fresh database URL: a SQLite file in ``folder``, or a new PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    from bench_store import fresh_url  # a new schema, dropped after (run as a script)

    with fresh_url("postgres", pg) as url:
        yield url


Timing = tuple[float, float, float]


def _where(job: int) -> tuple[str, str]:
    return f"W{job // len(VISITS):04d}", VISITS[job % len(VISITS)]


@dataclass
class Contender:
    """A running server: its save URL per job, request headers, and what its turns took."""

    url_of: Callable[[int], str]
    headers: dict[str, str]
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def timing(self, saves: int) -> Timing:
        """Saves per second over its chunks, p50 and p95 seconds."""
        rate = saves / self.wall
        return rate, _percentile(self.latencies, 0.5), _percentile(self.latencies, 0.95)


@contextmanager
def _clestudy(
    db: str, subjects: int, workers: int, folder: Path
) -> Iterator[Contender]:  # fmt: skip
    token = _seed_clestudy(db, subjects)
    port = _free_port()
    cli = [sys.executable, "-c", "import sys; from clestudy.cli import main; sys.exit(main())"]
    command = [*cli, "serve", "--db", db, "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    with Server(command, port, folder / "clestudy.log") as server:

        def url(job: int) -> str:
            subject, visit = _where(job)
            return (f"{server.url}/api/v1/studies/{STUDY}/subjects/{subject}/records/"
                    f"{visit}/clasi/1")  # fmt: skip

        yield Contender(url, {"Authorization": f"Bearer {token}"})


@contextmanager
def _bare(db: str, workers: int, folder: Path) -> Iterator[Contender]:
    port = _free_port()
    command = [sys.executable, __file__, "--bare-server", db, str(port), str(workers)]
    with Server(command, port, folder / "bare.log") as server:

        def url(job: int) -> str:
            subject, visit = _where(job)
            return f"{server.url}/records/{subject}/{visit}/clasi"

        yield Contender(url, {})


def run(
    saves: int, clients: int, warmup: int, backend: str = "sqlite", pg: str | None = None,
    workers: int = 1, chunk: int = 50, dates: str = "schedule",
) -> dict[str, Timing]:  # fmt: skip
    """Saves per second, p50 and p95 seconds of each contender.

    Both servers run at once; after a warm-up each, they take turns at ``chunk`` saves (the
    order alternating), so both meet the same load over the same minutes.
    """
    bodies = visit_bodies(dates)

    def body_of(job: int) -> dict[str, Any]:
        return bodies[_where(job)[1]]

    total = saves + warmup * clients
    jobs = list(range(total))
    folder = Path(tempfile.mkdtemp(prefix="bench_web_"))
    try:
        with (
            _database(backend, folder, "clestudy", pg) as clestudy_db,
            _database(backend, folder, "bare", pg) as bare_db,
            _clestudy(clestudy_db, -(-total // len(VISITS)), workers, folder) as clestudy,
            _bare(bare_db, workers, folder) as bare,
        ):
            contenders = {"clestudy": clestudy, "bare": bare}
            drivers = {
                n: Clients(c.url_of, c.headers, body_of, clients) for n, c in contenders.items()
            }
            try:
                for driver in drivers.values():
                    driver.run(jobs[: warmup * clients])
                timed = jobs[warmup * clients :]
                names = list(contenders)
                for turn, first in enumerate(range(0, len(timed), chunk)):
                    for name in names if turn % 2 == 0 else names[::-1]:
                        wall, latencies = drivers[name].run(timed[first : first + chunk])
                        contenders[name].wall += wall
                        contenders[name].latencies += latencies
            finally:
                for driver in drivers.values():
                    driver.close()
            return {name: c.timing(saves) for name, c in contenders.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=400, help="timed saves per contender")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--warmup", type=int, default=5, help="untimed saves per client first")
    parser.add_argument("--pg", default=os.environ.get("CLESTUDY_TEST_DATABASE_URL"),
                        help="a PostgreSQL URL: also run the PostgreSQL lane")  # fmt: skip
    parser.add_argument("--pg-only", action="store_true", help="run only the PostgreSQL lane")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (PostgreSQL)")
    parser.add_argument("--chunk", type=int, default=50,
                        help="saves per turn (the contenders take turns)")  # fmt: skip
    parser.add_argument("--dates", choices=DATINGS, default="schedule",
                        help="visit dates: on schedule (default) or all today")  # fmt: skip
    parser.add_argument("--bare-server", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        _serve_bare(args.bare_server[0], int(args.bare_server[1]), int(args.bare_server[2]))
        return 0
    backends = [] if args.pg_only else ["sqlite"]
    backends += ["postgres"] if args.pg else []
    for backend in backends:
        workers = args.workers if backend == "postgres" else 1
        print(f"[{backend}] form saves: {args.saves} complete CLASI forms, {args.clients} "
              f"concurrent clients, {workers} uvicorn worker(s) each, turns of {args.chunk} "
              f"saves, visits dated {args.dates}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        results = run(args.saves, args.clients, args.warmup, backend, args.pg, workers,
                      args.chunk, args.dates)  # fmt: skip
        for name, (rate, p50, p95) in results.items():
            print(f"[{backend}] {name:9s} {rate:7.1f} saves/s   p50 {p50 * 1000:7.1f} ms   "
                  f"p95 {p95 * 1000:7.1f} ms")  # fmt: skip
        ratio = results["clestudy"][0] / results["bare"][0]
        print(f"[{backend}] clestudy / bare throughput: {ratio:.2f}x (target >= 0.5x); "
              f"load average {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    if not args.pg:
        print("[postgres] skipped: no --pg URL and CLESTUDY_TEST_DATABASE_URL unset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
