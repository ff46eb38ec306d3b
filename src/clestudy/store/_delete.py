"""Soft delete and restore of records and subjects: the row stays, flagged, and the history says
who deleted it, when and why (agreed shapes, docs/architecture.md).

A deleted record or subject disappears from :meth:`Store.records` and :meth:`Store.subjects`;
its row keeps ``deleted = true`` and its newest audit event is the ``delete`` (``after`` holds the
whole state plus ``"deleted": true``), which ``audit verify`` checks. ``restore`` undoes it, again
with a reason. A locked record refuses both.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError, StaleVersionError
from clestudy.store._chain import lock_subjects
from clestudy.store._schema import RecordRow, SubjectRow
from clestudy.store._signatures_void import void_signatures_of_record, void_signatures_of_subject

if TYPE_CHECKING:
    from clestudy.store._service import RecordInput, RecordState, Store, SubjectState

__all__ = ["refuse_deleted", "set_record_deleted", "set_subject_deleted"]


def _need_reason(reason: str | None, what: str, deleted: bool) -> str:
    if not (reason and reason.strip()):
        verb = "deleting" if deleted else "restoring"
        raise InputError(f"{what}: {verb} needs a reason (--reason), kept in the audit trail")
    return reason


def _subject(store: Store, session: Session, subject_id: str) -> SubjectRow:
    row = store._subject_row(session, subject_id)
    if row is None:
        raise NotFoundError(f"subject '{subject_id}' is not enrolled in {store.protocol.id}")
    return row


def _flag_state(state: dict[str, Any], deleted: bool) -> dict[str, Any]:
    return {**state, "deleted": True} if deleted else state


def set_record_deleted(
    store: Store, item: RecordInput, *, actor: str, reason: str | None, deleted: bool
) -> RecordState:
    """Soft-delete (``deleted=True``) or restore one record, audited (see the module docstring).

    Raises
    ------
    InputError
        Without a reason or an actor, for a record already in that state, or a locked one.
    NotFoundError
        For an unknown subject or record.
    StaleVersionError
        When ``item.expected_version`` is given and is not the record's version.
    """
    from clestudy.store._service import record_entity_key

    instance = item.instance
    if not isinstance(instance, int):  # "next" names no saved record
        raise InputError(f"a delete or restore names a saved instance, not {instance!r}")
    suffix = f"#{instance}" if instance != 1 else ""
    where = f"record {item.subject_id}/{item.visit_id}/{item.form_id}{suffix}"
    reason = _need_reason(reason, where, deleted)
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [item.subject_id])
        subject = _subject(store, session, item.subject_id)
        row = session.scalars(
            select(RecordRow).where(
                RecordRow.subject_id == subject.id,
                RecordRow.visit_key == item.visit_id,
                RecordRow.form_key == item.form_id,
                RecordRow.instance == instance,
            )
        ).first()
        if row is None:
            raise NotFoundError(f"{where} does not exist")
        if row.deleted == deleted:
            raise InputError(f"{where} is {'already deleted' if deleted else 'not deleted'}")
        if row.status == "locked":
            raise InputError(f"{where} is locked; unlock it (with a reason) first")
        if item.expected_version is not None and item.expected_version != row.version:
            raise StaleVersionError(
                f"{where}: the change was made on version {item.expected_version} but the "
                f"record is now at version {row.version}; reload it and try again"
            )
        state = {
            "version": row.version,
            "status": row.status,
            "values": json.loads(row.values_json),
            "derived": store._derived_of(session, row.id),
        }
        before = _flag_state(state, row.deleted)
        row.deleted = deleted
        row.updated_at = store._now()
        row.updated_by = actor
        session.flush()  # bumps the version
        store._append_audit(
            session,
            actor=actor,
            action="delete" if deleted else "restore",
            entity_type="form_record",
            entity_key=record_entity_key(
                store.protocol.id, item.subject_id, item.visit_id, item.form_id, instance
            ),
            before=before,
            after=_flag_state({**state, "version": row.version}, deleted),
            reason=reason,
        )
        void_signatures_of_record(store, session, row, item.subject_id, deleted, actor)
        return store._state(session, row, item.subject_id)


def set_subject_deleted(
    store: Store, subject_id: str, *, actor: str, reason: str | None, deleted: bool
) -> SubjectState:
    """Soft-delete (``deleted=True``) or restore a subject, audited; its records are kept but
    hidden while it is deleted.

    Raises
    ------
    InputError
        Without a reason or an actor, or for a subject already in that state.
    NotFoundError
        For a subject that is not enrolled.
    """
    from clestudy.store._service import SubjectState

    reason = _need_reason(reason, f"subject {subject_id}", deleted)
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [subject_id])
        row = _subject(store, session, subject_id)
        if row.deleted == deleted:
            already = "already deleted" if deleted else "not deleted"
            raise InputError(f"subject {subject_id} is {already}")
        state = {"arm": row.arm, "site": row.site, "status": row.status}
        before = _flag_state(state, row.deleted)
        row.deleted = deleted
        session.flush()
        store._append_audit(
            session,
            actor=actor,
            action="delete" if deleted else "restore",
            entity_type="subject",
            entity_key=f"{store.protocol.id}/{subject_id}",
            before=before,
            after=_flag_state(state, deleted),
            reason=reason,
        )
        void_signatures_of_subject(store, session, row, deleted, actor)
        return SubjectState(subject_id, row.arm, row.site, row.status)


_LOADED_DELETED = "clestudy_loaded_deleted"


@event.listens_for(Session, "loaded_as_persistent")
def _note_deleted(session: Session, instance: object) -> None:
    """Keep every deleted subject or record row a session loads (the identity map holds only
    weak references), for :func:`refuse_deleted`."""
    if isinstance(instance, SubjectRow | RecordRow) and instance.deleted:
        session.info.setdefault(_LOADED_DELETED, []).append(instance)


def refuse_deleted(session: Session, study_pk: int) -> None:
    """Refuse a batch that saved to a deleted record or to a deleted subject's record.

    Called after the batch's records were saved and before the commit (which it prevents): every
    deleted subject or record row the batch loaded was noted as it loaded, so no query is needed.

    Raises
    ------
    InputError
        Naming the first such record or subject; restore it first.
    """
    rows = session.info.get(_LOADED_DELETED, [])
    for row in rows:
        if isinstance(row, SubjectRow) and row.study_id == study_pk:
            raise InputError(f"subject {row.subject_key} is deleted; restore it before saving")
    for row in rows:
        if isinstance(row, RecordRow) and row.study_id == study_pk:
            suffix = f"#{row.instance}" if row.instance != 1 else ""
            subject = session.get(SubjectRow, row.subject_id)  # only on the way to an error
            name = f"{subject.subject_key if subject else '?'}/{row.visit_key}/{row.form_key}"
            raise InputError(f"record {name}{suffix} is deleted; restore it before saving to it")
