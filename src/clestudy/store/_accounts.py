"""Accounts: users, roles and sites; sign-in with lockout; sessions and API tokens; all audited.

The web layer signs people in through :class:`Accounts`; the ``clestudy user`` commands manage
them. Users are global to a database; their ``sites`` are the site codes stored on subjects.

Security choices (docs/security.md, "Accounts and sessions"):

* Passwords are hashed with **argon2id** ([RFC 9106]) by ``argon2-cffi``'s
  :class:`argon2.PasswordHasher` at its RFC 9106 low-memory profile; a hash made with older
  parameters is re-hashed at the next successful sign-in (``check_needs_rehash``). A password is
  NFKC-normalised, then needs at least 12 characters and at most 1024, with no composition rule
  ([NIST SP 800-63B] section 5.1.1.2; labels in docs/references.md).
* Session and API tokens come from :func:`secrets.token_urlsafe` (256 bits) and only their
  SHA-256 is stored, so a copy of the database signs no one in.
* ``max_failures`` failed attempts in a row (default 5) lock the account for ``lockout`` (default
  15 minutes). Every refusal -- unknown user, wrong password, suspended, locked -- raises the same
  :class:`AuthenticationError` message, so a caller cannot tell which accounts exist; the real
  reason goes to the account event trail only. An unknown user's attempt still runs one argon2
  computation, so its timing does not tell either.
* An attempt naming no account is recorded as :data:`UNKNOWN_USER`, never with the name as
  typed: people type their password into the username box, and the OWASP Logging Cheat Sheet
  (https://cheatsheetseries.owasp.org/cheatsheets/Logging_Cheat_Sheet.html, "Data to exclude")
  says never to record passwords. The event keeps ``typed``, an argon2id tag of the text under
  the database's random salt (migration 0010), and the attempt's ``source`` when the caller
  gives one, so an admin can see the same text tried again without the trail holding it; the
  tag costs a guesser the same argon2id work per guess as a stored password hash.
* Suspension ends the user's open sessions and revokes their API tokens in the same transaction;
  a password reset ends the open sessions.
* A session ends after ``idle_timeout`` without use (30 minutes by default), and at the latest
  ``session_max_age`` (12 hours) after it began ([OWASP ASVS 5.0] 7.3).

Every change and every sign-in attempt appends an event to the hash-chained account trail
(:mod:`clestudy.store._accounts_events`). Time comes from an injectable ``clock``, so tests move
it instead of sleeping.

The hand-written parts are the account rules themselves; hashing is argon2-cffi's, tokens are the
standard library's :mod:`secrets`, and no maintained library fits this store's audited,
SQLAlchemy-based write path better than these few methods.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret_raw
from sqlalchemy import Engine, bindparam, select, text
from sqlalchemy.orm import Session

from clestudy.errors import ClestudyError, InputError, NotFoundError
from clestudy.store._accounts_events import (
    ACCOUNT_LOCK_KEY,
    AccountEvent,
    account_event,
)
from clestudy.store._engine import READ_ONLY_OPTION, execute_prebuilt, is_postgres, single_read
from clestudy.store._schema import (
    AccountEventRow,
    AccountSettingRow,
    ApiTokenRow,
    SessionRow,
    UserRow,
    UserSiteRow,
)

__all__ = [
    "GENERIC_REFUSAL",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "UNKNOWN_USER",
    "Accounts",
    "AuthenticationError",
    "User",
    "hash_token",
    "normalise_password",
]

#: The roles a user can have (docs/security.md, "Roles and permissions").
ROLES = ("admin", "investigator", "coordinator", "monitor", "statistician")

#: The shortest password accepted, in characters (NIST SP 800-63B §5.1.1.2 asks for at least 8
#: for a chosen secret; clestudy asks for 12).
MIN_PASSWORD_LENGTH = 12
#: The longest password accepted: NIST asks to allow at least 64; the cap bounds hashing work.
MAX_PASSWORD_LENGTH = 1024

#: The one message of every refused sign-in, session or token.
GENERIC_REFUSAL = "invalid username or password"

#: The actor and user of an attempt naming no account (not a valid username, so no account
#: can be confused with it); the text typed is never stored.
UNKNOWN_USER = "(unknown)"

#: The ``account_setting`` row holding the salt of :meth:`Accounts.typed_tag` (migration 0010).
UNKNOWN_USER_SALT = "unknown_user_salt"

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_SITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"

Clock = Callable[[], dt.datetime]


class AuthenticationError(ClestudyError):
    """A refused sign-in, session or API token, always with :data:`GENERIC_REFUSAL`.

    ``reason`` (``unknown_user``, ``bad_password``, ``suspended``, ``locked``, ``expired``,
    ``unknown_token``) is for logs and tests; never show it to the person signing in.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(GENERIC_REFUSAL)
        self.reason = reason


@dataclass(frozen=True)
class User:
    """A user as the web layer sees it: never the password hash."""

    username: str
    role: str
    sites: tuple[str, ...]
    suspended: bool
    full_name: str


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a session or API token is stored.

    >>> hash_token("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_password(password: str) -> str:
    """The NFKC form of ``password`` (NIST SP 800-63B §5.1.1.2), checked for length.

    Raises
    ------
    InputError
        When it is shorter than :data:`MIN_PASSWORD_LENGTH` or longer than
        :data:`MAX_PASSWORD_LENGTH` characters.

    Examples
    --------
    >>> normalise_password("ｃｏｒｒｅｃｔ ｈｏｒｓｅ")
    'correct horse'
    >>> normalise_password("short")
    Traceback (most recent call last):
    clestudy.errors.InputError: password: must have at least 12 characters, got 5
    """
    value = unicodedata.normalize("NFKC", password)
    if len(value) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"password: must have at least {MIN_PASSWORD_LENGTH} characters, got {len(value)}"
        )
    if len(value) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"password: must have at most {MAX_PASSWORD_LENGTH} characters, got {len(value)}"
        )
    return value


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_TIMESTAMP)


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=dt.UTC)


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise InputError(
            f"username {username!r}: use 1-64 lower-case letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return username


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r}: not a role; allowed: {', '.join(ROLES)}")
    return role


def _check_sites(sites: Sequence[str]) -> tuple[str, ...]:
    if isinstance(sites, str):
        raise InputError(f"sites {sites!r}: give a list of site codes, not one string")
    for site in sites:
        if not isinstance(site, str) or not _SITE.fullmatch(site):
            raise InputError(
                f"site {site!r}: use 1-64 letters, digits, '.', '_' or '-' (the site code stored "
                "on subjects)"
            )
    return tuple(sorted(set(sites)))


def _check_label(label: str) -> str:
    if not isinstance(label, str) or not label.strip() or len(label) > 128:
        raise InputError(f"token label {label!r}: give 1-128 characters")
    return label


@dataclass
class Accounts:
    """The users of one database. Create it with :func:`open_accounts`.

    Parameters
    ----------
    engine
        The database, migrated to head.
    clock
        Returns the current aware UTC time (tests pass a fake one).
    max_failures
        Failed sign-in attempts in a row that lock the account.
    lockout
        How long a locked account refuses every sign-in, the right password included.
    session_max_age
        The absolute lifetime of a session, however active.
    session_touch
        A session's last-use time is written at most this often (a read per request, a write
        per ``session_touch``); the idle timeout is exact to within it.
    hasher
        The argon2id hasher (tests pass a cheaper profile; production keeps the default).
    owns_engine
        Whether :meth:`close` disposes of the engine.
    """

    engine: Engine
    clock: Clock = field(default=_system_clock)
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    session_max_age: dt.timedelta = dt.timedelta(hours=12)
    session_touch: dt.timedelta = dt.timedelta(seconds=15)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    owns_engine: bool = True

    def close(self) -> None:
        """Release the database connections (when this object created them)."""
        if self.owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Accounts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with (
            self.engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn,
            Session(bind=conn) as session,
        ):
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            if is_postgres(self.engine):
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ACCOUNT_LOCK_KEY})
            yield session

    def _now(self) -> dt.datetime:
        return self.clock()

    def _event(
        self, session: Session, now: dt.datetime, actor: str, action: str, username: str, /,
        **detail: Any,
    ) -> None:  # fmt: skip
        account_event(
            session,
            occurred_at=_timestamp(now),
            actor=actor,
            action=action,
            username=username,
            detail=detail,
        )

    # -- rows ------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, username: str) -> UserRow | None:
        return session.scalar(select(UserRow).where(UserRow.username == username))

    def _existing(self, session: Session, username: str) -> UserRow:
        row = self._row(session, username)
        if row is None:
            raise NotFoundError(f"user {username!r} does not exist")
        return row

    @staticmethod
    def _sites(session: Session, row: UserRow) -> tuple[str, ...]:
        return tuple(
            session.scalars(
                select(UserSiteRow.site)
                .where(UserSiteRow.user_id == row.id)
                .order_by(UserSiteRow.site)
            )
        )

    def _user(self, session: Session, row: UserRow) -> User:
        return User(
            username=row.username,
            role=row.role,
            sites=self._sites(session, row),
            suspended=row.suspended,
            full_name=row.full_name,
        )

    def _hash(self, password: str) -> str:
        return self.hasher.hash(normalise_password(password))

    @functools.cached_property
    def _unknown_user_salt(self) -> bytes:
        with self._read() as session:
            found = session.get(AccountSettingRow, UNKNOWN_USER_SALT)
        if found is None:  # pragma: no cover - migration 0010 writes it
            raise ClestudyError("database: the account settings lack the unknown-user salt")
        return bytes.fromhex(found.value)

    def typed_tag(self, typed: str) -> str:
        """The tag under which a sign-in naming no account records what was typed.

        argon2id ([RFC 9106]) of the text under this database's random salt, at the password
        hasher's parameters, truncated to 64 bits: the same text gives the same tag in this
        database, so repeated attempts can be correlated, and recovering the text takes the same
        work per guess as cracking a stored password hash. Computing it costs what verifying a
        password costs, so a refusal of an unknown user takes as long as a wrong password.
        """
        raw = hash_secret_raw(
            typed.encode("utf-8", "surrogatepass"),
            self._unknown_user_salt,
            time_cost=self.hasher.time_cost,
            memory_cost=self.hasher.memory_cost,
            parallelism=self.hasher.parallelism,
            hash_len=32,
            type=self.hasher.type,
        )
        return f"argon2{self.hasher.type.name.lower()}:{raw.hex()[:16]}"

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, unicodedata.normalize("NFKC", password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- reading ---------------------------------------------------------------------------

    def get_user(self, username: str) -> User:
        """The user ``username``.

        Raises
        ------
        NotFoundError
            When there is no such user.
        """
        with self._read() as session:
            return self._user(session, self._existing(session, username))

    def list_users(self) -> list[User]:
        """Every user, by username."""
        with self._read() as session:
            rows = session.scalars(select(UserRow).order_by(UserRow.username)).all()
            return [self._user(session, row) for row in rows]

    def account_events(self, username: str | None = None) -> list[AccountEvent]:
        """The account event trail, oldest first, optionally for one user."""
        import json

        with self._read() as session:
            query = select(AccountEventRow).order_by(AccountEventRow.seq)
            if username is not None:
                query = query.where(AccountEventRow.username == username)
            return [
                AccountEvent(
                    seq=row.seq,
                    occurred_at=row.occurred_at,
                    actor=row.actor,
                    action=row.action,
                    username=row.username,
                    detail=json.loads(row.detail_json),
                    hash=row.hash,
                )
                for row in session.scalars(query)
            ]

    # -- account changes -------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        *,
        role: str,
        sites: Sequence[str],
        password: str,
        actor: str,
        full_name: str = "",
    ) -> User:
        """Create a user (audited as ``add_user``; the password is hashed, never stored).

        Raises
        ------
        InputError
            For a malformed username or site, an unknown role, a password shorter than 12
            characters (NIST SP 800-63B §5.1.1.2), or a username already taken.
        """
        _check_username(username)
        _check_role(role)
        clean_sites = _check_sites(sites)
        if len(full_name) > 256:
            raise InputError(f"full name of {username!r}: at most 256 characters")
        password_hash = self._hash(password)
        now = self._now()
        with self._write() as session:
            if self._row(session, username) is not None:
                raise InputError(f"user {username!r} already exists")
            row = UserRow(
                username=username,
                full_name=full_name,
                role=role,
                password_hash=password_hash,
                suspended=False,
                failed_attempts=0,
                created_at=_timestamp(now),
                updated_at=_timestamp(now),
            )
            session.add(row)
            session.flush()
            session.add_all(UserSiteRow(user_id=row.id, site=site) for site in clean_sites)
            self._event(
                session,
                now,
                actor,
                "add_user",
                username,
                role=role,
                sites=list(clean_sites),
                full_name=full_name,
            )
            session.flush()
            return self._user(session, row)

    def set_role(self, username: str, role: str, *, actor: str) -> User:
        """Change a user's role (audited with the role before and after)."""
        _check_role(role)
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            before, row.role, row.updated_at = row.role, role, _timestamp(now)
            self._event(session, now, actor, "set_role", username, before=before, after=role)
            return self._user(session, row)

    def set_sites(self, username: str, sites: Sequence[str], *, actor: str) -> User:
        """Replace a user's sites (audited with the sites before and after)."""
        clean = _check_sites(sites)
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            before = self._sites(session, row)
            for site_row in session.scalars(
                select(UserSiteRow).where(UserSiteRow.user_id == row.id)
            ):
                if site_row.site not in clean:
                    session.delete(site_row)
            session.add_all(
                UserSiteRow(user_id=row.id, site=site) for site in clean if site not in before
            )
            row.updated_at = _timestamp(now)
            self._event(
                session, now, actor, "set_sites", username, before=list(before), after=list(clean)
            )
            session.flush()
            return self._user(session, row)

    def suspend(self, username: str, *, actor: str, reason: str) -> User:
        """Suspend a user: every open session ends and every API token is revoked at once.

        Raises
        ------
        InputError
            Without a reason, or when the user is already suspended.
        """
        reason = _reason(reason)
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            if row.suspended:
                raise InputError(f"user {username!r} is already suspended")
            row.suspended, row.updated_at = True, _timestamp(now)
            ended = self._end_sessions(session, row, now)
            revoked = 0
            for token in session.scalars(
                select(ApiTokenRow).where(
                    ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None)
                )
            ):
                token.revoked_at = _timestamp(now)
                revoked += 1
            self._event(
                session,
                now,
                actor,
                "suspend",
                username,
                reason=reason,
                sessions_ended=ended,
                tokens_revoked=revoked,
            )
            return self._user(session, row)

    def reinstate(self, username: str, *, actor: str, reason: str) -> User:
        """Lift a suspension (and any lockout). Revoked API tokens stay revoked.

        Raises
        ------
        InputError
            Without a reason, or when the user is not suspended.
        """
        reason = _reason(reason)
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            if not row.suspended:
                raise InputError(f"user {username!r} is not suspended")
            row.suspended, row.failed_attempts, row.locked_until = False, 0, None
            row.updated_at = _timestamp(now)
            self._event(session, now, actor, "reinstate", username, reason=reason)
            return self._user(session, row)

    def reset_password(self, username: str, new_password: str, *, actor: str) -> User:
        """Set a new password: clears a lockout and ends the user's open sessions (audited,
        without the password)."""
        password_hash = self._hash(new_password)
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            row.password_hash, row.failed_attempts, row.locked_until = password_hash, 0, None
            row.updated_at = _timestamp(now)
            ended = self._end_sessions(session, row, now)
            self._event(session, now, actor, "reset_password", username, sessions_ended=ended)
            return self._user(session, row)

    # -- sign-in ---------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, source: str | None = None) -> User:
        """Check a username and password; count failures and lock after ``max_failures``.

        ``source`` (e.g. the client's address) is recorded in the event when given. An attempt
        naming no account is recorded as :data:`UNKNOWN_USER` with :meth:`typed_tag` of the text,
        never the text.

        Raises
        ------
        AuthenticationError
            With the one message :data:`GENERIC_REFUSAL` for an unknown user, a wrong password,
            a suspended or a locked account; the reason goes to the account event trail.
        """
        return self._check_password(username, password, "login", source)

    def check_password_for_signing(self, username: str, password: str) -> User:
        """Check the password a user re-enters to sign electronically (21 CFR 11.200(a)(1)).

        The same rules as :meth:`authenticate`, and the same counter: a wrong password counts
        toward the lockout exactly like a failed sign-in (21 CFR 11.300(d): attempts at
        unauthorised use are detected and stopped), and a locked or suspended account is
        refused even with the right password. A lockout reached while signing also ends the
        user's open sessions: whoever keeps guessing at an open session is signed out. Events:
        ``signing_success``, ``signing_failure`` (with its reason) and ``lockout``.

        Raises
        ------
        AuthenticationError
            With :data:`GENERIC_REFUSAL` for an unknown user, a wrong password, a suspended or
            a locked account.
        """
        return self._check_password(username, password, "signing", None)

    def _check_password(
        self, username: str, password: str, purpose: str, source: str | None
    ) -> User:
        """Sign-in (``purpose="login"``) or signing (``"signing"``): the one password check,
        its counter and its events ``PURPOSE_success`` / ``PURPOSE_failure``."""
        name = username if isinstance(username, str) else ""
        with self._read() as session:
            found = self._row(session, name)
            stored = None if found is None else found.password_hash
        # the slow hash runs outside the write lock; an unknown user costs the same work: its
        # tag instead of a verification
        matches = stored is not None and self._verify(stored, password)
        tag = self.typed_tag(name) if stored is None else None
        extra: dict[str, Any] = {} if source is None else {"source": str(source)[:256]}
        now = self._now()
        with self._write() as session:
            row = self._row(session, name)
            reason = self._refusal(row, stored, matches, now)
            if row is None or reason is not None:
                failure = reason or "unknown_user"
                if row is None:
                    extra["typed"] = tag or self.typed_tag(name)
                self._record_failure(session, row, name, failure, now, f"{purpose}_failure", extra)
                user = None
            else:
                row.failed_attempts, row.locked_until = 0, None
                if self.hasher.check_needs_rehash(row.password_hash):
                    row.password_hash = self._hash(password)
                    row.updated_at = _timestamp(now)
                self._event(session, now, name, f"{purpose}_success", name, **extra)
                user = self._user(session, row)
        if user is None:
            raise AuthenticationError(reason or "unknown_user")
        return user

    def _refusal(
        self, row: UserRow | None, stored: str | None, matches: bool, now: dt.datetime
    ) -> str | None:
        if row is None:
            return "unknown_user"
        if row.suspended:
            return "suspended"
        if row.locked_until is not None and _parse(row.locked_until) > now:
            return "locked"
        if not matches or row.password_hash != stored:  # changed while we verified
            return "bad_password"
        return None

    def _record_failure(
        self, session: Session, row: UserRow | None, name: str, reason: str, now: dt.datetime,
        action: str, extra: dict[str, Any],
    ) -> None:  # fmt: skip
        detail: dict[str, Any] = {"reason": reason, **extra}
        if row is None:  # never the text typed: it may be a password
            name = UNKNOWN_USER
        locked = False
        if row is not None and reason == "bad_password":
            if row.locked_until is not None:  # an expired lock starts a fresh count
                row.locked_until = None
            row.failed_attempts += 1
            detail["failed_attempts"] = row.failed_attempts
            if row.failed_attempts >= self.max_failures:
                row.failed_attempts, row.locked_until = 0, _timestamp(now + self.lockout)
                locked = True
        self._event(session, now, name, action, name, **detail)
        if locked and row is not None and row.locked_until is not None:
            ended: dict[str, Any] = {}
            if action == "signing_failure":  # guessing at an open session: sign it out
                ended["sessions_ended"] = self._end_sessions(session, row, now)
            self._event(
                session,
                now,
                "system",
                "lockout",
                name,
                until=row.locked_until,
                after_failures=self.max_failures,
                **ended,
            )

    # -- sessions --------------------------------------------------------------------------

    def create_session(self, username: str) -> str:
        """Start a session for an authenticated user; return its token (stored hashed only).

        Raises
        ------
        AuthenticationError
            When the user does not exist or is suspended.
        """
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self._write() as session:
            row = self._row(session, username)
            if row is None or row.suspended:
                raise AuthenticationError("unknown_user" if row is None else "suspended")
            session.add(
                SessionRow(
                    token_sha256=hash_token(token),
                    user_id=row.id,
                    created_at=_timestamp(now),
                    last_seen_at=_timestamp(now),
                )
            )
            self._event(session, now, username, "session_start", username)
        return token

    def session_user(
        self, token: str, *, idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    ) -> User:
        """The user of an open session, which counts as used now.

        Raises
        ------
        AuthenticationError
            When the token names no open session, the session was idle longer than
            ``idle_timeout`` or is older than ``session_max_age`` (it is ended), or its user is
            suspended.
        """
        now = self._now()
        with self._read() as session:
            found = self._by_token(session, SessionRow, token)
            if found is None:
                raise AuthenticationError("unknown_token")
            sess, user_row = found
            if sess.ended_at is not None or user_row.suspended:
                raise AuthenticationError("suspended" if user_row.suspended else "expired")
            last_seen, started = _parse(sess.last_seen_at), _parse(sess.created_at)
            user = self._user(session, user_row)
            session_id = sess.id
        expired = now - last_seen > idle_timeout or now - started > self.session_max_age
        if expired or now - last_seen >= self.session_touch:
            with Session(self.engine) as write, write.begin():
                row = write.get(SessionRow, session_id)
                if row is not None and row.ended_at is None:
                    if expired:
                        row.ended_at = _timestamp(now)
                    else:
                        row.last_seen_at = _timestamp(now)
        if expired:
            raise AuthenticationError("expired")
        return user

    def end_user_sessions(self, username: str, *, actor: str) -> int:
        """End every open session of ``username`` (an admin signing them out everywhere,
        [OWASP ASVS 5.0] 7.4.5); return how many ended. Audited as ``sessions_end``."""
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            ended = self._end_sessions(session, row, now)
            self._event(session, now, actor, "sessions_end", username, sessions_ended=ended)
        return ended

    def end_session(self, token: str) -> None:
        """End a session (sign out); an unknown or already ended token is ignored."""
        now = self._now()
        with self._write() as session:
            found = self._by_token(session, SessionRow, token)
            if found is None or found[0].ended_at is not None:
                return
            found[0].ended_at = _timestamp(now)
            name = found[1].username
            self._event(session, now, name, "session_end", name)

    @staticmethod
    def _by_token(
        session: Session, model: type[SessionRow] | type[ApiTokenRow], token: object
    ) -> tuple[Any, UserRow] | None:
        """The session or API-token row of ``token`` and its user, or ``None``."""
        digest = hash_token(token) if isinstance(token, str) else ""
        found = session.execute(
            select(model, UserRow)
            .join(UserRow, UserRow.id == model.user_id)
            .where(model.token_sha256 == digest)
        ).first()
        if found is None:
            return None
        row = cast("SessionRow | ApiTokenRow", found[0])
        if not hmac.compare_digest(row.token_sha256, digest):
            return None
        return row, found[1]

    def _end_sessions(self, session: Session, row: UserRow, now: dt.datetime) -> int:
        ended = 0
        for open_session in session.scalars(
            select(SessionRow).where(SessionRow.user_id == row.id, SessionRow.ended_at.is_(None))
        ):
            open_session.ended_at = _timestamp(now)
            ended += 1
        return ended

    # -- API tokens ------------------------------------------------------------------------

    def create_api_token(self, username: str, *, actor: str, label: str) -> str:
        """Create an API token for ``username``; the plaintext is returned once, never stored.

        Raises
        ------
        InputError
            For an empty label, a label already used by one of the user's active tokens, or a
            suspended user.
        """
        _check_label(label)
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            if row.suspended:
                raise InputError(f"user {username!r} is suspended: no token can be created")
            if self._active_token(session, row, label) is not None:
                raise InputError(f"user {username!r} already has an active token {label!r}")
            session.add(
                ApiTokenRow(
                    user_id=row.id,
                    label=label,
                    token_sha256=hash_token(token),
                    created_at=_timestamp(now),
                )
            )
            self._event(session, now, actor, "token_create", username, label=label)
        return token

    def token_user(self, token: str) -> User:
        """The user of an active API token, read in one query (the token, its user and the
        user's sites), so a suspension or a revocation counts from the next request in every
        worker: nothing is cached.

        Raises
        ------
        AuthenticationError
            When the token is unknown or revoked, or its user is suspended.
        """
        digest = hash_token(token) if isinstance(token, str) else ""
        with single_read(self.engine) as conn:
            rows = execute_prebuilt(conn, _TOKEN_USER, {"digest": digest}).all()
        if not rows or not hmac.compare_digest(rows[0].token_sha256, digest):
            raise AuthenticationError("unknown_token")
        first = rows[0]
        if first.suspended:
            raise AuthenticationError("suspended")
        if first.revoked_at is not None:
            raise AuthenticationError("expired")
        return User(
            username=first.username,
            role=first.role,
            sites=tuple(row.site for row in rows if row.site is not None),
            suspended=bool(first.suspended),  # the driver's 0 or 1 on SQLite
            full_name=first.full_name,
        )

    def revoke_api_token(self, username: str, label: str, *, actor: str) -> None:
        """Revoke the user's active token ``label`` (audited).

        Raises
        ------
        NotFoundError
            When the user has no active token with that label.
        """
        now = self._now()
        with self._write() as session:
            row = self._existing(session, username)
            token = self._active_token(session, row, label)
            if token is None:
                raise NotFoundError(f"user {username!r} has no active token {label!r}")
            token.revoked_at = _timestamp(now)
            self._event(session, now, actor, "token_revoke", username, label=label)

    def api_tokens(self, username: str) -> list[dict[str, str | None]]:
        """The user's tokens: label, created and revoked times (never the token)."""
        with self._read() as session:
            row = self._existing(session, username)
            return [
                {"label": t.label, "created_at": t.created_at, "revoked_at": t.revoked_at}
                for t in session.scalars(
                    select(ApiTokenRow)
                    .where(ApiTokenRow.user_id == row.id)
                    .order_by(ApiTokenRow.id)
                )
            ]

    @staticmethod
    def _active_token(session: Session, row: UserRow, label: str) -> ApiTokenRow | None:
        return session.scalar(
            select(ApiTokenRow).where(
                ApiTokenRow.user_id == row.id,
                ApiTokenRow.label == label,
                ApiTokenRow.revoked_at.is_(None),
            )
        )


_TOKENS, _USERS, _USER_SITES = (
    ApiTokenRow.__table__.c,
    UserRow.__table__.c,
    UserSiteRow.__table__.c,
)
#: An API token's row with its user and one row per site of the user (built once).
_TOKEN_USER = (
    select(
        _TOKENS.token_sha256,
        _TOKENS.revoked_at,
        _USERS.username,
        _USERS.role,
        _USERS.suspended,
        _USERS.full_name,
        _USER_SITES.site,
    )
    .select_from(ApiTokenRow.__table__)
    .join(UserRow.__table__, _USERS.id == _TOKENS.user_id)
    .outerjoin(UserSiteRow.__table__, _USER_SITES.user_id == _USERS.id)
    .where(_TOKENS.token_sha256 == bindparam("digest"))
    .order_by(_USER_SITES.site)
)


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("reason: required (say why), got an empty reason")
    return reason.strip()


def open_accounts(url_or_engine: str | Engine, **settings: Any) -> Accounts:
    """The accounts of the database at ``url_or_engine``, migrated to the newest schema first.

    A URL opens an engine that :meth:`Accounts.close` disposes of; a given engine stays the
    caller's. ``settings`` are :class:`Accounts` fields (``clock``, ``max_failures``,
    ``lockout``, ``hasher``...).
    """
    from clestudy.store._migrate import upgrade_to_head
    from clestudy.store._open import _engine_ready

    if isinstance(url_or_engine, str):
        return Accounts(_engine_ready(url_or_engine), owns_engine=True, **settings)
    try:
        upgrade_to_head(url_or_engine)
    except Exception as exc:
        raise ClestudyError(f"database: cannot open ({exc})") from None
    return Accounts(url_or_engine, owns_engine=False, **settings)
