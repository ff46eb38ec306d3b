"""A sign-in naming no account never stores the name as typed (docs/security.md, "Accounts").

People type their password into the username box; the OWASP Logging Cheat Sheet says never to
log passwords, and an unknown username is itself sensitive. The account trail records such an
attempt as ``(unknown)`` with a salted argon2id tag of the typed text, so an admin can still see
that the same text was tried again, and the lockout of real accounts is unchanged. Runs on SQLite
and, marked ``postgres``, on the real server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine, inspect, select, text

from clestudy.store import Accounts, AuthenticationError, open_accounts, verify_audit
from clestudy.store._accounts import UNKNOWN_USER

PASSWORD = "correct horse battery"
TYPED = "Tr0ub4dor&3-in-the-wrong-box"  # a password typed into the username field
START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def accounts(db_url: str) -> Iterator[Accounts]:
    opened = open_accounts(
        db_url, clock=lambda: START, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)
    )
    opened.add_user("alice", role="coordinator", sites=["site01"], password=PASSWORD, actor="a")
    yield opened
    opened.close()


def _refused(accounts: Accounts, username: str, password: str, **kw: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        accounts.authenticate(username, password, **kw)
    return caught.value.reason


def _every_stored_text(engine: Engine) -> str:
    """Every value of every row of every table, as one text."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_the_typed_text_of_an_unknown_user_is_in_no_table(accounts: Accounts, db_url: str) -> None:
    assert _refused(accounts, TYPED, "whatever was typed as the password") == "unknown_user"
    with pytest.raises(AuthenticationError):
        accounts.check_password_for_signing(TYPED, PASSWORD)
    stored = _every_stored_text(accounts.engine)
    assert TYPED not in stored and TYPED.lower() not in stored
    failures = [e for e in accounts.account_events() if e.action.endswith("_failure")]
    assert [(e.actor, e.username, e.action) for e in failures] == [
        (UNKNOWN_USER, UNKNOWN_USER, "login_failure"),
        (UNKNOWN_USER, UNKNOWN_USER, "signing_failure"),
    ]
    assert failures[0].detail["reason"] == "unknown_user"
    assert failures[0].detail["typed"].startswith("argon2id:")
    assert verify_audit(db_url).ok


def test_the_same_typed_text_gets_the_same_tag_and_another_text_another(
    accounts: Accounts,
) -> None:
    for name in (TYPED, "bob", TYPED):
        _refused(accounts, name, PASSWORD)
    tags = [e.detail["typed"] for e in accounts.account_events(UNKNOWN_USER)]
    assert tags[0] == tags[2] != tags[1]


def test_the_tag_is_salted_per_database(accounts: Accounts, tmp_path: object) -> None:
    _refused(accounts, TYPED, PASSWORD)
    other = open_accounts(
        f"sqlite:///{tmp_path}/other.db",
        clock=lambda: START,
        hasher=PasswordHasher.from_parameters(profiles.CHEAPEST),
    )
    try:
        _refused(other, TYPED, PASSWORD)
        here = accounts.account_events(UNKNOWN_USER)[-1].detail["typed"]
        there = other.account_events(UNKNOWN_USER)[-1].detail["typed"]
    finally:
        other.close()
    assert here != there


def test_the_source_of_an_attempt_is_recorded(accounts: Accounts) -> None:
    _refused(accounts, TYPED, PASSWORD, source="203.0.113.7")
    _refused(accounts, "alice", "not the password", source="203.0.113.7")
    accounts.authenticate("alice", PASSWORD, source="198.51.100.2")
    events = [e for e in accounts.account_events() if e.action.startswith("login_")]
    assert [(e.username, e.detail.get("source")) for e in events] == [
        (UNKNOWN_USER, "203.0.113.7"),
        ("alice", "203.0.113.7"),
        ("alice", "198.51.100.2"),
    ]


def test_unknown_names_leave_the_lockout_of_a_real_account_working(accounts: Accounts) -> None:
    for attempt in range(accounts.max_failures - 1):
        _refused(accounts, "alice", f"wrong guess {attempt:04d}")
        _refused(accounts, f"{TYPED}{attempt}", PASSWORD)  # counts for no account
    assert [e.action for e in accounts.account_events("alice")][-1] == "login_failure"
    assert _refused(accounts, "alice", "wrong guess 9999") == "bad_password"
    assert [e.action for e in accounts.account_events("alice")][-1] == "lockout"
    assert _refused(accounts, "alice", PASSWORD) == "locked"
    with accounts.engine.connect() as conn:
        (users,) = conn.execute(select(text("count(*)")).select_from(text("users"))).one()
    assert users == 1  # no row was created for an unknown name
