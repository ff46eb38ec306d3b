"""PostgreSQL least privilege for queries (migration 0005): the application role ``clestudy_app``
runs the whole query life cycle, but may not update, delete or truncate a thread message, nor
disable the table's triggers."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tests.store.conftest import _postgres_url
from tests.store.test_accounts_pg import Urls

from clestudy.store import make_engine, open_store, verify_audit

STUDY = "lenalidomide-cle-open-label"
pytestmark = pytest.mark.postgres


@pytest.fixture
def urls() -> Iterator[Urls]:
    """A fresh schema, as its owner and as ``clestudy_app`` (as ``test_accounts_pg.py``)."""
    for owner in _postgres_url():
        yield Urls(owner, owner + quote(" -crole=clestudy_app"))


def _as_app(urls: Urls) -> None:
    with open_store(urls.owner, STUDY) as store:  # the owner migrates and registers
        store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    with open_store(urls.app, STUDY) as store:
        store.save_record("L01", "week_0", "vs", {"vsdat": "2025-01-06", "weight": "70"},
                          actor="coordinator")  # fmt: skip
        for action, actor in (("raise", "monitor"), ("answer", "coordinator"),
                              ("close", "monitor"), ("reopen", "monitor")):  # fmt: skip
            store.query_action(action, "L01", "week_0", "vs", "weight", text="because",
                               actor=actor)  # fmt: skip
        assert store.query("L01", "week_0", "vs", "weight").status == "open"


def test_the_app_role_runs_the_life_cycle(urls: Urls) -> None:
    _as_app(urls)
    assert verify_audit(urls.owner).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE data_query_message SET text = 'nothing to see'",
        "DELETE FROM data_query_message",
        "TRUNCATE data_query_message",
        "ALTER TABLE data_query_message DISABLE TRIGGER USER",
    ],
)
def test_the_app_role_cannot_rewrite_a_thread(urls: Urls, statement: str) -> None:
    _as_app(urls)
    engine = make_engine(urls.app)
    try:
        with (
            pytest.raises(
                DBAPIError, match=r"(permission denied|must be owner).*data_query_message"
            ),
            engine.begin() as conn,
        ):
            conn.execute(text(statement))
    finally:
        engine.dispose()
    assert verify_audit(urls.owner).ok
