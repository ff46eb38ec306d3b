"""The account event trail: one append-only, hash-chained sequence of account changes.

Every account change and every sign-in attempt appends one ``account_event`` row (actor, time,
action, user, a small detail object) whose hash is ``SHA-256(prev_hash || canonical_bytes(entry))``
over the same canonical JSON as the study audit trail (:mod:`clestudy.store._audit`). Database
triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), so an edit made around them, or a
removed event, breaks the chain and :func:`verify_account_events` reports it. The detail never
holds a password, a password hash or a token: :func:`account_event` refuses those keys.

The trail is a single chain: writers serialise on a PostgreSQL advisory lock
(``ACCOUNT_LOCK_KEY``) or on SQLite's ``BEGIN IMMEDIATE``. Account changes are rare, so one chain
costs nothing measurable and keeps the order of a user's history total.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from clestudy.errors import ClestudyError
from clestudy.store._audit import GENESIS_HASH, canonical_bytes, canonical_json, hashable
from clestudy.store._schema import AccountEventRow

__all__ = [
    "ACCOUNT_EVENT_FORMAT",
    "ACCOUNT_LOCK_KEY",
    "AccountEvent",
    "account_event",
    "account_event_hash",
    "verify_account_events",
]

#: The advisory-lock key of the account event chain ("clea" in ASCII).
ACCOUNT_LOCK_KEY = 0x636C6561

#: The version of the hashed entry layout.
ACCOUNT_EVENT_FORMAT = 1

#: Keys a detail object may never hold, at any depth: secrets stay out of the trail.
_SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_sha256", "secret"})


@dataclass(frozen=True)
class AccountEvent:
    """One account event as read back: no secret is ever part of it."""

    seq: int
    occurred_at: str
    actor: str
    action: str
    username: str
    detail: dict[str, Any]
    hash: str


def account_event_hash(
    prev_hash: str, *, occurred_at: str, actor: str, action: str, username: str, detail_json: str
) -> str:
    """``SHA-256(prev_hash || canonical_bytes(entry))`` of one account event, in hex.

    >>> len(account_event_hash(GENESIS_HASH, occurred_at="2026-01-01T00:00:00.000000Z",
    ...     actor="admin", action="add_user", username="alice", detail_json="{}"))
    64
    """
    entry = {
        "format": ACCOUNT_EVENT_FORMAT,
        "occurred_at": occurred_at,
        "actor": actor,
        "action": action,
        "username": username,
        "detail": json.loads(detail_json),
    }
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(entry)).hexdigest()


def _refuse_secrets(obj: Any, path: str) -> None:
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if str(key).lower() in _SECRET_KEYS:
                raise ClestudyError(f"account event: detail {path}.{key} would store a secret")
            _refuse_secrets(value, f"{path}.{key}")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            _refuse_secrets(value, f"{path}[{i}]")


def account_event(
    session: Session,
    *,
    occurred_at: str,
    actor: str,
    action: str,
    username: str,
    detail: Mapping[str, Any] | None = None,
) -> AccountEventRow:
    """Append one event to the chain inside the caller's write transaction (which holds the
    account lock), and return its row."""
    clean = hashable(dict(detail or {}))
    _refuse_secrets(clean, "$")
    detail_json = canonical_json(clean)
    head = session.scalar(
        select(AccountEventRow.hash).order_by(AccountEventRow.seq.desc()).limit(1)
    )
    prev = head or GENESIS_HASH
    row = AccountEventRow(
        occurred_at=occurred_at,
        actor=actor[:128],
        action=action,
        username=username[:256],
        detail_json=detail_json,
        prev_hash=prev,
        hash=account_event_hash(
            prev,
            occurred_at=occurred_at,
            actor=actor[:128],
            action=action,
            username=username[:256],
            detail_json=detail_json,
        ),
    )
    session.add(row)
    session.flush()
    return row


def verify_account_events(conn: Connection) -> tuple[int, list[str]]:
    """Recompute the account event chain: the number of events and the problems found.

    Each problem names the event's ``seq``: a hash that does not match its content (an edit), or
    a ``prev_hash`` that is not the previous event's hash (a removed or inserted event).
    """
    problems: list[str] = []
    prev = GENESIS_HASH
    count = 0
    for row in conn.execute(select(AccountEventRow).order_by(AccountEventRow.seq)):
        count += 1
        if row.prev_hash != prev:
            problems.append(
                f"account_event seq {row.seq}: prev_hash does not match the previous event's "
                "hash (an event was removed or inserted)"
            )
        expected = account_event_hash(
            row.prev_hash,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            username=row.username,
            detail_json=row.detail_json,
        )
        if expected != row.hash:
            problems.append(
                f"account_event seq {row.seq}: hash does not match its content (edited)"
            )
        prev = row.hash
    return count, problems
