"""The one write path of clestudy: every change is validated, versioned and audited here.

In one database transaction, :meth:`Store.save_records`

1. validates each record against the protocol (subject, visit, form schedule, field values);
2. refuses an edit whose expected version is not the record's current version (optimistic
   locking, a :class:`~clestudy.errors.StaleVersionError` naming the record and both versions);
3. computes the protocol's derived scores with :mod:`clestudy.instruments` and stores them with the
   instrument version;
4. bumps the record version;
5. appends a hash-chained audit event (who, when, action, before, after, reason).

A batch is all or nothing: the first invalid record rolls the whole batch back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from clestudy.errors import (
    InputError,
    NotFoundError,
    RecordValidationError,
    StaleVersionError,
)
from clestudy.instruments import INSTRUMENT_FIELDS, derive
from clestudy.protocol import Protocol, StoredValue, validate_values
from clestudy.store._audit import canonical_json
from clestudy.store._chain import PendingEvent, lock_subjects, queue_event, write_session
from clestudy.store._delete import refuse_deleted, set_record_deleted, set_subject_deleted
from clestudy.store._schema import AuditRow, DerivedRow, RecordRow, StudyRow, SubjectRow

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


@dataclass(frozen=True)
class RecordInput:
    """One record to save. ``expected_version`` is ``None`` to create, the loaded version to edit."""

    subject_id: str
    visit_id: str
    form_id: str
    values: dict[str, Any]
    instance: int = 1
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordState:
    """A record as stored: values, derived scores (``{score_id: {...}}``) and version."""

    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    values: dict[str, StoredValue]
    derived: dict[str, dict[str, Any]]
    version: int
    status: str
    updated_at: str
    updated_by: str

    @property
    def key(self) -> str:
        """``SUBJECT/VISIT/FORM[#INSTANCE]``, the record's name in messages and the audit trail."""
        suffix = f"#{self.instance}" if self.instance != 1 else ""
        return f"{self.subject_id}/{self.visit_id}/{self.form_id}{suffix}"


@dataclass(frozen=True)
class SubjectState:
    """An enrolled subject."""

    subject_id: str
    arm: str
    site: str
    status: str


def _record_key(subject: str, visit: str, form: str, instance: int) -> str:
    suffix = f"#{instance}" if instance != 1 else ""
    return f"{subject}/{visit}/{form}{suffix}"


def record_entity_key(study: str, subject: str, visit: str, form: str, instance: int) -> str:
    """The audit trail's entity key of a form record, e.g. ``study/P01/week_0/clasi``."""
    return f"{study}/{_record_key(subject, visit, form, instance)}"


@dataclass
class Store:
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
        """Enrol a subject (audited). Arm and site must be the protocol's."""
        arms = [a.id for a in self.protocol.arms]
        sites = [s.id for s in self.protocol.sites]
        if not subject_id or not subject_id.replace("-", "").replace("_", "").isalnum():
            raise InputError(f"subject id {subject_id!r}: use letters, digits, '-' and '_'")
        if arm not in arms:
            raise InputError(f"subject {subject_id}: arm {arm!r} is not one of {arms}")
        if site not in sites:
            raise InputError(f"subject {subject_id}: site {site!r} is not one of {sites}")
        with self._write() as session:
            if self._subject_row(session, subject_id) is not None:
                raise InputError(f"subject {subject_id} is already enrolled in {self.protocol.id}")
            row = SubjectRow(
                study_id=self.study_pk,
                subject_key=subject_id,
                arm=arm,
                site=site,
                status="enrolled",
                created_at=self._now(),
            )
            session.add(row)
            session.flush()
            self._append_audit(
                session,
                actor=actor,
                action="enroll",
                entity_type="subject",
                entity_key=f"{self.protocol.id}/{subject_id}",
                before=None,
                after={"arm": arm, "site": site, "status": "enrolled"},
                reason=reason,
            )
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
        instance: int = 1,
    ) -> RecordState:
        """Create (``expected_version=None``) or edit one record; see :meth:`save_records`."""
        item = RecordInput(subject_id, visit_id, form_id, values, instance, expected_version)
        return self.save_records([item], actor=actor, reason=reason)[0]

    def save_records(
        self, records: Sequence[RecordInput], *, actor: str, reason: str | None = None
    ) -> list[RecordState]:
        """Save a batch of records in one transaction (all or nothing).

        Raises
        ------
        RecordValidationError, NotFoundError
            For a record that does not match the protocol (nothing of the batch is saved).
        StaleVersionError
            When a record's ``expected_version`` is not its current version.
        """
        if not actor:
            raise InputError("every change needs an actor (who made it)")
        try:
            with self._write() as session:
                lock_subjects(session, self.protocol.id, [item.subject_id for item in records])
                saved = [self._save_one(session, item, actor, reason) for item in records]
                refuse_deleted(session, self.study_pk)
                return saved
        except StaleDataError:
            raise StaleVersionError(
                "a record changed while this batch was being saved; reload and re-apply"
            ) from None

    def _check_schedule(self, item: RecordInput, where: str) -> None:
        visit = self.protocol.visit(item.visit_id)
        if visit is None:
            known = [v.id for v in self.protocol.visits]
            raise NotFoundError(f"{where}: unknown visit '{item.visit_id}' (visits: {known})")
        form = self.protocol.form(item.form_id)
        if form is None:
            known = [f.id for f in self.protocol.forms]
            raise NotFoundError(f"{where}: unknown form '{item.form_id}' (forms: {known})")
        if item.form_id not in visit.forms:
            raise RecordValidationError(
                f"{where}: form '{item.form_id}' is not collected at visit '{item.visit_id}' "
                f"(collected: {list(visit.forms)})"
            )
        if item.instance < 1 or (item.instance != 1 and not form.repeating):
            raise RecordValidationError(
                f"{where}: instance {item.instance} is not allowed "
                f"({'1 or more' if form.repeating else 'form does not repeat: only 1'})"
            )

    def _derive(self, form_id: str, values: dict[str, StoredValue], where: str) -> dict[str, Any]:
        derived: dict[str, Any] = {}
        for spec in self.protocol.derived_for_form(form_id):
            inputs = {k: values[k] for k in INSTRUMENT_FIELDS[spec.instrument] if k in values}
            try:
                score = derive(spec.instrument, inputs, self.protocol.settings)
            except InputError as exc:
                raise RecordValidationError(f"{where}: {exc} (derived score {spec.id})") from None
            derived[spec.id] = {
                "instrument": score.instrument,
                "version": score.version,
                "values": dict(score.values),
            }
        return derived

    def _save_one(
        self, session: Session, item: RecordInput, actor: str, reason: str | None
    ) -> RecordState:
        where = _record_key(item.subject_id, item.visit_id, item.form_id, item.instance)
        self._check_schedule(item, where)
        form = self.protocol.form(item.form_id)
        assert form is not None  # checked by _check_schedule
        subject = self._subject_row(session, item.subject_id)
        if subject is None:
            raise NotFoundError(
                f"{where}: subject '{item.subject_id}' is not enrolled in {self.protocol.id}"
            )
        values = validate_values(form, item.values, where=where)
        derived = self._derive(item.form_id, values, where)
        row = session.scalars(
            select(RecordRow).where(
                RecordRow.subject_id == subject.id,
                RecordRow.visit_key == item.visit_id,
                RecordRow.form_key == item.form_id,
                RecordRow.instance == item.instance,
            )
        ).first()
        now = self._now()
        if row is None:
            if item.expected_version is not None:
                raise NotFoundError(
                    f"record {where} does not exist (the edit expected version "
                    f"{item.expected_version})"
                )
            row = RecordRow(
                study_id=self.study_pk,
                subject_id=subject.id,
                visit_key=item.visit_id,
                form_key=item.form_id,
                instance=item.instance,
                values_json=canonical_json(values),
                status="complete",
                created_at=now,
                updated_at=now,
                updated_by=actor,
            )
            session.add(row)
            session.flush()
            before = None
            action = "create"
        else:
            if item.expected_version is None:
                raise StaleVersionError(
                    f"record {where} already exists at version {row.version}; an edit must give "
                    "the version it was made on"
                )
            if item.expected_version != row.version:
                raise StaleVersionError(
                    f"record {where}: the edit was made on version {item.expected_version} but "
                    f"the record is now at version {row.version}; reload it and re-apply the edit"
                )
            before = {
                "version": row.version,
                "values": json.loads(row.values_json),
                "derived": self._derived_of(session, row.id),
            }
            if before["values"] == values:
                return self._state(session, row, item.subject_id)
            required = bool(self.protocol.settings.get("reason_for_change_required", True))
            if required and not (reason and reason.strip()):
                raise InputError(
                    f"record {where}: a reason for change is required to edit a saved record"
                )
            row.values_json = canonical_json(values)
            row.updated_at = now
            row.updated_by = actor
            session.flush()  # bumps row.version (version_id_col) or raises StaleDataError
            action = "update"
        self._store_derived(session, row.id, derived, now)
        self._append_audit(
            session,
            actor=actor,
            action=action,
            entity_type="form_record",
            entity_key=record_entity_key(
                self.protocol.id, item.subject_id, item.visit_id, item.form_id, item.instance
            ),
            before=before,
            after={"version": row.version, "values": values, "derived": derived},
            reason=reason,
        )
        return self._state(session, row, item.subject_id)

    def _derived_of(self, session: Session, record_pk: int) -> dict[str, Any]:
        rows = session.scalars(select(DerivedRow).where(DerivedRow.record_id == record_pk))
        return {
            r.score_key: {
                "instrument": r.instrument,
                "version": r.instrument_version,
                "values": json.loads(r.values_json),
            }
            for r in rows
        }

    def _store_derived(
        self, session: Session, record_pk: int, derived: dict[str, Any], now: str
    ) -> None:
        existing = {
            r.score_key: r
            for r in session.scalars(select(DerivedRow).where(DerivedRow.record_id == record_pk))
        }
        for score_key, score in derived.items():
            row = existing.get(score_key)
            if row is None:
                row = DerivedRow(record_id=record_pk, score_key=score_key)
                session.add(row)
            row.instrument = score["instrument"]
            row.instrument_version = score["version"]
            row.values_json = json.dumps(score["values"], sort_keys=True, allow_nan=False)
            row.computed_at = now
        session.flush()

    def _state(self, session: Session, row: RecordRow, subject_id: str) -> RecordState:
        return RecordState(
            subject_id=subject_id,
            visit_id=row.visit_key,
            form_id=row.form_key,
            instance=row.instance,
            values=json.loads(row.values_json),
            derived=self._derived_of(session, row.id),
            version=row.version,
            status=row.status,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )

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

    def records(
        self, *, form_id: str | None = None, visit_id: str | None = None
    ) -> list[RecordState]:
        """Current records of this study, optionally of one form and/or visit."""
        with Session(self.engine) as session:
            query = (
                select(RecordRow, SubjectRow.subject_key)
                .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
                .where(RecordRow.study_id == self.study_pk)
                .where(RecordRow.deleted.is_(False), SubjectRow.deleted.is_(False))
                .order_by(SubjectRow.id, RecordRow.id)
            )
            if form_id is not None:
                query = query.where(RecordRow.form_key == form_id)
            if visit_id is not None:
                query = query.where(RecordRow.visit_key == visit_id)
            return [self._state(session, row, key) for row, key in session.execute(query)]

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
