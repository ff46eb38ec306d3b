"""PostgreSQL least privilege: the ``clestudy_app`` role of migration 0004, on the real server.

The application connects (or ``SET ROLE``s) as ``clestudy_app``: a normal save and every account
operation work, while UPDATE, DELETE and TRUNCATE of the two event trails are refused by the
privilege system itself -- before any trigger -- and so is disabling their triggers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tests.store.conftest import _postgres_url

from clestudy.store import make_engine, open_accounts, open_store, verify_audit

STUDY = "pediatric-cle-chart-review"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Urls:
    owner: str  # the migrating owner (postgres)
    app: str  # the same schema as clestudy_app


@pytest.fixture
def urls() -> Iterator[Urls]:
    """A fresh schema (the store tests' fixture): as its owner, and as ``clestudy_app``."""
    for owner in _postgres_url():  # the options parameter comes last: extend it
        yield Urls(owner, owner + quote(" -crole=clestudy_app"))


def _migrate_and_enrol(urls: Urls) -> None:
    with open_store(urls.owner, STUDY) as store:  # the owner migrates and registers
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    with open_accounts(urls.owner) as accounts:
        accounts.add_user("alice", role="admin", sites=["site01"], password=PASSWORD, actor="op")


def test_the_migration_creates_a_nologin_role(urls: Urls) -> None:
    _migrate_and_enrol(urls)
    engine = make_engine(urls.owner)
    try:
        with engine.connect() as conn:
            login = conn.execute(
                text("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'clestudy_app'")
            ).scalar_one()
            assert login is False
            assert conn.execute(text("SELECT current_user")).scalar_one() != "clestudy_app"
    finally:
        engine.dispose()


def test_the_app_role_saves_records_and_manages_accounts(urls: Urls) -> None:
    _migrate_and_enrol(urls)
    with open_store(urls.app, STUDY) as store:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "clestudy_app"
        store.add_subject("P02", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("P02", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="c")
        edited = store.save_record(
            "P02", "initiation", "steroids", {"prednisone_mg_day": "15"}, actor="c",
            expected_version=1, reason="transcription error",
        )  # fmt: skip
        assert edited.version == 2
    with open_accounts(
        urls.app, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)
    ) as accounts:
        accounts.add_user("bob", role="monitor", sites=["site01"], password=PASSWORD, actor="a")
        accounts.set_sites("bob", ["site02"], actor="alice")  # deletes a user_sites row
        assert accounts.authenticate("bob", PASSWORD).sites == ("site02",)
        session = accounts.create_session("bob")
        token = accounts.create_api_token("bob", actor="alice", label="job")
        accounts.suspend("bob", actor="alice", reason="left")
        for check in (accounts.session_user, accounts.token_user):
            with pytest.raises(Exception, match="invalid username or password"):
                check(session if check == accounts.session_user else token)
    assert verify_audit(urls.owner).ok


@pytest.mark.parametrize("table", ["audit_event", "account_event"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {t} SET actor = 'mallory'",
        "DELETE FROM {t}",
        "TRUNCATE {t}",
        "ALTER TABLE {t} DISABLE TRIGGER USER",
    ],
)
def test_the_app_role_cannot_rewrite_either_trail(urls: Urls, table: str, statement: str) -> None:
    _migrate_and_enrol(urls)
    engine = make_engine(urls.app)
    try:
        with (
            pytest.raises(DBAPIError, match=f"(permission denied|must be owner).*{table}"),
            engine.begin() as conn,
        ):
            conn.execute(text(statement.format(t=table)))
    finally:
        engine.dispose()
    assert verify_audit(urls.owner).ok


def test_set_role_in_a_session_is_refused_the_same_way(urls: Urls) -> None:
    """The brief's check by hand: connect as the owner, ``SET ROLE clestudy_app``, try."""
    _migrate_and_enrol(urls)
    engine = make_engine(urls.owner)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET ROLE clestudy_app"))
            for statement in ("UPDATE audit_event SET reason = 'x'", "DELETE FROM audit_event"):
                with pytest.raises(DBAPIError, match="permission denied for table audit_event"):
                    conn.execute(text(statement))
                conn.rollback()
                conn.execute(text("SET ROLE clestudy_app"))
            count = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
            assert count >= 2
    finally:
        engine.dispose()
