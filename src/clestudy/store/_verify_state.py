"""Check every live row of every table against its entity's newest audit event.

Each table the store writes has one small checker: a :class:`RowChecker` that lists its rows as
:class:`LiveRow` (the entity key, the state the newest event's ``after`` must hold, the actor it
must name, and the soft-delete flag). The generic comparison then reports, first found:

* a row no event records (written outside clestudy);
* a field that differs from the newest event (edited outside clestudy, or newest events deleted);
* a row whose ``deleted`` flag disagrees with the newest event;
* an entity whose events exist but whose row is gone (deleted outside clestudy).

Adding a table means adding one checker to :data:`CHECKERS` (docs/security.md says how).
The study's current protocol (its JSON, version and current-snapshot pointer) is checked against
its newest ``study``/``protocol`` event, and every ``protocol_snapshot`` row (each version the
study ever ran on) against its own ``register``/``amend`` event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.randomization import list_sha256
from clestudy.store._audit import LEGACY_CHAIN, hashable, snapshot_sha256
from clestudy.store._quality import exclusion_state, run_entity_key, run_state
from clestudy.store._query_hooks import query_rows, thread_rows
from clestudy.store._randomization import allocation_rows
from clestudy.store._schema import (
    AllocationRow,
    AuditRow,
    DataLockRow,
    DerivedRow,
    DiscrepancyRow,
    FieldVerificationRow,
    ProtocolSnapshotRow,
    QualityExclusionRow,
    QualityRunRow,
    RecordRow,
    StudyRow,
    SubjectRow,
)
from clestudy.store._service import record_entity_key
from clestudy.store._signatures_void import signature_rows, signed_data_rows

__all__ = ["CHECKERS", "LiveRow", "RowChecker", "check_state"]

Found = tuple[str, str, str]  # (kind, entity key, problem)


@dataclass(frozen=True)
class LiveRow:
    """One row as its newest audit event must describe it."""

    key: str
    state: dict[str, Any]
    actor: str | None = None
    deleted: bool = False
    #: fields compared only when the newest event records them
    optional: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class RowChecker:
    """How to list one table's rows for :func:`check_state`."""

    kind: str
    entity_type: str
    rows: Callable[[Session], Iterator[LiveRow]]


def _subjects(session: Session) -> Iterator[LiveRow]:
    query = select(StudyRow.study_key, SubjectRow).join(
        StudyRow, SubjectRow.study_id == StudyRow.id
    )
    for study_key, row in session.execute(query.order_by(SubjectRow.id)):
        state = {"arm": row.arm, "site": row.site, "status": row.status}
        yield LiveRow(f"{study_key}/{row.subject_key}", state, deleted=row.deleted)


def _records(session: Session) -> Iterator[LiveRow]:
    derived: dict[int, dict[str, Any]] = {}
    for d in session.scalars(select(DerivedRow)):
        derived.setdefault(d.record_id, {})[d.score_key] = {
            "instrument": d.instrument,
            "version": d.instrument_version,
            "values": json.loads(d.values_json),
        }
    query = (
        select(StudyRow.study_key, SubjectRow.subject_key, RecordRow)
        .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
        .join(StudyRow, RecordRow.study_id == StudyRow.id)
        .order_by(RecordRow.id)
    )
    for study_key, subject_key, row in session.execute(query):
        key = record_entity_key(study_key, subject_key, row.visit_key, row.form_key, row.instance)
        state = {
            "version": row.version,
            "values": json.loads(row.values_json),
            "derived": derived.get(row.id, {}),
            "status": row.status,
        }
        yield LiveRow(key, state, row.updated_by, row.deleted, frozenset({"status"}))


def _per_record(
    session: Session, table: type[DiscrepancyRow] | type[FieldVerificationRow]
) -> Iterator[tuple[str, Any]]:
    """Each row of a table that hangs off a form record, with its record's entity key."""
    query = (
        select(StudyRow.study_key, SubjectRow.subject_key, RecordRow, table)
        .join(RecordRow, table.record_id == RecordRow.id)
        .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
        .join(StudyRow, RecordRow.study_id == StudyRow.id)
        .order_by(table.id)
    )
    for study_key, subject_key, record, row in session.execute(query):
        key = record_entity_key(
            study_key, subject_key, record.visit_key, record.form_key, record.instance
        )
        yield key, row


def _discrepancies(session: Session) -> Iterator[LiveRow]:
    for key, row in _per_record(session, DiscrepancyRow):
        state = {
            "check": row.check_id,
            "severity": row.severity,
            "fields": json.loads(row.fields_json),
            "message": row.message,
            "status": row.status,
            "resolution": row.resolution,
        }
        yield LiveRow(f"{key}/{row.check_id}", state, row.updated_by)


def _allocation_lists(session: Session) -> Iterator[LiveRow]:
    # one entity per study with a list: its length and hash (the arms of unused rows included)
    for study in session.scalars(select(StudyRow).order_by(StudyRow.id)):
        rows = allocation_rows(session, study.id)
        if rows:
            state = {"rows": len(rows), "sha256": list_sha256(rows)}
            yield LiveRow(study.study_key, state)


def _randomizations(session: Session) -> Iterator[LiveRow]:
    query = (
        select(StudyRow.study_key, SubjectRow.subject_key, AllocationRow)
        .join(SubjectRow, AllocationRow.subject_id == SubjectRow.id)
        .join(StudyRow, AllocationRow.study_id == StudyRow.id)
        .order_by(AllocationRow.id)
    )
    for study_key, subject_key, row in session.execute(query):
        state = {"stratum": row.stratum, "sequence": row.sequence, "arm": row.arm}
        yield LiveRow(f"{study_key}/{subject_key}/randomization", state, row.used_by)


def _verifications(session: Session) -> Iterator[LiveRow]:
    for key, row in _per_record(session, FieldVerificationRow):
        yield LiveRow(key, {"fields": json.loads(row.fields_json)}, row.updated_by)


def _locks(session: Session) -> Iterator[LiveRow]:
    query = (
        select(StudyRow.study_key, SubjectRow.subject_key, DataLockRow)
        .join(SubjectRow, DataLockRow.subject_id == SubjectRow.id)
        .join(StudyRow, SubjectRow.study_id == StudyRow.id)
        .order_by(DataLockRow.id)
    )
    for study_key, subject_key, row in session.execute(query):
        key = f"{study_key}/{subject_key}" + (f"/{row.visit_key}" if row.visit_key else "")
        state = {
            "level": "visit" if row.visit_key else "subject",
            "visit": row.visit_key or None,
            "locked": row.locked,
        }
        yield LiveRow(key, state, row.updated_by)


# -- data quality (store/_quality.py) --------------------------------------------------------


def _quality_runs(session: Session) -> Iterator[LiveRow]:
    query = select(StudyRow.study_key, QualityRunRow).join(
        StudyRow, QualityRunRow.study_id == StudyRow.id
    )
    for study_key, row in session.execute(query.order_by(QualityRunRow.id)):
        yield LiveRow(run_entity_key(study_key, row.id), run_state(row), row.run_by)


def _quality_exclusions(session: Session) -> Iterator[LiveRow]:
    query = select(StudyRow.study_key, QualityExclusionRow).join(
        StudyRow, QualityExclusionRow.study_id == StudyRow.id
    )
    for study_key, row in session.execute(query.order_by(QualityExclusionRow.id)):
        yield LiveRow(f"{study_key}/{row.finding_key}", exclusion_state(row), row.updated_by)


#: One checker per table of entities with events of their own (subject, form record, ...).
CHECKERS: list[RowChecker] = [
    RowChecker("subject", "subject", _subjects),
    RowChecker("form record", "form_record", _records),
    RowChecker("discrepancy", "discrepancy", _discrepancies),
    RowChecker("signature", "signature", signature_rows),
    RowChecker("signed data", "signature", signed_data_rows),
    # randomization (store/_randomization.py)
    RowChecker("allocation list", "allocation_table", _allocation_lists),
    RowChecker("randomization", "randomization", _randomizations),
    # verification and locking (migration 0006)
    RowChecker("verification", "verification", _verifications),
    RowChecker("lock", "lock", _locks),
    RowChecker("query", "query", query_rows),
    RowChecker("query thread", "query", thread_rows),
    RowChecker("data-quality run", "dq_run", _quality_runs),
    RowChecker("data-quality exclusion", "dq_exclusion", _quality_exclusions),
]


def _field_problem(name: str, row_value: Any, event: AuditRow, after: dict[str, Any]) -> str:
    if name == "version":
        return (
            f"the row is at version {row_value} but its newest audit event ({event.seq}) "
            f"records version {after.get('version')}: audit events deleted, or the row edited "
            "outside clestudy"
        )
    if name == "values":
        return (
            f"the row's values differ from those its newest audit event ({event.seq}) records: "
            "edited outside clestudy"
        )
    return (
        f"the row's {name} {json.dumps(row_value)[:80]} differs from the {name} its newest "
        f"audit event ({event.seq}) records ({json.dumps(after.get(name))[:80]}): edited "
        "outside clestudy, or audit events deleted"
    )


def _row_problem(live: LiveRow, event: AuditRow | None) -> str | None:
    if event is None:
        return "no audit event records it: written outside clestudy"
    after = json.loads(event.after_json) if event.after_json else {}
    if not isinstance(after, dict):
        return f"its newest audit event ({event.seq}) records no state"
    deleted = after.get("deleted") is True
    if deleted != live.deleted:
        said = "deleted" if live.deleted else "live"
        return (
            f"the row is {said} but its newest audit event ({event.seq}, {event.action}) says "
            f"{'deleted' if deleted else 'live'}: changed outside clestudy"
        )
    for name, value in live.state.items():
        if name in live.optional and name not in after:
            continue
        if hashable(value) != after.get(name):
            return _field_problem(name, value, event, after)
    if live.actor is not None and live.actor != event.actor:
        return (
            f"the row names {live.actor!r} as its last editor but its newest audit event "
            f"({event.seq}) was made by {event.actor!r}: edited outside clestudy"
        )
    return None


def _history_order(row: AuditRow) -> tuple[int, int, int]:
    """An entity's events in the order they happened: its legacy events, then its study-chain
    events (an enrolment), then its subject chain, each in chain order."""
    rank = 0 if row.chain == LEGACY_CHAIN else (2 if "/" in row.chain else 1)
    return rank, row.chain_seq, row.seq


def _newest(events: Sequence[AuditRow]) -> dict[tuple[str, str], AuditRow]:
    newest: dict[tuple[str, str], AuditRow] = {}
    for row in sorted(events, key=_history_order):
        newest[(row.entity_type, row.entity_key)] = row
    return newest


def _check_table(
    session: Session, checker: RowChecker, newest: dict[tuple[str, str], AuditRow]
) -> Found | None:
    seen: set[str] = set()
    for live in checker.rows(session):
        seen.add(live.key)
        problem = _row_problem(live, newest.get((checker.entity_type, live.key)))
        if problem is not None:
            return checker.kind, live.key, problem
    for (entity_type, key), event in newest.items():
        if entity_type == checker.entity_type and key not in seen:
            return (
                checker.kind,
                key,
                f"its audit events (newest {event.seq}, {event.action}) record it but the row "
                "is missing: deleted outside clestudy",
            )
    return None


def _check_studies(session: Session, events: Sequence[AuditRow]) -> Found | None:
    snapshots: dict[str, tuple[int, dict[str, Any]]] = {}
    legacy: set[str] = set()  # registered before migration 0003: no snapshot hash was recorded
    for row in sorted(events, key=_history_order):
        if row.entity_type in ("study", "protocol") and row.after_json:
            after = json.loads(row.after_json)
            if isinstance(after, dict) and "sha256" in after:
                snapshots[row.entity_key.split("@")[0]] = (row.seq, after)
            elif row.format_version == 1 and row.action == "register":
                legacy.add(row.entity_key)
    for study in session.scalars(select(StudyRow).order_by(StudyRow.id)):
        seq, after = snapshots.get(study.study_key, (0, {}))
        if not after and study.study_key in legacy:
            continue
        if not after:
            return "study", study.study_key, "no audit event records its protocol snapshot"
        if after["sha256"] != snapshot_sha256(study.protocol_json):
            return (
                "study",
                study.study_key,
                f"the stored protocol snapshot differs from the one its newest protocol event "
                f"({seq}) records (SHA-256): edited outside clestudy",
            )
        version = after.get("version")
        if version is not None and study.protocol_version != version:
            return (
                "study",
                study.study_key,
                f"its protocol version {study.protocol_version} differs from the version "
                f"{version} its newest protocol event ({seq}) records: edited outside clestudy",
            )
        current = (
            None
            if study.current_snapshot_id is None
            else session.get(ProtocolSnapshotRow, study.current_snapshot_id)
        )
        if version is not None and (current is None or current.version != version):
            named = "missing" if current is None else f"version {current.version}"
            return (
                "study",
                study.study_key,
                f"its current protocol snapshot is {named} but its newest protocol event "
                f"({seq}) records version {version}: edited outside clestudy",
            )
    return None


#: Who :mod:`migration 0002 <clestudy.store.migrations>` names as the author of the snapshots it
#: backfilled for studies registered before protocol events recorded a snapshot hash.
_BACKFILL_AUTHOR = "migration 0002"


def _check_snapshots(
    session: Session, events: Sequence[AuditRow], newest: dict[tuple[str, str], AuditRow]
) -> Found | None:
    """Every ``protocol_snapshot`` row (each version a study ever ran on, the ones
    ``report --as-of`` reads) against its own ``register``/``amend`` event (``STUDY@VERSION``):
    its recomputed SHA-256, its version and its author. A row no event records, and an event
    whose row is gone, are reported as for any other table."""
    legacy = {
        row.entity_key
        for row in events
        if row.entity_type == "study" and row.format_version == 1 and row.action == "register"
    }
    query = select(StudyRow.study_key, ProtocolSnapshotRow).join(
        StudyRow, ProtocolSnapshotRow.study_id == StudyRow.id
    )
    rows: list[LiveRow] = []
    for study_key, row in session.execute(query.order_by(ProtocolSnapshotRow.id)):
        key = f"{study_key}@{row.version}"
        if (
            ("protocol", key) not in newest
            and study_key in legacy
            and row.created_by == _BACKFILL_AUTHOR
        ):
            continue  # backfilled for a study registered before snapshot hashes were recorded
        content = snapshot_sha256(row.protocol_json)
        # the stored column must agree too: a state that cannot match reports either edit
        sha = content if row.sha256 == content else f"{content} (stored column: {row.sha256})"
        rows.append(LiveRow(key, {"version": row.version, "sha256": sha}, row.created_by))
    checker = RowChecker("protocol snapshot", "protocol", lambda _: iter(rows))
    return _check_table(session, checker, newest)


def check_state(session: Session, events: Sequence[AuditRow]) -> Found | None:
    """The first row that disagrees with its audit trail, as ``(kind, key, problem)``."""
    found = _check_studies(session, events)
    newest = _newest(events)
    if found is None:
        found = _check_snapshots(session, events, newest)
    for checker in CHECKERS:
        if found is not None:
            break
        found = _check_table(session, checker, newest)
    return found
