"""Verify the audit trail: every chain, the stored form of each event, and every live row.

All reads happen in one read-only snapshot (:func:`~clestudy.store._engine.snapshot_reader`), so
writers committing meanwhile never cause a false alarm. The checks, each naming what it found:

1. **The chains.** In every chain, positions run 1, 2, 3, ...; each event's ``prev_hash`` is the
   previous event's hash (the first event's is the chain's genesis, which ties a subject chain to
   its enrolment event in the study chain); each hash is recomputed (SHA-256, or HMAC-SHA256 with
   the key an event names); event times never go backwards; and each event sits in the chain its
   entity belongs to. Editing, deleting, reordering or re-timing any event is detected.
2. **The stored text.** ``before_json`` and ``after_json`` must be the canonical JSON clestudy
   writes; text that parses to the same values but is not canonical was written by something else.
3. **Keys and anchors** (optional). With the audit key, every event must be keyed with it, so a
   forged event or a rechained history is detected; with an anchor (``clestudy audit anchor``),
   every chain must still extend the head it recorded.
4. **Every live row** of every table against its entity's newest event (``_verify_state.py``),
   and every entity with events must still have its row.
5. **The account event trail** (``_accounts_events.py``): one chain of its own, each hash
   recomputed and each ``prev_hash`` the previous event's hash.

What it cannot detect without a key or an anchor: events appended with recomputed hashes, a whole
history rewritten consistently, and events removed from the end of a chain together with the
state they produced (docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import AuditChainError, ClestudyError
from clestudy.store._accounts_events import verify_account_events
from clestudy.store._audit import (
    GENESIS_HASH,
    LEGACY_CHAIN,
    AuditEntry,
    AuditKey,
    canonical_json,
    chain_genesis,
    chain_hash,
    chain_of,
)
from clestudy.store._engine import snapshot_reader
from clestudy.store._open import engine_existing
from clestudy.store._schema import AuditRow
from clestudy.store._verify_state import check_state

__all__ = ["AuditVerification", "ChainHead", "combined_head", "verify_audit"]


@dataclass(frozen=True)
class ChainHead:
    """A chain's length and newest hash."""

    count: int
    hash: str


def combined_head(heads: dict[str, ChainHead]) -> str:
    """One hash naming the heads of every chain: SHA-256 of their canonical JSON."""
    text = canonical_json({c: [h.count, h.hash] for c, h in sorted(heads.items())})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    """Result of :func:`verify_audit`.

    ``head_hash`` is the newest event's hash (``--expect-head`` looks for it later);
    ``first_broken_seq`` names the first event that fails its chain or its stored form;
    ``mismatched_record`` the first row (``mismatched_kind``: form record, subject, ...) that
    disagrees with its audit trail; ``unkeyed_checks`` counts keyed events whose hash could not be
    recomputed because no key was given.
    """

    events: int
    head_hash: str
    first_broken_seq: int | None = None
    problem: str | None = None
    mismatched_record: str | None = None
    mismatched_kind: str = "form record"
    heads: dict[str, ChainHead] = field(default_factory=dict)
    unkeyed_checks: int = 0
    account_events: int = 0

    @property
    def ok(self) -> bool:
        """True when every chain, every event's stored form and every row verify."""
        return self.first_broken_seq is None and self.problem is None

    def describe(self) -> str:
        """One line: what verified, or the first problem found."""
        if self.first_broken_seq is not None:
            return f"audit event {self.first_broken_seq}: {self.problem}"
        if self.mismatched_record is not None:
            return f"{self.mismatched_kind} {self.mismatched_record}: {self.problem}"
        if self.problem is not None:
            return str(self.problem)
        note = (
            f" ({self.unkeyed_checks} keyed event hashes not recomputed: no audit key given)"
            if self.unkeyed_checks
            else ""
        )
        return (
            f"audit trail OK: {self.events} events in {len(self.heads)} chains verified, "
            f"head hash {self.head_hash}{note}"
        )


def verify_audit(
    url: str,
    *,
    key: AuditKey | None = None,
    anchor: dict[str, ChainHead] | None = None,
    raise_on_error: bool = False,
) -> AuditVerification:
    """Verify the audit trail of the clestudy database at ``url`` (see the module docstring).

    Parameters
    ----------
    key
        The audit key: every event must then be keyed with it and its HMAC must match.
    anchor
        Chain heads recorded earlier (:func:`clestudy.store.read_anchor`): every chain must
        still extend them.

    Raises
    ------
    AuditChainError
        When ``raise_on_error`` and a check fails (naming the event or row).
    NotFoundError
        When ``url`` holds no clestudy database (nothing is created there).
    """
    engine = engine_existing(url)
    try:
        with snapshot_reader(engine) as conn, Session(bind=conn) as session:
            events = list(session.scalars(select(AuditRow).order_by(AuditRow.seq)))
            result = _verify_chains(events, key)
            if result.ok and anchor is not None:
                result = _check_anchor(result, events, anchor)
            if result.ok:
                found = check_state(session, events)
                if found is not None:
                    kind, name, problem = found
                    result = _replace(result, problem, mismatched_record=name, mismatched_kind=kind)
            if result.ok:
                count, problems = verify_account_events(conn)
                result = AuditVerification(**{**result.__dict__, "account_events": count})
                if problems:
                    result = _replace(result, problems[0])
    finally:
        engine.dispose()
    if raise_on_error and not result.ok:
        raise AuditChainError(result.describe())
    return result


def _replace(result: AuditVerification, problem: str, **changes: Any) -> AuditVerification:
    return AuditVerification(
        **{**result.__dict__, "problem": problem, **changes}  # frozen: build a new one
    )


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_key=row.entity_key,
        before=_load(row.before_json),
        after=_load(row.after_json),
        reason=row.reason,
        format_version=row.format_version,
        chain=row.chain,
        chain_seq=row.chain_seq,
        key_id=row.key_id,
    )


def _non_canonical(row: AuditRow, entry: AuditEntry) -> str | None:
    for column, text, value in (
        ("before_json", row.before_json, entry.before),
        ("after_json", row.after_json, entry.after),
    ):
        if text is not None and canonical_json(value) != text:
            return f"{column} is not the canonical JSON clestudy writes (edited outside clestudy)"
    return None


def _hash_problem(row: AuditRow, entry: AuditEntry, key: AuditKey | None) -> str | None:
    """``None`` when the hash verifies, ``""`` when it cannot be checked, else the problem."""
    if row.key_id is None:
        if key is not None:
            return (
                f"written without the audit key {key.key_id}: forged by someone without the "
                "key, or written before the key was configured"
            )
        use = None
    elif key is None:
        return ""
    elif row.key_id != key.key_id:
        return f"hashed with key {row.key_id}, not with the key given ({key.key_id})"
    else:
        use = key
    if chain_hash(row.prev_hash, entry, use) != row.hash:
        return "stored hash does not match the event's content"
    return None


def _event_problem(
    row: AuditRow, position: int, prev_hash: str, prev_time: str, key: AuditKey | None
) -> tuple[str | None, bool]:
    """The problem of one event in its chain, and whether its hash went unchecked."""
    legacy = row.chain == LEGACY_CHAIN
    if row.chain_seq != position:
        return f"sequence gap: expected event {position}, found {row.chain_seq}", False
    if legacy != (row.format_version == 1):
        return f"format {row.format_version} event in chain '{row.chain}'", False
    if row.prev_hash != prev_hash:
        return "prev_hash does not match the previous event's hash", False
    if row.occurred_at < prev_time:
        return (
            f"stamped {row.occurred_at}, earlier than the event before it ({prev_time}): "
            "re-timed or reordered"
        ), False
    if not legacy and chain_of(row.entity_type, row.entity_key, row.action) != row.chain:
        return f"{row.entity_type} {row.entity_key} does not belong in chain '{row.chain}'", False
    try:
        entry = _entry(row)
        problem = _hash_problem(row, entry, key)
        if problem:
            return problem, False
        return _non_canonical(row, entry), problem == ""
    except (ValueError, ClestudyError) as exc:
        return f"event content cannot be read ({exc})", False


def _by_chain(events: Iterable[AuditRow]) -> dict[str, list[AuditRow]]:
    chains: dict[str, list[AuditRow]] = {}
    for row in events:
        chains.setdefault(row.chain, []).append(row)
    for rows in chains.values():
        rows.sort(key=lambda r: (r.chain_seq, r.seq))
    return chains


def _verify_chains(events: Sequence[AuditRow], key: AuditKey | None) -> AuditVerification:
    enrolled = {
        r.entity_key: r.hash for r in events if r.entity_type == "subject" and r.action == "enroll"
    }
    heads: dict[str, ChainHead] = {}
    broken: list[tuple[int, str]] = []
    unchecked = 0
    for chain, rows in _by_chain(events).items():
        prev_hash = chain_genesis(chain, enrolled.get(chain) if "/" in chain else None)
        prev_time = ""
        for position, row in enumerate(rows, start=1):
            problem, skipped = _event_problem(row, position, prev_hash, prev_time, key)
            if problem is not None:
                broken.append((row.seq, problem))
                break
            unchecked += skipped
            prev_hash, prev_time = row.hash, row.occurred_at
            heads[chain] = ChainHead(position, row.hash)
    newest = max(events, key=lambda r: r.seq).hash if events else GENESIS_HASH
    result = AuditVerification(len(events), newest, heads=heads, unkeyed_checks=unchecked)
    if broken:
        seq, problem = min(broken)
        return _replace(result, problem, first_broken_seq=seq)
    return result


def _check_anchor(
    result: AuditVerification, events: Sequence[AuditRow], anchor: dict[str, ChainHead]
) -> AuditVerification:
    at = {(r.chain, r.chain_seq): r.hash for r in events}
    for chain, head in sorted(anchor.items()):
        if at.get((chain, head.count)) == head.hash:
            continue
        label = f"chain '{chain}'" if chain else "the legacy chain"
        current = result.heads.get(chain)
        length = 0 if current is None else current.count
        return _replace(
            result,
            f"anchor: {label} no longer extends the anchored head (event {head.count}, hash "
            f"{head.hash}); it now has {length} events and that head is not in it: events were "
            "deleted or rewritten (the chain cannot tell which)",
        )
    return result
