"""The two reads every API request makes: the token's user (``Accounts.token_user``) and the
subject's site (``read_subject``), each one query, nothing cached, on SQLite and PostgreSQL.

Statements are counted with a cursor event on the engine; two ``Accounts`` over two engines of
the same database stand for two server workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine, event

from clestudy.store import Accounts, AuthenticationError, open_accounts, open_store
from clestudy.store._accounts import GENERIC_REFUSAL
from clestudy.store._subject_read import read_subject

PASSWORD = "correct horse battery"
STUDY = "lenalidomide-cle-open-label"


@contextmanager
def _selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements sent to ``engine`` while the block runs."""
    seen: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _count)


@pytest.fixture
def two_workers(db_url: str) -> Iterator[tuple[Accounts, Accounts]]:
    """Two accounts stores over the same database, each with its own engine (two workers)."""
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    first = open_accounts(db_url, hasher=hasher)
    second = open_accounts(db_url, hasher=hasher)
    yield first, second
    second.close()
    first.close()


def _add(accounts: Accounts, username: str, role: str, sites: list[str]) -> str:
    accounts.add_user(username, role=role, sites=sites, password=PASSWORD, actor="admin")
    return accounts.create_api_token(username, actor="admin", label="laptop")


def test_a_token_gives_its_user_and_sites_in_one_query(
    two_workers: tuple[Accounts, Accounts],
) -> None:
    accounts, _ = two_workers
    tokens = {
        "alice": _add(accounts, "alice", "coordinator", ["site02", "site01"]),
        "root": _add(accounts, "root", "admin", []),
        "bob": _add(accounts, "bob", "monitor", ["site01"]),
    }
    for username, token in tokens.items():
        with _selects(accounts.engine) as seen:
            user = accounts.token_user(token)
        assert len(seen) == 1, seen
        assert user == accounts.get_user(username)
    assert accounts.token_user(tokens["alice"]).sites == ("site01", "site02")
    assert accounts.token_user(tokens["root"]).sites == ()


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43])
def test_an_unknown_token_is_refused_with_the_one_message(
    two_workers: tuple[Accounts, Accounts], token: str
) -> None:
    accounts, _ = two_workers
    _add(accounts, "alice", "coordinator", ["site01"])
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL) as refused:
        accounts.token_user(token)
    assert refused.value.reason == "unknown_token"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda a: a.suspend("alice", actor="admin", reason="audit finding"), "suspended"),
        (lambda a: a.revoke_api_token("alice", "laptop", actor="admin"), "expired"),
    ],
)
def test_suspension_or_revocation_in_one_worker_ends_the_token_in_another_at_once(
    two_workers: tuple[Accounts, Accounts], change: Callable[[Accounts], Any], reason: str
) -> None:
    admin_worker, api_worker = two_workers
    token = _add(admin_worker, "alice", "coordinator", ["site01"])
    assert api_worker.token_user(token).username == "alice"
    change(admin_worker)
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL) as refused:
        api_worker.token_user(token)
    assert refused.value.reason == reason


def test_read_subject_answers_as_store_subject_in_one_query(db_url: str) -> None:
    with open_store(db_url, STUDY, actor="setup") as store:
        store.add_subject("S-01", arm="lenalidomide", site="site01", actor="setup")
        store.add_subject("S-02", arm="lenalidomide", site="site01", actor="setup")
        store.delete_subject("S-02", actor="setup", reason="enrolled by mistake")
        for subject_id in ("S-01", "S-02", "S-99"):
            with _selects(store.engine) as seen:
                found = read_subject(store.engine, store.study_pk, subject_id)
            assert len(seen) == 1, seen
            assert found == store.subject(subject_id)
        assert read_subject(store.engine, store.study_pk, "S-01") is not None
        assert read_subject(store.engine, store.study_pk + 1, "S-01") is None
