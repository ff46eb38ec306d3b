"""Append audit events: queue them during a write, chain them in one pass at its end.

:meth:`Store._append_audit` only queues an event on the session. When the write transaction's
body has finished, :func:`flush_events` chains every queued event at once:

1. on PostgreSQL, take a transaction-scoped advisory lock per chain touched, in a fixed order
   (writers to different subjects never wait for each other; two writers to one subject take
   turns, so its chain never forks -- the unique ``(chain, chain_seq)`` index is the backstop);
2. read the heads of those chains in one query (a save has read its subjects' heads already,
   under their locks, with its rows: :func:`prime_heads`), and stamp every event with one time
   from the store's clock, refusing a time earlier than a chain's newest event (times never go
   backwards);
3. hash them in order and insert them with one ``executemany``; the database numbers them
   (``seq``: SQLite's rowid, PostgreSQL's ``clestudy_audit_seq``), so no global counter is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from clestudy.errors import ClestudyError, StaleVersionError
from clestudy.store._audit import (
    AUDIT_FORMAT_VERSION,
    AuditEntry,
    AuditKey,
    chain_genesis,
    chain_of,
    entry_json,
    format2_text,
    load_audit_key,
    plain_json,
    text_hash,
)
from clestudy.store._engine import (
    AUDIT_LOCK_KEY,
    insert_tuples_through_driver,
    is_postgres,
    restore_page_cache,
)
from clestudy.store._schema import AuditRow, Base

__all__ = [
    "PendingEvent",
    "flush_events",
    "lock_subjects",
    "prime_heads",
    "queue_event",
    "write_session",
]

_QUEUE = "clestudy_audit_queue"
_LOCKED = "clestudy_audit_locked"
_PRIMED = "clestudy_audit_primed"
#: Chains per head query (SQLite allows 32,766 bound parameters; two per chain here).
_CHUNK = 500


class PendingEvent(NamedTuple):
    """An audit event queued in a write transaction, chained when the transaction ends.

    ``before_json`` and ``after_json`` are the canonical texts of the states
    (:func:`~clestudy.store._audit.plain_json`, ``"null"`` for ``None``), encoded once when the
    event is queued; ``before`` and ``after`` are the states as given. A named tuple: an import
    queues one per record, and a tuple is made in a fraction of a frozen dataclass's time.
    """

    chain: str
    actor: str
    action: str
    entity_type: str
    entity_key: str
    before: Any
    after: Any
    reason: str | None
    before_json: str
    after_json: str


def queue_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_key: str,
    before: Any,
    after: Any,
    reason: str | None,
    after_json: str | None = None,
) -> PendingEvent:
    """Queue one event on ``session``; it is chained and written before the commit.

    ``after_json``: ``plain_json(after)`` when the caller has it already
    (:func:`~clestudy.store._audit.plain_json_with`), else encoded here.
    """
    event = PendingEvent(  # by position: a named tuple made from keywords costs twice as much
        chain_of(entity_type, entity_key, action), actor, action, entity_type, entity_key,
        before, after, reason, plain_json(before),
        plain_json(after) if after_json is None else after_json,
    )  # fmt: skip
    session.info.setdefault(_QUEUE, []).append(event)
    return event


@contextmanager
def write_session(
    engine: Engine, clock: Callable[[], dt.datetime], *, global_lock: bool = False
) -> Iterator[Session]:
    """A write transaction whose queued audit events are chained and inserted before it commits.

    ``global_lock`` serialises the transaction with every other one that asks for it (used while
    a study is being registered). A unique-key conflict with a concurrent writer becomes a
    :class:`~clestudy.errors.StaleVersionError`.
    """
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            if global_lock and is_postgres(engine):
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
            try:
                yield session
                flush_events(session, clock)
            except BaseException:
                # a connection the failure broke cannot set its cache back (the pool discards
                # it): the failure itself is the error to report, not that
                with suppress(DBAPIError):
                    restore_page_cache(session)
                raise
            restore_page_cache(session)  # widened by a bulk write (an import)
    except IntegrityError as exc:
        raise StaleVersionError(
            "a concurrent write saved the same row first; reload and retry "
            f"({str(exc.orig).splitlines()[0]})"
        ) from None


def _lock_chains(session: Session, chains: Sequence[str]) -> None:
    held: set[str] = session.info.setdefault(_LOCKED, set())
    chains = [c for c in chains if c not in held]
    if not chains:
        return
    held.update(chains)
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:k, h) FROM "
            "(SELECT DISTINCT hashtext(c) AS h FROM unnest(CAST(:chains AS text[])) AS c "
            "ORDER BY h) AS ordered"
        ),
        {"k": AUDIT_LOCK_KEY, "chains": list(chains)},
    )


def lock_subjects(session: Session, study_id: str, subject_ids: Sequence[str]) -> None:
    """Take the subjects' chain locks now, before their rows are read (PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` already serialises writers).

    A writer then reads the state the previous writer of the subject committed, so a stale edit
    is refused with both versions named instead of failing at its ``UPDATE``.
    """
    if subject_ids and is_postgres(session.get_bind()):
        _lock_chains(session, sorted({f"{study_id}/{s}" for s in subject_ids}))


_NEWEST = (
    select(AuditRow.chain, func.max(AuditRow.chain_seq))
    .where(AuditRow.chain.in_(bindparam("chains", expanding=True)))
    .group_by(AuditRow.chain)
)
_HEADS = select(AuditRow.chain, AuditRow.chain_seq, AuditRow.hash, AuditRow.occurred_at).where(
    tuple_(AuditRow.chain, AuditRow.chain_seq).in_(_NEWEST)
)
_ENROLMENTS = (
    select(AuditRow.entity_key, AuditRow.hash)
    .where(
        AuditRow.entity_type == "subject",
        AuditRow.action == "enroll",
        AuditRow.entity_key.in_(bindparam("keys", expanding=True)),
    )
    .order_by(AuditRow.seq)
)


_HEAD = (
    select(AuditRow.chain, AuditRow.chain_seq, AuditRow.hash, AuditRow.occurred_at)
    .where(AuditRow.chain == bindparam("chain"))
    .order_by(AuditRow.chain_seq.desc())
    .limit(1)
)
_INSERT_EVENTS = insert(Base.metadata.tables["audit_event"])


def _heads(conn: Connection, chains: Sequence[str]) -> dict[str, tuple[int, str, str]]:
    """``{chain: (chain_seq, hash, occurred_at)}`` of each chain's newest event.

    One chain (a single save) is read by ``=``, whose SQL is cached whole; more by an ``IN``
    list, which is rendered on every execution.
    """
    if len(chains) == 1:
        return {c: (n, h, t) for c, n, h, t in conn.execute(_HEAD, {"chain": chains[0]})}
    heads: dict[str, tuple[int, str, str]] = {}
    for start in range(0, len(chains), _CHUNK):
        rows = conn.execute(_HEADS, {"chains": list(chains[start : start + _CHUNK])})
        heads.update({c: (n, h, t) for c, n, h, t in rows})
    return heads


def _enrol_hashes(conn: Connection, subject_keys: Sequence[str]) -> dict[str, str]:
    """The hash of each subject's newest enrolment event (a subject chain's anchor)."""
    found: dict[str, str] = {}
    for start in range(0, len(subject_keys), _CHUNK):
        rows = conn.execute(_ENROLMENTS, {"keys": list(subject_keys[start : start + _CHUNK])})
        found.update({key: digest for key, digest in rows})
    return found


@dataclass
class _Primed:
    """Chain heads read early in the transaction, under the chains' locks (:func:`prime_heads`)."""

    chains: set[str]
    heads: dict[str, tuple[int, str, str]]
    enrolled: dict[str, str]


def prime_heads(
    session: Session,
    chains: Sequence[str],
    heads: dict[str, tuple[int, str, str]],
    enrolled: dict[str, str],
) -> None:
    """Keep the heads of subject ``chains`` that a save read together with its rows, so that
    :func:`flush_events` does not read them again (one query fewer per save).

    ``heads`` is ``{chain: (chain_seq, hash, occurred_at)}`` of those of ``chains`` that have
    events, ``enrolled`` ``{chain: hash}`` of their subjects' newest enrolment events. Only a
    head read while no other writer can extend its chain is kept: on PostgreSQL a chain whose
    lock this transaction holds (:func:`lock_subjects` before the read), on SQLite any (the
    transaction began ``IMMEDIATE``). Nothing else writes audit rows in the transaction before
    :func:`flush_events`, so the heads are still the heads then.
    """
    if is_postgres(session.get_bind()):
        held: set[str] = session.info.get(_LOCKED, set())
        chains = [c for c in chains if c in held]
    if not chains:
        return
    primed: _Primed = session.info.setdefault(_PRIMED, _Primed(set(), {}, {}))
    primed.chains.update(chains)
    primed.heads.update({c: heads[c] for c in chains if c in heads})
    primed.enrolled.update({c: enrolled[c] for c in chains if c in enrolled})


def flush_events(session: Session, clock: Callable[[], dt.datetime]) -> None:
    """Chain and insert the events queued on ``session`` (see the module docstring).

    Raises
    ------
    ClestudyError
        When the store's clock reads earlier than the newest event of a chain written to.
    """
    pending: list[PendingEvent] = session.info.pop(_QUEUE, [])
    primed: _Primed = session.info.pop(_PRIMED, None) or _Primed(set(), {}, {})
    if not pending:
        return
    chains = sorted({e.chain for e in pending})
    if is_postgres(session.get_bind()):
        _lock_chains(session, chains)
    conn = session.connection()
    unread = [c for c in chains if c not in primed.chains]
    heads = {c: primed.heads[c] for c in chains if c in primed.heads}
    if unread:
        heads.update(_heads(conn, unread))
    now = clock().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for chain, (_, _, newest) in heads.items():
        if now < newest:
            raise ClestudyError(
                f"audit: the store clock reads {now}, earlier than the newest event of chain "
                f"'{chain}' ({newest}); event times never go backwards -- check the clock"
            )
    new_chains = [c for c in chains if c not in heads and "/" in c]
    enrolled = {c: primed.enrolled[c] for c in new_chains if c in primed.enrolled}
    unknown = [c for c in new_chains if c not in primed.chains]
    if unknown:
        enrolled.update(_enrol_hashes(conn, unknown))
    rows = _chain_rows(pending, heads, enrolled, now)
    # seq is the database's: SQLite's rowid, PostgreSQL's clestudy_audit_seq (migration 0003);
    # format 2 does not hash it, so no global counter is read or locked
    _insert_events(conn, rows)


#: The columns of an inserted event, in the order of :func:`_chain_rows`' tuples.
_EVENT_COLUMNS = (
    "format_version", "occurred_at", "actor", "action", "entity_type", "entity_key",
    "before_json", "after_json", "reason", "prev_hash", "hash", "chain", "chain_seq", "key_id",
)  # fmt: skip


def _insert_events(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert the chained events: on SQLite straight through the driver's ``executemany`` (the
    rows hold only text, integers and nulls, stored as SQLAlchemy would bind them, without its
    per-row parameter processing: a tenth of a large import's CPU); elsewhere through
    SQLAlchemy, whose PostgreSQL dialect batches the rows into multi-row ``INSERT``."""
    if is_postgres(conn):
        conn.execute(_INSERT_EVENTS, [dict(zip(_EVENT_COLUMNS, row, strict=True)) for row in rows])
    else:
        insert_tuples_through_driver(conn, "audit_event", _EVENT_COLUMNS, rows)


def _chain_rows(
    pending: Sequence[PendingEvent],
    heads: dict[str, tuple[int, str, str]],
    enrolled: dict[str, str],
    now: str,
) -> list[tuple[Any, ...]]:
    """The events' rows (:data:`_EVENT_COLUMNS`), each hashed onto its chain's head."""
    key: AuditKey | None = load_audit_key()
    key_id = None if key is None else key.key_id
    rows: list[tuple[Any, ...]] = []
    for event in pending:
        chain = event.chain
        if chain in heads:
            position, prev_hash, _ = heads[chain]
        else:
            position, prev_hash = 0, chain_genesis(chain, enrolled.get(chain))
        position += 1
        before_json, after_json = event.before_json, event.after_json  # encoded once, queued
        text = format2_text(
            now, event.actor, event.action, event.entity_type, event.entity_key, chain,
            position, key_id, event.reason, before_json, after_json,
        )  # fmt: skip
        if text is None:  # a member that is not a plain string: the entry's general text
            text = entry_json(_entry(event, now, position, key_id), before_json, after_json)
        digest = text_hash(prev_hash, text.encode("utf-8"), key)
        heads[chain] = (position, digest, now)
        if event.entity_type == "subject" and event.action == "enroll":
            enrolled[event.entity_key] = digest
        rows.append((
            AUDIT_FORMAT_VERSION, now, event.actor, event.action, event.entity_type,
            event.entity_key, None if event.before is None else before_json,
            None if event.after is None else after_json, event.reason, prev_hash, digest,
            chain, position, key_id,
        ))  # fmt: skip
    return rows


def _entry(event: PendingEvent, now: str, position: int, key_id: str | None) -> AuditEntry:
    return AuditEntry(
        seq=0,  # not hashed in format 2
        occurred_at=now,
        actor=event.actor,
        action=event.action,
        entity_type=event.entity_type,
        entity_key=event.entity_key,
        before=event.before,
        after=event.after,
        reason=event.reason,
        format_version=AUDIT_FORMAT_VERSION,
        chain=event.chain,
        chain_seq=position,
        key_id=key_id,
    )
