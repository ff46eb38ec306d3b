"""Benchmark: form saves through the clestudy API against a bare FastAPI + SQLAlchemy insert.

Run with ``python benchmarks/bench_web.py [--saves 400] [--clients 8] [--pg URL]`` (not part of
pytest).

Both servers run as their own uvicorn process (one worker) on loopback over a fresh SQLite file
(WAL, ``synchronous=NORMAL``, as the store sets it), and the same client drives both: ``--clients``
threads, each with a keep-alive ``httpx2.Client``, PUT ``--saves`` complete CLASI forms in all, each
a new record (a subject × visit of its own), after a warm-up of ``--warmup`` saves per client.
With ``--pg URL`` (default ``$CLESTUDY_TEST_DATABASE_URL``) the same run is repeated on PostgreSQL,
each contender in a new schema of its own (dropped after), with ``--workers`` uvicorn workers for
both servers (default 1).

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
from pathlib import Path
from typing import Any

import httpx2
from pydantic import BaseModel

STUDY = "lenalidomide-cle-open-label"
VISITS = ("week_0", "week_6", "week_12", "week_24", "week_52")


def clasi_values() -> dict[str, Any]:
    """A complete CLASI form: every item answered (a few areas active), dated today."""
    from clestudy.protocol import load_protocol

    form = load_protocol(STUDY).form("clasi")
    assert form is not None
    values: dict[str, Any] = {}
    for field in form.fields:
        if field.type == "date":
            values[field.id] = dt.date.today().isoformat()
        elif field.type == "boolean":
            values[field.id] = False
        else:
            values[field.id] = 0
    values |= {"scalp_erythema": 2, "nose_erythema": 3, "nose_scale": 1, "arms_erythema": 1}
    return values


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


def drive(
    url_of: Callable[[int], str], headers: dict[str, str], body: dict[str, Any],
    jobs: list[int], clients: int,
) -> tuple[float, list[float]]:  # fmt: skip
    """PUT ``body`` to ``url_of(job)`` for every job, ``clients`` threads sharing the jobs;
    returns the wall seconds and each request's latency."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(reversed(jobs))
    errors: list[str] = []
    start_line = threading.Barrier(clients + 1)

    def client() -> None:
        with httpx2.Client(headers=headers, timeout=120) as http:
            start_line.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                began = time.perf_counter()
                response = http.put(url_of(job), json=body)
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} failed saves, first: {errors[0]}")
    return wall, latencies


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


def run(
    saves: int, clients: int, warmup: int, backend: str = "sqlite", pg: str | None = None,
    workers: int = 1,
) -> dict[str, tuple[float, float, float]]:  # fmt: skip
    """Saves per second, p50 and p95 seconds of each contender."""
    body = {"values": clasi_values()}
    total = saves + warmup * clients
    subjects = -(-total // len(VISITS))
    jobs = list(range(total))

    def where(job: int) -> tuple[str, str]:
        return f"W{job // len(VISITS):04d}", VISITS[job % len(VISITS)]

    folder = Path(tempfile.mkdtemp(prefix="bench_web_"))
    results: dict[str, tuple[float, float, float]] = {}
    try:
        with _database(backend, folder, "clestudy", pg) as db:
            token = _seed_clestudy(db, subjects)
            port = _free_port()
            cli = [sys.executable, "-c",
                   "import sys; from clestudy.cli import main; sys.exit(main())"]  # fmt: skip
            command = [*cli, "serve", "--db", db, "--port", str(port)]
            if workers > 1:
                command += ["--workers", str(workers)]
            with Server(command, port, folder / "clestudy.log") as server:

                def clestudy_url(job: int) -> str:
                    subject, visit = where(job)
                    return (f"{server.url}/api/v1/studies/{STUDY}/subjects/{subject}/records/"
                            f"{visit}/clasi/1")  # fmt: skip

                auth = {"Authorization": f"Bearer {token}"}
                drive(clestudy_url, auth, body, jobs[: warmup * clients], clients)
                wall, lat = drive(clestudy_url, auth, body, jobs[warmup * clients :], clients)
                results["clestudy"] = (saves / wall, _percentile(lat, 0.5), _percentile(lat, 0.95))

        with _database(backend, folder, "bare", pg) as bare_db:
            port = _free_port()
            command = [sys.executable, __file__, "--bare-server", bare_db, str(port), str(workers)]
            with Server(command, port, folder / "bare.log") as server:

                def bare_url(job: int) -> str:
                    subject, visit = where(job)
                    return f"{server.url}/records/{subject}/{visit}/clasi"

                drive(bare_url, {}, body, jobs[: warmup * clients], clients)
                wall, lat = drive(bare_url, {}, body, jobs[warmup * clients :], clients)
                results["bare"] = (saves / wall, _percentile(lat, 0.5), _percentile(lat, 0.95))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=400, help="timed saves per contender")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--warmup", type=int, default=5, help="untimed saves per client first")
    parser.add_argument("--pg", default=os.environ.get("CLESTUDY_TEST_DATABASE_URL"),
                        help="a PostgreSQL URL: also run the PostgreSQL lane")  # fmt: skip
    parser.add_argument("--pg-only", action="store_true", help="run only the PostgreSQL lane")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (PostgreSQL)")
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
              f"concurrent clients, {workers} uvicorn worker(s) each; load average "
              f"{os.getloadavg()[0]:.2f}")  # fmt: skip
        results = run(args.saves, args.clients, args.warmup, backend, args.pg, workers)
        for name, (rate, p50, p95) in results.items():
            print(f"[{backend}] {name:9s} {rate:7.1f} saves/s   p50 {p50 * 1000:7.1f} ms   "
                  f"p95 {p95 * 1000:7.1f} ms")  # fmt: skip
        ratio = results["clestudy"][0] / results["bare"][0]
        print(f"[{backend}] clestudy / bare throughput: {ratio:.2f}x (target >= 0.5x)")
    if not args.pg:
        print("[postgres] skipped: no --pg URL and CLESTUDY_TEST_DATABASE_URL unset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
