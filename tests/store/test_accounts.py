"""Accounts: users, roles, sites, sign-in with lockout, sessions, API tokens and their audit.

Every test runs on SQLite and (marked ``postgres``) on the real PostgreSQL server. Time comes from
a fake clock the tests move, never from sleeping. Hashing uses argon2-cffi's cheapest argon2id
profile so the suite stays fast; :func:`test_the_default_hasher_is_argon2id_at_rfc_9106_low_memory`
checks what production uses.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterator

import pytest
from alembic import command
from argon2 import PasswordHasher, Type, extract_parameters, profiles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from clestudy.errors import ClestudyError, InputError, NotFoundError
from clestudy.store import (
    ROLES,
    Accounts,
    AuthenticationError,
    User,
    make_engine,
    open_accounts,
    open_store,
    verify_audit,
)
from clestudy.store._accounts import GENERIC_REFUSAL, hash_token
from clestudy.store._accounts_events import verify_account_events
from clestudy.store._migrate import _config, upgrade_to_head
from clestudy.store._schema import ApiTokenRow, SessionRow, UserRow

PASSWORD = "correct horse battery"
START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(db_url: str, clock: FakeClock) -> Iterator[Accounts]:
    opened = open_accounts(
        db_url, clock=clock, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)
    )
    yield opened
    opened.close()


def _alice(accounts: Accounts, **extra: object) -> User:
    return accounts.add_user(
        "alice",
        role="coordinator",
        sites=["site02", "site01"],
        password=PASSWORD,
        actor="admin",
        full_name="Alice Martin",
        **extra,
    )


def _actions(accounts: Accounts, username: str | None = None) -> list[str]:
    return [e.action for e in accounts.account_events(username)]


def _refusal(accounts: Accounts, username: str, password: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        accounts.authenticate(username, password)
    assert str(caught.value) == GENERIC_REFUSAL
    return caught.value


# -- users ---------------------------------------------------------------------------------


def test_add_get_and_list_users(accounts: Accounts) -> None:
    alice = _alice(accounts)
    assert alice == User("alice", "coordinator", ("site01", "site02"), False, "Alice Martin")
    accounts.add_user("bob", role="monitor", sites=[], password=PASSWORD, actor="admin")
    assert accounts.get_user("alice") == alice
    assert [u.username for u in accounts.list_users()] == ["alice", "bob"]
    assert accounts.get_user("bob").sites == ()


def test_get_user_of_an_unknown_name_is_not_found(accounts: Accounts) -> None:
    with pytest.raises(NotFoundError, match="user 'nobody' does not exist"):
        accounts.get_user("nobody")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "Alice"}, "username 'Alice': use 1-64 lower-case"),
        ({"username": ""}, "username '': use 1-64"),
        ({"role": "owner"}, "role 'owner': not a role; allowed: admin, investigator"),
        ({"sites": ["site 1"]}, "site 'site 1': use 1-64 letters"),
        ({"sites": "site01"}, "sites 'site01': give a list of site codes"),
        ({"password": "elevenchars"}, "password: must have at least 12 characters, got 11"),
        ({"password": "x" * 1025}, "password: must have at most 1024 characters, got 1025"),
    ],
)
def test_add_user_refuses_bad_input(
    accounts: Accounts, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "username": "alice",
        "role": "coordinator",
        "sites": ["site01"],
        "password": PASSWORD,
        "actor": "admin",
    } | kwargs
    with pytest.raises(InputError, match=message):
        accounts.add_user(**args)  # type: ignore[arg-type]
    assert accounts.list_users() == []
    assert accounts.account_events() == []


def test_a_username_is_taken_once(accounts: Accounts) -> None:
    _alice(accounts)
    with pytest.raises(InputError, match="user 'alice' already exists"):
        accounts.add_user("alice", role="admin", sites=[], password=PASSWORD, actor="admin")


def test_set_role_and_sites(accounts: Accounts) -> None:
    _alice(accounts)
    assert accounts.set_role("alice", "investigator", actor="admin").role == "investigator"
    assert accounts.set_sites("alice", ["site03", "site01"], actor="admin").sites == (
        "site01",
        "site03",
    )
    assert accounts.get_user("alice").sites == ("site01", "site03")
    with pytest.raises(InputError, match="role 'boss'"):
        accounts.set_role("alice", "boss", actor="admin")
    with pytest.raises(NotFoundError, match="user 'bob' does not exist"):
        accounts.set_sites("bob", ["site01"], actor="admin")
    events = accounts.account_events("alice")
    assert [(e.action, e.detail) for e in events[1:]] == [
        ("set_role", {"before": "coordinator", "after": "investigator"}),
        ("set_sites", {"before": ["site01", "site02"], "after": ["site01", "site03"]}),
    ]


def test_every_role_can_be_given(accounts: Accounts) -> None:
    for role in ROLES:
        accounts.add_user(role, role=role, sites=["site01"], password=PASSWORD, actor="admin")
    assert sorted(u.role for u in accounts.list_users()) == sorted(ROLES)


# -- passwords -----------------------------------------------------------------------------


def test_the_stored_hash_is_argon2id_and_never_the_password(
    accounts: Accounts, db_url: str
) -> None:
    _alice(accounts)
    with accounts.engine.connect() as conn:
        stored = conn.execute(select(UserRow.password_hash)).scalar_one()
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM users")) for v in row)
    assert stored.startswith("$argon2id$")
    assert extract_parameters(stored).type is Type.ID
    assert PASSWORD not in dump


def test_the_default_hasher_is_argon2id_at_rfc_9106_low_memory(db_url: str) -> None:
    with open_accounts(db_url) as accounts:
        assert accounts.hasher.type is Type.ID
        assert (accounts.hasher.time_cost, accounts.hasher.memory_cost) == (
            profiles.RFC_9106_LOW_MEMORY.time_cost,
            profiles.RFC_9106_LOW_MEMORY.memory_cost,
        )


def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(db_url: str, clock: FakeClock) -> None:
    old = PasswordHasher.from_parameters(profiles.CHEAPEST)
    new = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    with open_accounts(db_url, clock=clock, hasher=old) as accounts:
        _alice(accounts)
    with open_accounts(db_url, clock=clock, hasher=new) as accounts:
        accounts.authenticate("alice", PASSWORD)
        with accounts.engine.connect() as conn:
            stored = conn.execute(select(UserRow.password_hash)).scalar_one()
        assert not new.check_needs_rehash(stored)
        assert accounts.authenticate("alice", PASSWORD).username == "alice"


def test_passwords_are_compared_in_nfkc(accounts: Accounts) -> None:
    accounts.add_user("carol", role="monitor", sites=[], password="Ｓｅｃｒｅｔ passphrase",
                      actor="admin")  # fmt: skip
    assert accounts.authenticate("carol", "Secret passphrase").username == "carol"


def test_reset_password_ends_sessions_and_clears_the_lockout(
    accounts: Accounts, clock: FakeClock
) -> None:
    _alice(accounts)
    token = accounts.create_session("alice")
    for _ in range(accounts.max_failures):
        _refusal(accounts, "alice", "wrong password!")
    accounts.reset_password("alice", "a brand new passphrase", actor="admin")
    with pytest.raises(AuthenticationError):
        accounts.session_user(token)
    assert accounts.authenticate("alice", "a brand new passphrase").username == "alice"
    _refusal(accounts, "alice", PASSWORD)
    with pytest.raises(InputError, match="at least 12"):
        accounts.reset_password("alice", "short", actor="admin")


# -- sign-in and lockout -------------------------------------------------------------------


def test_authenticate_returns_the_user_and_audits_it(accounts: Accounts) -> None:
    alice = _alice(accounts)
    assert accounts.authenticate("alice", PASSWORD) == alice
    last = accounts.account_events("alice")[-1]
    assert (last.action, last.actor) == ("login_success", "alice")


def test_every_refusal_has_the_same_message_and_its_reason_is_audited(
    accounts: Accounts,
) -> None:
    _alice(accounts)
    accounts.add_user("sam", role="monitor", sites=[], password=PASSWORD, actor="admin")
    accounts.suspend("sam", actor="admin", reason="left the study")
    reasons = [
        _refusal(accounts, "nobody", PASSWORD).reason,
        _refusal(accounts, "alice", "not the password").reason,
        _refusal(accounts, "sam", PASSWORD).reason,
    ]
    assert reasons == ["unknown_user", "bad_password", "suspended"]
    failures = [e for e in accounts.account_events() if e.action == "login_failure"]
    assert [(e.username, e.detail["reason"]) for e in failures] == [
        ("(unknown)", "unknown_user"),  # never the name as typed
        ("alice", "bad_password"),
        ("sam", "suspended"),
    ]


def test_lockout_after_max_failures_and_its_expiry(accounts: Accounts, clock: FakeClock) -> None:
    _alice(accounts)
    for attempt in range(1, accounts.max_failures):
        _refusal(accounts, "alice", f"wrong guess {attempt:04d}")
    assert accounts.authenticate("alice", PASSWORD).username == "alice"  # resets the count
    for attempt in range(accounts.max_failures):
        _refusal(accounts, "alice", f"wrong guess {attempt:04d}")
    assert _actions(accounts, "alice")[-1] == "lockout"
    # locked: even the right password is refused, with the same message
    assert _refusal(accounts, "alice", PASSWORD).reason == "locked"
    clock.advance(minutes=14, seconds=59)
    assert _refusal(accounts, "alice", PASSWORD).reason == "locked"
    clock.advance(seconds=2)
    assert accounts.authenticate("alice", PASSWORD).username == "alice"
    lockout = next(e for e in accounts.account_events("alice") if e.action == "lockout")
    assert lockout.detail == {"until": "2026-12-03T09:15:00.000000Z", "after_failures": 5}


def test_lockout_settings_are_configurable(db_url: str, clock: FakeClock) -> None:
    with open_accounts(
        db_url,
        clock=clock,
        max_failures=2,
        lockout=dt.timedelta(minutes=1),
        hasher=PasswordHasher.from_parameters(profiles.CHEAPEST),
    ) as accounts:
        _alice(accounts)
        _refusal(accounts, "alice", "wrong guess one")
        _refusal(accounts, "alice", "wrong guess two")
        assert _refusal(accounts, "alice", PASSWORD).reason == "locked"
        clock.advance(minutes=1, seconds=1)
        # an expired lock starts a fresh count: one failure does not lock again
        _refusal(accounts, "alice", "wrong guess three")
        assert accounts.authenticate("alice", PASSWORD).username == "alice"


# -- suspension ----------------------------------------------------------------------------


def test_suspension_ends_sessions_and_revokes_tokens_at_once(accounts: Accounts) -> None:
    _alice(accounts)
    session = accounts.create_session("alice")
    token = accounts.create_api_token("alice", actor="admin", label="laptop")
    assert accounts.session_user(session).username == "alice"
    assert accounts.token_user(token).username == "alice"
    assert accounts.suspend("alice", actor="admin", reason="audit finding").suspended
    assert accounts.get_user("alice").suspended
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL):
        accounts.session_user(session)
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL):
        accounts.token_user(token)
    with pytest.raises(AuthenticationError):
        accounts.create_session("alice")
    with accounts.engine.connect() as conn:
        assert conn.execute(select(SessionRow.ended_at)).scalar_one() is not None
        assert conn.execute(select(ApiTokenRow.revoked_at)).scalar_one() is not None
    suspend = accounts.account_events("alice")[-1]
    assert suspend.detail == {
        "reason": "audit finding",
        "sessions_ended": 1,
        "tokens_revoked": 1,
    }
    with pytest.raises(InputError, match="already suspended"):
        accounts.suspend("alice", actor="admin", reason="again")


def test_reinstate_lifts_the_suspension_but_tokens_stay_revoked(accounts: Accounts) -> None:
    _alice(accounts)
    token = accounts.create_api_token("alice", actor="admin", label="laptop")
    accounts.suspend("alice", actor="admin", reason="on leave")
    with pytest.raises(InputError, match="reason: required"):
        accounts.reinstate("alice", actor="admin", reason="  ")
    assert not accounts.reinstate("alice", actor="admin", reason="back").suspended
    assert accounts.authenticate("alice", PASSWORD).username == "alice"
    with pytest.raises(AuthenticationError):
        accounts.token_user(token)
    with pytest.raises(InputError, match="is not suspended"):
        accounts.reinstate("alice", actor="admin", reason="again")


# -- sessions ------------------------------------------------------------------------------


def test_sessions_are_stored_hashed_and_end(accounts: Accounts) -> None:
    _alice(accounts)
    token = accounts.create_session("alice")
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    with accounts.engine.connect() as conn:
        stored = conn.execute(select(SessionRow.token_sha256)).scalar_one()
    assert stored == hash_token(token) and token not in stored
    assert accounts.session_user(token).username == "alice"
    accounts.end_session(token)
    accounts.end_session(token)  # ending twice is harmless
    accounts.end_session("never issued")
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL):
        accounts.session_user(token)
    with pytest.raises(AuthenticationError):
        accounts.session_user("never issued")
    assert _actions(accounts, "alice")[-2:] == ["session_start", "session_end"]


def test_a_session_idle_too_long_ends(accounts: Accounts, clock: FakeClock) -> None:
    _alice(accounts)
    token = accounts.create_session("alice")
    clock.advance(minutes=29)
    assert accounts.session_user(token).username == "alice"  # use keeps it alive
    clock.advance(minutes=29)
    assert accounts.session_user(token).username == "alice"
    clock.advance(minutes=10)
    assert accounts.session_user(token, idle_timeout=dt.timedelta(minutes=15)).username == "alice"
    clock.advance(minutes=15, seconds=1)
    with pytest.raises(AuthenticationError) as caught:
        accounts.session_user(token, idle_timeout=dt.timedelta(minutes=15))
    assert caught.value.reason == "expired"
    clock.advance(seconds=1)  # it stays ended
    with pytest.raises(AuthenticationError):
        accounts.session_user(token, idle_timeout=dt.timedelta(hours=1))


def test_a_session_ends_at_its_maximum_age(accounts: Accounts, clock: FakeClock) -> None:
    _alice(accounts)
    token = accounts.create_session("alice")
    for _ in range(24):
        clock.advance(minutes=29)
        accounts.session_user(token)
    clock.advance(minutes=29)  # 12 h 5 min after the start, never idle for 30 min
    with pytest.raises(AuthenticationError):
        accounts.session_user(token)


def test_a_session_needs_an_existing_user(accounts: Accounts) -> None:
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL):
        accounts.create_session("nobody")


# -- API tokens ----------------------------------------------------------------------------


def test_api_tokens_create_use_list_and_revoke(accounts: Accounts) -> None:
    _alice(accounts)
    token = accounts.create_api_token("alice", actor="admin", label="export job")
    assert accounts.token_user(token).username == "alice"
    with pytest.raises(InputError, match="already has an active token 'export job'"):
        accounts.create_api_token("alice", actor="admin", label="export job")
    with accounts.engine.connect() as conn:
        assert conn.execute(select(ApiTokenRow.token_sha256)).scalar_one() == hash_token(token)
    accounts.revoke_api_token("alice", "export job", actor="admin")
    with pytest.raises(AuthenticationError, match=GENERIC_REFUSAL):
        accounts.token_user(token)
    with pytest.raises(NotFoundError, match="no active token 'export job'"):
        accounts.revoke_api_token("alice", "export job", actor="admin")
    again = accounts.create_api_token("alice", actor="admin", label="export job")
    assert again != token and accounts.token_user(again).username == "alice"
    listed = accounts.api_tokens("alice")
    assert [(t["label"], t["revoked_at"] is None) for t in listed] == [
        ("export job", False),
        ("export job", True),
    ]
    with pytest.raises(AuthenticationError):
        accounts.token_user("not a token")
    with pytest.raises(InputError, match="token label ''"):
        accounts.create_api_token("alice", actor="admin", label="")


# -- the account event trail ---------------------------------------------------------------


def test_every_change_is_an_event_with_actor_and_time_and_no_secret(
    accounts: Accounts, clock: FakeClock
) -> None:
    _alice(accounts)
    accounts.set_role("alice", "monitor", actor="admin")
    accounts.set_sites("alice", ["site01"], actor="admin")
    session = accounts.create_session("alice")
    token = accounts.create_api_token("alice", actor="admin", label="cli")
    accounts.revoke_api_token("alice", "cli", actor="admin")
    accounts.reset_password("alice", "another long passphrase", actor="admin")
    accounts.suspend("alice", actor="admin", reason="left")
    accounts.reinstate("alice", actor="admin", reason="returned")
    accounts.authenticate("alice", "another long passphrase")
    _refusal(accounts, "alice", PASSWORD)
    events = accounts.account_events("alice")
    assert [e.action for e in events] == [
        "add_user",
        "set_role",
        "set_sites",
        "session_start",
        "token_create",
        "token_revoke",
        "reset_password",
        "suspend",
        "reinstate",
        "login_success",
        "login_failure",
    ]
    assert all(e.occurred_at == "2026-12-03T09:00:00.000000Z" for e in events)
    assert {e.actor for e in events} == {"admin", "alice"}
    with accounts.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM account_event"))])
    for secret in (PASSWORD, "another long passphrase", session, token, hash_token(token)):
        assert secret not in dump
    with accounts.engine.connect() as conn:
        assert verify_account_events(conn) == (len(events), [])


def test_the_event_trail_is_append_only(accounts: Accounts) -> None:
    _alice(accounts)
    for statement in ("UPDATE account_event SET actor = 'mallory'", "DELETE FROM account_event"):
        with (
            pytest.raises(DBAPIError, match="account_event is append-only"),
            accounts.engine.begin() as conn,
        ):
            conn.execute(text(statement))
    assert _actions(accounts) == ["add_user"]


def test_open_accounts_on_an_engine_leaves_it_open(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with open_accounts(engine) as accounts:
            assert accounts.list_users() == []
        with engine.connect() as conn:  # still usable: close() did not dispose of it
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
    finally:
        engine.dispose()


def test_open_accounts_on_a_bad_url_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unsupported database 'mysql'"):
        open_accounts("mysql://localhost/x")
    assert issubclass(AuthenticationError, ClestudyError)


# -- audit verify covers the account trail ---------------------------------------------------


def _tampered(sqlite_url: str, statement: str) -> str:
    with open_accounts(
        sqlite_url, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)
    ) as accounts:
        _alice(accounts)
        accounts.set_role("alice", "monitor", actor="admin")
        accounts.set_role("alice", "admin", actor="admin")
    with open_store(sqlite_url, "pediatric-cle-chart-review"):
        pass
    result = verify_audit(sqlite_url)
    assert result.ok and result.account_events == 3
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:  # what someone with the file could do, triggers dropped
            conn.execute(text("DROP TRIGGER account_event_no_update"))
            conn.execute(text("DROP TRIGGER account_event_no_delete"))
            conn.execute(text(statement))
    finally:
        engine.dispose()
    result = verify_audit(sqlite_url)
    assert not result.ok
    return result.describe()


def test_audit_verify_detects_an_edited_account_event(sqlite_url: str) -> None:
    described = _tampered(sqlite_url, "UPDATE account_event SET actor = 'mallory' WHERE seq = 2")
    assert described == "account_event seq 2: hash does not match its content (edited)"


def test_audit_verify_detects_a_removed_account_event(sqlite_url: str) -> None:
    described = _tampered(sqlite_url, "DELETE FROM account_event WHERE seq = 2")
    assert described == (
        "account_event seq 3: prev_hash does not match the previous event's hash (an event was "
        "removed or inserted)"
    )


# -- properties ------------------------------------------------------------------------------

_PASSWORDS = st.text(min_size=12, max_size=40).filter(
    lambda p: len(unicodedata.normalize("NFKC", p)) >= 12
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=_PASSWORDS, other=st.text(max_size=40))
def test_any_password_round_trips_and_any_other_string_fails(password: str, other: str) -> None:
    """Hashing is the only secret-dependent step, so the property is checked on the hasher the
    accounts use, without a database per example."""
    accounts = Accounts(make_engine("sqlite://"), hasher=PasswordHasher.from_parameters(
        profiles.CHEAPEST))  # fmt: skip
    try:
        stored = accounts._hash(password)
        assert password not in stored
        assert accounts._verify(stored, password)
        same = unicodedata.normalize("NFKC", other) == unicodedata.normalize("NFKC", password)
        assert accounts._verify(stored, other) is same
    finally:
        accounts.close()


def test_the_accounts_migration_downgrades_and_upgrades_again(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_to_head(engine)
        config = _config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
        assert not tables & {"users", "user_sites", "sessions", "api_tokens", "account_event"}
        upgrade_to_head(engine)
        with open_accounts(engine, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)) as a:
            _alice(a)
            assert a.authenticate("alice", PASSWORD).username == "alice"
    finally:
        engine.dispose()


def test_end_user_sessions_signs_out_everywhere_but_keeps_tokens(accounts: Accounts) -> None:
    _alice(accounts)
    sessions = [accounts.create_session("alice") for _ in range(2)]
    token = accounts.create_api_token("alice", actor="admin", label="job")
    assert accounts.end_user_sessions("alice", actor="admin") == 2
    for session in sessions:
        with pytest.raises(AuthenticationError):
            accounts.session_user(session)
    assert accounts.token_user(token).username == "alice"
    assert accounts.end_user_sessions("alice", actor="admin") == 0
    last = accounts.account_events("alice")[-1]
    assert (last.action, last.actor, last.detail) == (
        "sessions_end",
        "admin",
        {"sessions_ended": 0},
    )
    with pytest.raises(NotFoundError):
        accounts.end_user_sessions("nobody", actor="admin")
