"""Database fixtures: every store test runs on SQLite, and on PostgreSQL when one is configured.

The PostgreSQL lane runs when ``CLESTUDY_TEST_DATABASE_URL`` is set (CI sets it to the local
server, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets a schema of its
own, dropped afterwards. Without the variable the PostgreSQL tests skip, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from clestudy.protocol import Protocol
from clestudy.store import Store, open_store

PG_ENV = "CLESTUDY_TEST_DATABASE_URL"


def _postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL lane: {PG_ENV} is not set, so no server to test against")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the configured server is not reachable: fail loudly, never skip
        admin.dispose()
        raise RuntimeError(f"{PG_ENV}={base} is set but unusable: {exc}") from exc
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL (for tests that edit the file directly)."""
    return f"sqlite:///{tmp_path / 'study.db'}"


@pytest.fixture
def open_study() -> Iterator[Callable[..., Store]]:
    """``open_store`` that closes every store it opened when the test ends."""
    opened: list[Store] = []

    def _open(url: str, protocol: Protocol | str) -> Store:
        store = open_store(url, protocol)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()
