"""Verify the audit trail: the hash chain, the stored form of each event, and the current state.

Three checks, in order, each naming what it found first:

1. **The chain.** Every event's hash is recomputed from the first one (SHA-256 over the previous
   hash and the event's canonical JSON), so editing any column of any event is detected.
2. **The stored text.** ``before_json`` and ``after_json`` are written as canonical JSON; text that
   parses to the same values but is not canonical (re-spaced, re-ordered keys) was written by
   something other than clestudy.
3. **The current state.** Each form record's row must equal what its newest audit event says it
   became (version and values). This catches what a hash chain alone cannot: a row edited
   directly in the database, and the newest events of a record deleted from the end of the chain
   (triggers refuse DELETE, but a database owner can drop them).

Deleting the newest events of the whole chain leaves a shorter, valid chain; only a head hash
recorded elsewhere can show that. ``clestudy audit verify`` prints the head hash for that purpose
and ``--expect-head`` compares against a recorded one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import AuditChainError, ClestudyError
from clestudy.store._audit import GENESIS_HASH, AuditEntry, canonical_json, chain_hash
from clestudy.store._open import engine_existing
from clestudy.store._schema import AuditRow, RecordRow, StudyRow, SubjectRow
from clestudy.store._service import record_entity_key

__all__ = ["AuditVerification", "verify_audit"]


@dataclass(frozen=True)
class AuditVerification:
    """Result of :func:`verify_audit`.

    ``first_broken_seq`` names the first event that fails the chain or its stored form;
    ``mismatched_record`` the first form record whose row disagrees with its audit trail.
    """

    events: int
    head_hash: str
    first_broken_seq: int | None = None
    problem: str | None = None
    mismatched_record: str | None = None

    @property
    def ok(self) -> bool:
        """True when the chain, every event's stored form and every record's state verify."""
        return self.first_broken_seq is None and self.mismatched_record is None

    def describe(self) -> str:
        """One line: what verified, or the first problem found."""
        if self.first_broken_seq is not None:
            return f"audit event {self.first_broken_seq}: {self.problem}"
        if self.mismatched_record is not None:
            return f"form record {self.mismatched_record}: {self.problem}"
        return f"audit trail OK: {self.events} events verified, head hash {self.head_hash}"


def verify_audit(url: str, *, raise_on_error: bool = False) -> AuditVerification:
    """Verify the audit trail of the clestudy database at ``url`` (see the module docstring).

    Raises
    ------
    AuditChainError
        When ``raise_on_error`` and a check fails (naming the event or record).
    NotFoundError
        When ``url`` holds no clestudy database (nothing is created there).
    """
    engine = engine_existing(url)
    try:
        with Session(engine) as session:
            result = _verify_chain(session)
            if result.ok:
                result = _verify_state(session, result)
    finally:
        engine.dispose()
    if raise_on_error and not result.ok:
        raise AuditChainError(result.describe())
    return result


def _non_canonical(row: AuditRow, entry: AuditEntry) -> str | None:
    for column, text, value in (
        ("before_json", row.before_json, entry.before),
        ("after_json", row.after_json, entry.after),
    ):
        if text is not None and canonical_json(value) != text:
            return f"{column} is not the canonical JSON clestudy writes (edited outside clestudy)"
    return None


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _verify_chain(session: Session) -> AuditVerification:
    prev_hash = GENESIS_HASH
    count = 0
    for row in session.scalars(select(AuditRow).order_by(AuditRow.seq)):
        problem = None
        if row.seq != count + 1:
            problem = f"sequence gap: expected event {count + 1}, found {row.seq}"
        elif row.prev_hash != prev_hash:
            problem = "prev_hash does not match the previous event's hash"
        else:
            try:
                entry = AuditEntry(
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
                )
                if chain_hash(prev_hash, entry) != row.hash:
                    problem = "stored hash does not match the event's content"
                else:
                    problem = _non_canonical(row, entry)
            except (ValueError, ClestudyError) as exc:
                problem = f"event content cannot be read ({exc})"
        if problem is not None:
            return AuditVerification(count, prev_hash, row.seq, problem)
        prev_hash = row.hash
        count += 1
    return AuditVerification(count, prev_hash)


def _verify_state(session: Session, chain: AuditVerification) -> AuditVerification:
    latest: dict[str, tuple[int, Any]] = {}
    for seq, key, after in session.execute(
        select(AuditRow.seq, AuditRow.entity_key, AuditRow.after_json)
        .where(AuditRow.entity_type == "form_record")
        .order_by(AuditRow.seq)
    ):
        latest[key] = (seq, _load(after))
    rows = session.execute(
        select(StudyRow.study_key, SubjectRow.subject_key, RecordRow)
        .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
        .join(StudyRow, RecordRow.study_id == StudyRow.id)
        .order_by(RecordRow.id)
    )
    for study_key, subject_key, record in rows:
        key = record_entity_key(
            study_key, subject_key, record.visit_key, record.form_key, record.instance
        )
        seq, after = latest.get(key, (0, None))
        if not isinstance(after, dict):
            problem = "no audit event records it: written outside clestudy"
        elif after.get("version") != record.version:
            problem = (
                f"the row is at version {record.version} but its newest audit event ({seq}) "
                f"records version {after.get('version')}: audit events deleted, or the row "
                "edited outside clestudy"
            )
        elif after.get("values") != json.loads(record.values_json):
            problem = (
                f"the row's values differ from those its newest audit event ({seq}) records: "
                "edited outside clestudy"
            )
        else:
            continue
        return AuditVerification(
            chain.events, chain.head_hash, problem=problem, mismatched_record=key
        )
    return chain
