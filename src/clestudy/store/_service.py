"""The one write path of clestudy: every change is validated, versioned and audited here.

In one database transaction, :meth:`Store.save_records`

1. validates each record against the protocol (subject, visit, form schedule, field values), with
   the edit semantics of :mod:`clestudy.store._edits` (patch by default, or replace);
2. refuses an edit of a locked record, and one whose expected version is not the record's current
   version (optimistic locking, a :class:`~clestudy.errors.StaleVersionError` naming the record
   and both versions);
3. sets the record status (:mod:`clestudy.store._status`): ``incomplete`` while a required field
   holds no value, else ``complete`` with the protocol's derived scores computed by
   :mod:`clestudy.instruments` and stored with the instrument version;
4. bumps the record version;
5. appends a hash-chained audit event (who, when, action, before, after, reason).

A batch is all or nothing: the first invalid record rolls the whole batch back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from clestudy.errors import InputError, StaleVersionError
from clestudy.protocol import Protocol
from clestudy.store._batch import RecordPreview, preview_record, save_batch
from clestudy.store._chain import PendingEvent, lock_subjects, queue_event, write_session
from clestudy.store._delete import set_record_deleted, set_subject_deleted
from clestudy.store._discrepancies import DiscrepancyMixin
from clestudy.store._edits import RecordInput, SaveMode
from clestudy.store._enrol import SubjectInput, check_enrolment, enrol_subjects
from clestudy.store._lock_bulk import LockingMixin
from clestudy.store._quality import QualityMixin
from clestudy.store._queries import QueryMixin
from clestudy.store._randomization import RandomizationMixin
from clestudy.store._rows import (
    RecordState,
    SubjectScope,
    SubjectState,
    derived_by_record,
    derived_of,
    record_entity_key,
    record_state,
)
from clestudy.store._schema import AuditRow, RecordRow, StudyRow, SubjectRow
from clestudy.store._signatures import SignatureMixin
from clestudy.store._snapshots import AmendmentMixin
from clestudy.store._status import StatusMixin

__all__ = [
    "RecordInput",
    "RecordState",
    "Store",
    "SubjectState",
    "record_entity_key",
    "utc_timestamp",
]

Clock = Callable[[], dt.datetime]


def utc_timestamp(moment: dt.datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    >>> utc_timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    '2026-01-02T03:04:05.000000Z'
    """
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Store(
    StatusMixin,
    DiscrepancyMixin,
    AmendmentMixin,
    QueryMixin,
    SignatureMixin,
    RandomizationMixin,
    LockingMixin,
    QualityMixin,
):
    """A study's data in one database. Create it with :func:`clestudy.store.open_store`."""

    engine: Engine
    protocol: Protocol
    study_pk: int
    clock: Clock = field(default=_system_clock)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and the audit append ---------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        # the audit module chains the events queued by _append_audit before the commit
        with write_session(self.engine, self.clock, global_lock=self.study_pk == 0) as session:
            yield session

    def _now(self) -> str:
        return utc_timestamp(self.clock())

    def _append_audit(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        entity_type: str,
        entity_key: str,
        before: Any,
        after: Any,
        reason: str | None,
    ) -> PendingEvent:
        return queue_event(
            session,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_key=entity_key,
            before=before,
            after=after,
            reason=reason,
        )

    # -- subjects -------------------------------------------------------------------------------

    def add_subject(
        self, subject_id: str, *, arm: str, site: str, actor: str, reason: str | None = None
    ) -> SubjectState:
        """Enrol a subject (audited). Arm and site must be the protocol's.

        In a randomized study (a protocol with a ``randomization`` section) the arm is left
        empty (``arm=""``): :meth:`randomize` assigns it.
        """
        subject = SubjectInput(subject_id, arm, site)
        check_enrolment(self.protocol, subject, by="at enrolment")  # before the transaction
        with self._write() as session:
            enrol_subjects(self, session, [subject], actor=actor, reason=reason, by="at enrolment")
        return SubjectState(subject_id, arm, site, "enrolled")

    def _subject_row(self, session: Session, subject_id: str) -> SubjectRow | None:
        return session.scalars(
            select(SubjectRow).where(
                SubjectRow.study_id == self.study_pk, SubjectRow.subject_key == subject_id
            )
        ).first()

    # -- records --------------------------------------------------------------------------------

    def save_record(
        self,
        subject_id: str,
        visit_id: str,
        form_id: str,
        values: dict[str, Any],
        *,
        actor: str,
        reason: str | None = None,
        expected_version: int | None = None,
        instance: int | Literal["next"] = 1,
        mode: SaveMode = "patch",
        scope: SubjectScope | None = None,
    ) -> RecordState:
        """Create (``expected_version=None``) or edit one record; see :meth:`save_records`.

        ``mode="patch"`` (default) keeps the stored value of every field absent from ``values``
        (``None`` clears a field); ``mode="replace"`` clears them.
        """
        item = RecordInput(subject_id, visit_id, form_id, values, instance, expected_version, mode)
        return self.save_records([item], actor=actor, reason=reason, scope=scope)[0]

    def save_records(
        self,
        records: Sequence[RecordInput],
        *,
        actor: str,
        reason: str | None = None,
        scope: SubjectScope | None = None,
    ) -> list[RecordState]:
        """Save a batch of records in one transaction (all or nothing).

        A record whose required fields hold values is ``complete`` and gets its derived scores; one
        that lacks any is saved as ``incomplete``, without derived scores. Editing a ``verified``
        record returns it to ``complete`` (or ``incomplete``); a ``locked`` record refuses the save.

        ``scope`` (a web request's user): a subject outside it -- deleted, or of another site --
        is refused as one never enrolled (:class:`~clestudy.store._rows.SubjectScope`), in the
        save's own read rather than a read of the subject before the transaction.

        Raises
        ------
        RecordValidationError, NotFoundError
            For a record that does not match the protocol, or a subject not enrolled (or outside
            ``scope``); nothing of the batch is saved.
        StaleVersionError
            When a record's ``expected_version`` is not its current version.
        RecordLockedError
            When a record is locked.
        """
        if not actor:
            raise InputError("every change needs an actor (who made it)")
        try:
            with self._write() as session:
                lock_subjects(session, self.protocol.id, [item.subject_id for item in records])
                return save_batch(self, session, records, actor, reason, scope=scope)
        except StaleDataError:
            raise StaleVersionError(
                "a record changed while this batch was being saved; reload and re-apply"
            ) from None

    def preview_record(self, record: RecordInput) -> RecordPreview:
        """What :meth:`save_records` would decide for ``record``, computed and written nowhere.

        The same validation, edit checks (with the subject's stored records as context) and
        derivation as a save; field problems and edit-check errors are returned rather than
        raised, so a data-entry page can show every one beside its field while the user types.
        Version and lock checks are the save's alone.

        Raises
        ------
        RecordValidationError
            When the visit, form or instance does not fit the protocol's schedule.
        NotFoundError
            When the subject is not enrolled.
        """
        with Session(self.engine) as session:
            try:
                return preview_record(self, session, record)
            finally:
                session.rollback()

    def _derived_of(self, session: Session, record_pk: int) -> dict[str, Any]:
        return derived_of(session, record_pk)

    def _state(self, session: Session, row: RecordRow, subject_id: str) -> RecordState:
        return record_state(session, row, subject_id)

    # -- reads ----------------------------------------------------------------------------------

    def subjects(self) -> list[SubjectState]:
        """Every enrolled subject, in enrolment order."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(SubjectRow)
                .where(SubjectRow.study_id == self.study_pk, SubjectRow.deleted.is_(False))
                .order_by(SubjectRow.id)
            )
            return [SubjectState(r.subject_key, r.arm, r.site, r.status) for r in rows]

    def subject(self, subject_id: str) -> SubjectState | None:
        """One enrolled subject, or ``None`` when there is none of that id (or it was deleted)."""
        with Session(self.engine) as session:
            row = session.scalars(
                select(SubjectRow).where(
                    SubjectRow.study_id == self.study_pk,
                    SubjectRow.subject_key == subject_id,
                    SubjectRow.deleted.is_(False),
                )
            ).first()
            return (
                None
                if row is None
                else SubjectState(row.subject_key, row.arm, row.site, row.status)
            )

    def records(
        self,
        *,
        form_id: str | None = None,
        visit_id: str | None = None,
        subject_id: str | None = None,
    ) -> list[RecordState]:
        """Current records of this study, optionally of one form, visit and/or subject.

        Two queries whatever the number of records: the record rows, and their derived scores.
        """
        with Session(self.engine) as session:
            query = (
                select(RecordRow.id)
                .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
                .where(RecordRow.study_id == self.study_pk)
                .where(RecordRow.deleted.is_(False), SubjectRow.deleted.is_(False))
            )
            if form_id is not None:
                query = query.where(RecordRow.form_key == form_id)
            if visit_id is not None:
                query = query.where(RecordRow.visit_key == visit_id)
            if subject_id is not None:
                query = query.where(SubjectRow.subject_key == subject_id)
            derived = derived_by_record(session, query)
            rows = session.execute(
                query.with_only_columns(RecordRow, SubjectRow.subject_key).order_by(
                    SubjectRow.id, RecordRow.id
                )
            )
            return [record_state(session, row, key, derived.get(row.id, {})) for row, key in rows]

    def audit_count(self) -> int:
        """Number of audit events in the database (every study and chain)."""
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(AuditRow)) or 0)

    # -- soft delete and restore (the audit module's; logic in _delete.py) ---------------------

    def delete_record(
        self,
        subject_id: str,
        visit_id: str,
        form_id: str,
        *,
        actor: str,
        reason: str,
        instance: int = 1,
        expected_version: int | None = None,
    ) -> RecordState:
        """Soft-delete a record with a reason (audited; hidden from reads, kept in history)."""
        item = RecordInput(subject_id, visit_id, form_id, {}, instance, expected_version)
        return set_record_deleted(self, item, actor=actor, reason=reason, deleted=True)

    def restore_record(
        self,
        subject_id: str,
        visit_id: str,
        form_id: str,
        *,
        actor: str,
        reason: str,
        instance: int = 1,
        expected_version: int | None = None,
    ) -> RecordState:
        """Restore a soft-deleted record with a reason (audited)."""
        item = RecordInput(subject_id, visit_id, form_id, {}, instance, expected_version)
        return set_record_deleted(self, item, actor=actor, reason=reason, deleted=False)

    def delete_subject(self, subject_id: str, *, actor: str, reason: str) -> SubjectState:
        """Soft-delete a subject with a reason (audited); its records are hidden, not erased."""
        return set_subject_deleted(self, subject_id, actor=actor, reason=reason, deleted=True)

    def restore_subject(self, subject_id: str, *, actor: str, reason: str) -> SubjectState:
        """Restore a soft-deleted subject with a reason (audited)."""
        return set_subject_deleted(self, subject_id, actor=actor, reason=reason, deleted=False)


def study_row(session: Session, study_key: str) -> StudyRow | None:
    """The study row with this key, or ``None``."""
    return session.scalars(select(StudyRow).where(StudyRow.study_key == study_key)).first()
