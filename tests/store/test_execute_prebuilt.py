"""``execute_prebuilt`` runs a prebuilt statement's SQL through the SQLite driver: the rows are the
rows SQLAlchemy returns (booleans as 0 or 1), and a call with other parameter names is refused;
the save's read and the API token lookup that use it answer as before, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, profiles

from clestudy.store import Store, User, open_accounts, open_store
from clestudy.store._engine import execute_prebuilt, is_postgres
from clestudy.store._save_read import _ONE, read_save_state

STUDY = "lenalidomide-cle-open-label"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url, STUDY, actor="setup") as opened:
        opened.add_subject("P-1", arm="lenalidomide", site="site01", actor="setup")
        opened.save_record("P-1", "week_0", "vs", {"vsdat": "2026-01-07"}, actor="setup")
        yield opened


def test_the_rows_are_sqlalchemys(store: Store) -> None:
    params = {"study": store.study_pk, "key": "P-1", "chain": f"{STUDY}/P-1"}
    with store.engine.connect() as conn:
        expected = [tuple(row) for row in conn.execute(_ONE, params)]
        got = [tuple(row) for row in execute_prebuilt(conn, _ONE, params)]
        again = [tuple(row) for row in execute_prebuilt(conn, _ONE, params)]  # compiled once
        labels = list(execute_prebuilt(conn, _ONE, params).keys())
    assert labels[:3] == ["kind", "i1", "i2"]
    normalised = [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in expected]
    assert got == again == (expected if is_postgres(store.engine) else normalised)
    assert {row[0] for row in got} == {"r", "h", "e"}  # record, chain head, enrolment


def test_other_parameter_names_are_refused_on_sqlite(store: Store) -> None:
    params = {"study": store.study_pk, "key": "P-1", "chain": f"{STUDY}/P-1"}
    with store.engine.connect() as conn:
        execute_prebuilt(conn, _ONE, params)
        if is_postgres(store.engine):
            return  # SQLAlchemy's own execute names a missing parameter there
        with pytest.raises(ValueError, match=r"parameters \['key', 'study'\]; the statement"):
            execute_prebuilt(conn, _ONE, {"study": 1, "key": "P-1"})


def test_the_save_read_and_the_token_lookup_answer_as_before(store: Store, db_url: str) -> None:
    with store.engine.connect() as conn:
        state = read_save_state(conn, store.study_pk, STUDY, ["P-1"])
    assert [(row.t1, row.t2, row.t3, bool(row.b1)) for row in state.records] == [
        ("P-1", "week_0", "vs", False)
    ]
    assert list(state.heads) == [f"{STUDY}/P-1"]
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with open_accounts(db_url, hasher=hasher) as accounts:
        accounts.add_user("ana", role="coordinator", sites=["site01"],
                          password="correct horse battery", actor="setup")  # fmt: skip
        token = accounts.create_api_token("ana", actor="setup", label="t")
        user = accounts.token_user(token)
    assert user == User("ana", "coordinator", ("site01",), False, "")
    assert user.suspended is False
