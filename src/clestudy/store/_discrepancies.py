"""Discrepancies: the warning edit checks that fired on a record, open until resolved.

On every save that writes a record the store runs the protocol's edit checks
(:func:`clestudy.protocol.run_edit_checks`). An ``error`` refuses the save; each ``warning``
opens a discrepancy that the record carries until someone resolves it with a reason
(:meth:`Store.resolve_discrepancy`). A later save where the warning no longer fires resolves it
automatically; a resolved discrepancy whose warning fires again on different values is reopened.
Each change is audited: ``entity_type = "discrepancy"``, ``entity_key =
STUDY/SUBJECT/VISIT/FORM[#N]/CHECK_ID``, actions ``open``, ``resolve``, ``reopen``, ``after =
{"check", "severity", "fields", "message", "status", "resolution"}`` (docs/architecture.md,
"Agreed shapes").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError
from clestudy.protocol import EditFinding
from clestudy.store._chain import lock_subjects
from clestudy.store._rows import find_record_row, record_key
from clestudy.store._schema import DiscrepancyRow, RecordRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = [
    "DiscrepancyMixin",
    "DiscrepancyState",
    "audit_discrepancy",
    "event_state",
    "list_discrepancies",
    "resolve_discrepancy",
    "sync_discrepancies",
]


@dataclass(frozen=True)
class DiscrepancyState:
    """A discrepancy as stored: the record it belongs to, the check, and its status."""

    record: str
    check_id: str
    severity: str
    fields: tuple[str, ...]
    message: str
    status: str
    resolution: str | None
    opened_at: str
    updated_at: str
    updated_by: str


def _state(row: DiscrepancyRow, record: str) -> DiscrepancyState:
    return DiscrepancyState(
        record=record,
        check_id=row.check_id,
        severity=row.severity,
        fields=tuple(json.loads(row.fields_json)),
        message=row.message,
        status=row.status,
        resolution=row.resolution,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def event_state(row: DiscrepancyRow) -> dict[str, Any]:
    return {
        "check": row.check_id,
        "severity": row.severity,
        "fields": list(json.loads(row.fields_json)),
        "message": row.message,
        "status": row.status,
        "resolution": row.resolution,
    }


def audit_discrepancy(
    store: Store, session: Session, row: DiscrepancyRow, where: str, action: str,
    before: dict[str, Any] | None, actor: str, reason: str | None,
) -> None:  # fmt: skip
    store._append_audit(
        session,
        actor=actor,
        action=action,
        entity_type="discrepancy",
        entity_key=f"{store.protocol.id}/{where}/{row.check_id}",
        before=before,
        after=event_state(row),
        reason=reason,
    )


def sync_discrepancies(
    existing: dict[str, DiscrepancyRow], warnings: Sequence[EditFinding], *, now: str,
    actor: str, version: int,
) -> list[tuple[str, DiscrepancyRow, dict[str, Any] | None, str | None]]:  # fmt: skip
    """Open, reopen or auto-resolve a record's discrepancies (``existing``, by check id, updated
    in place) after a save that wrote it at ``version``.

    The rows are not in a session: the caller writes them (a new one has no ``id`` yet). Returns
    the audit events to append, in order: ``(action, discrepancy, before, reason)``.
    """
    events: list[tuple[str, DiscrepancyRow, dict[str, Any] | None, str | None]] = []
    fired = {f.check_id: f for f in warnings}
    for check_id, finding in fired.items():
        row = existing.get(check_id)
        if row is None:
            row = existing[check_id] = DiscrepancyRow(
                check_id=check_id, severity=finding.severity,
                fields_json=json.dumps(list(finding.fields)), message=finding.message,
                status="open", resolution=None, opened_at=now, updated_at=now, updated_by=actor,
            )  # fmt: skip
            events.append(("open", row, None, None))
        elif row.status == "resolved" and row.message != finding.message:
            before = event_state(row)
            row.status, row.resolution, row.message = "open", None, finding.message
            row.fields_json = json.dumps(list(finding.fields))
            row.updated_at, row.updated_by = now, actor
            events.append(("reopen", row, before, None))
    for check_id, row in list(existing.items()):
        if check_id in fired or row.status != "open":
            continue
        before = event_state(row)
        row.status = "resolved"
        row.resolution = f"the check no longer fires (record version {version})"
        row.updated_at, row.updated_by = now, actor
        events.append(("resolve", row, before, row.resolution))
    return events


def list_discrepancies(
    store: Store, *, status: str | None = None, subject_id: str | None = None
) -> list[DiscrepancyState]:
    """The study's discrepancies (optionally only ``open`` or ``resolved``, or one subject's)."""
    if status not in (None, "open", "resolved"):
        raise InputError(f"discrepancy status {status!r} is not 'open' or 'resolved'")
    with Session(store.engine) as session:
        query = (
            select(DiscrepancyRow, RecordRow, SubjectRow.subject_key)
            .join(RecordRow, DiscrepancyRow.record_id == RecordRow.id)
            .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
            .where(RecordRow.study_id == store.study_pk)
            .order_by(SubjectRow.id, RecordRow.id, DiscrepancyRow.id)
        )
        if status is not None:
            query = query.where(DiscrepancyRow.status == status)
        if subject_id is not None:
            query = query.where(SubjectRow.subject_key == subject_id)
        return [
            _state(d, record_key(key, r.visit_key, r.form_key, r.instance))
            for d, r, key in session.execute(query)
        ]


def resolve_discrepancy(
    store: Store, subject_id: str, visit_id: str, form_id: str, check_id: str, *,
    reason: str, actor: str, instance: int = 1,
) -> DiscrepancyState:  # fmt: skip
    """Resolve an open discrepancy with a reason (audited ``resolve``).

    Allowed on a locked record, like a query: resolving records a judgement about a value and
    changes none; a lock holds the data (docs/data-management.md, "Verification and locking").
    """
    where = record_key(subject_id, visit_id, form_id, instance)
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    if not (reason and reason.strip()):
        raise InputError(f"discrepancy {where}/{check_id}: resolving needs a reason")
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [subject_id])
        subject = store._subject_row(session, subject_id)
        record = (
            None
            if subject is None
            else find_record_row(session, subject.id, visit_id, form_id, instance)
        )
        row = (
            None
            if record is None
            else session.scalars(
                select(DiscrepancyRow).where(
                    DiscrepancyRow.record_id == record.id, DiscrepancyRow.check_id == check_id
                )
            ).first()
        )
        if row is None:
            raise NotFoundError(f"no discrepancy {check_id} on record {where}")
        if row.status != "open":
            raise InputError(f"discrepancy {where}/{check_id} is already resolved")
        before = event_state(row)
        row.status, row.resolution = "resolved", reason
        row.updated_at, row.updated_by = store._now(), actor
        session.flush()
        audit_discrepancy(store, session, row, where, "resolve", before, actor, reason)
        return _state(row, where)


class DiscrepancyMixin:
    """The discrepancy reads and resolution of :class:`~clestudy.store.Store`."""

    def discrepancies(
        self, *, status: str | None = None, subject_id: str | None = None
    ) -> list[DiscrepancyState]:
        """The study's discrepancies: all, or only ``"open"`` or ``"resolved"`` ones."""
        return list_discrepancies(cast("Store", self), status=status, subject_id=subject_id)

    def resolve_discrepancy(
        self, subject_id: str, visit_id: str, form_id: str, check_id: str, *, reason: str,
        actor: str, instance: int = 1,
    ) -> DiscrepancyState:  # fmt: skip
        """Resolve an open discrepancy with a reason (audited ``resolve``)."""
        return resolve_discrepancy(
            cast("Store", self), subject_id, visit_id, form_id, check_id, reason=reason,
            actor=actor, instance=instance,
        )  # fmt: skip
