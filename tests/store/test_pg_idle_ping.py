"""PostgreSQL connections are pinged before use only after sitting idle
(``_engine._ping_idle_connections``): a connection in constant use costs no extra round trip, and
one whose server process ended while it sat in the pool is replaced without the caller noticing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

import clestudy.store._engine as engine_module
from clestudy.store import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    from tests.store.conftest import _postgres_url

    yield from _postgres_url()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    made = make_engine(pg_url)
    yield made
    made.dispose()


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    real = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_in_constant_use_is_not_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(engine, monkeypatch)
    pids = {_backend_pid(engine) for _ in range(20)}
    assert pings == []
    assert len(pids) == 1  # the same pooled connection each time


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(
    engine: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(engine, monkeypatch)
    first = _backend_pid(engine)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # every connection is "idle"
    assert _backend_pid(engine) == first  # alive: pinged, then used
    assert len(pings) == 1
    admin = make_engine(pg_url)
    try:
        with admin.connect() as conn:  # the server ends the pooled connection's process
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            conn.commit()
    finally:
        admin.dispose()
    replaced = _backend_pid(engine)  # the ping fails: a new connection, and no error
    assert replaced != first
    assert len(pings) >= 2
