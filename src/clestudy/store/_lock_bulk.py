"""Bulk locks and unlocks: many forms, visits or subjects in one transaction; the store's mixin.

A selection (:class:`LockSelection`: subjects, sites, visits, forms, instance) picks the targets of
one level (:mod:`clestudy.store._locking` describes the levels and the events). Everything the
selection names is changed in one transaction, or nothing is: an unknown subject, visit or form,
or any failure on the way, rolls the whole bulk action back. Targets already in the requested
state, and forms held by a lock of their visit or subject, are skipped and reported with why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError
from clestudy.store._locking import (
    LEVELS,
    Level,
    _lock_key,
    _lock_state,
    _locks_of,
    lock_level_of,
    verify_fields,
)
from clestudy.store._rows import record_key
from clestudy.store._schema import DataLockRow, RecordRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.store._lock_status import LockStatusRow, RecordReview
    from clestudy.store._service import Store
    from clestudy.store._status import StatusAction

__all__ = ["LockChange", "LockSelection", "LockingMixin", "set_locks"]


@dataclass(frozen=True)
class LockSelection:
    """Which subjects, visits, forms and instances a bulk lock or unlock applies to.

    ``None`` means every one (within the study); ``sites`` limits the subjects to those sites
    (the web layer passes a user's sites). An empty selection matches the whole study.
    """

    subjects: tuple[str, ...] | None = None
    sites: tuple[str, ...] | None = None
    visits: tuple[str, ...] | None = None
    forms: tuple[str, ...] | None = None
    instance: int | None = None


@dataclass(frozen=True)
class LockChange:
    """What a bulk lock or unlock did: the keys it changed and those it skipped (with why)."""

    level: Level
    locked: bool
    changed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


def _selected_subjects(
    store: Store, session: Session, selection: LockSelection
) -> list[SubjectRow]:
    query = select(SubjectRow).where(
        SubjectRow.study_id == store.study_pk, SubjectRow.deleted.is_(False)
    )
    if selection.subjects is not None:
        query = query.where(SubjectRow.subject_key.in_(selection.subjects))
    if selection.sites is not None:
        query = query.where(SubjectRow.site.in_(selection.sites))
    found = list(session.scalars(query.order_by(SubjectRow.id)))
    if selection.subjects is not None:
        missing = sorted(set(selection.subjects) - {s.subject_key for s in found})
        if missing:
            raise NotFoundError(
                f"subject {', '.join(missing)}: not enrolled in {store.protocol.id}"
            )
    return found


def _check_selection(store: Store, level: Level, selection: LockSelection) -> None:
    visits = {v.id for v in store.protocol.visits}
    forms = {f.id for f in store.protocol.forms}
    for visit in selection.visits or ():
        if visit not in visits:
            raise InputError(f"visit {visit!r} is not in the protocol of {store.protocol.id}")
    for form in selection.forms or ():
        if form not in forms:
            raise InputError(f"form {form!r} is not in the protocol of {store.protocol.id}")
    if level == "subject" and (selection.visits or selection.forms or selection.instance):
        raise InputError(
            "a subject lock applies to whole subjects: give no visit, form or instance"
        )
    if level == "visit" and (selection.forms or selection.instance):
        raise InputError("a visit lock applies to whole visits: give no form or instance")
    if level == "visit" and not selection.visits:
        raise InputError("a visit lock needs the visit(s) it applies to")


def set_locks(
    store: Store, selection: LockSelection, *, level: Level, locked: bool, actor: str,
    reason: str | None,
) -> LockChange:  # fmt: skip
    """Lock or unlock every selected form, visit or subject in one transaction (all or nothing).

    Targets already in the requested state, and forms locked by their visit or subject, are
    skipped and listed with why. Unlocking needs a reason.
    """
    from clestudy.store._chain import lock_subjects
    from clestudy.store._status import change_status_in

    if level not in LEVELS:
        raise InputError(f"level {level!r}: use one of {list(LEVELS)}")
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    if not locked and not (reason and reason.strip()):
        raise InputError(f"unlocking ({level} level) needs a reason, kept in the audit trail")
    _check_selection(store, level, selection)
    study = store.protocol.id
    changed: list[str] = []
    skipped: list[tuple[str, str]] = []
    with store._write() as session:
        if selection.subjects is not None:
            lock_subjects(session, study, list(selection.subjects))
        subjects = _selected_subjects(store, session, selection)
        lock_subjects(session, study, [s.subject_key for s in subjects])
        locks = _locks_of(session, [s.id for s in subjects])
        if level == "form":
            by_pk = {s.id: s for s in subjects}
            query = select(RecordRow).where(
                RecordRow.subject_id.in_(list(by_pk)), RecordRow.deleted.is_(False)
            )
            if selection.visits is not None:
                query = query.where(RecordRow.visit_key.in_(selection.visits))
            if selection.forms is not None:
                query = query.where(RecordRow.form_key.in_(selection.forms))
            if selection.instance is not None:
                query = query.where(RecordRow.instance == selection.instance)
            for record in session.scalars(query.order_by(RecordRow.subject_id, RecordRow.id)):
                subject = by_pk[record.subject_id].subject_key
                key = record_key(subject, record.visit_key, record.form_key, record.instance)
                outer, _ = lock_level_of(locks, record.subject_id, record.visit_key, None)
                if outer is not None:
                    skipped.append((key, f"locked at {outer} level"))
                elif (record.status == "locked") == locked:
                    skipped.append((key, "already locked" if locked else "not locked"))
                else:
                    action: StatusAction = "lock" if locked else "unlock"
                    change_status_in(store, session, record, subject, action, actor, reason)
                    changed.append(key)
        else:
            visits = selection.visits if level == "visit" else ("",)
            existing = {
                (r.subject_id, r.visit_key): r
                for r in session.scalars(
                    select(DataLockRow).where(DataLockRow.subject_id.in_([s.id for s in subjects]))
                )
            }
            for subject_row in subjects:
                for visit in visits or ():
                    key = _lock_key(study, subject_row.subject_key, visit)
                    shown = key.removeprefix(f"{study}/")
                    row = existing.get((subject_row.id, visit))
                    if (row is not None and row.locked) == locked:
                        skipped.append((shown, "already locked" if locked else "not locked"))
                        continue
                    before = None if row is None else _lock_state(row, visit)
                    now = store._now()
                    if row is None:
                        row = DataLockRow(subject_id=subject_row.id, visit_key=visit,
                                          locked=locked, updated_at=now, updated_by=actor)  # fmt: skip
                        session.add(row)
                    else:
                        row.locked, row.updated_at, row.updated_by = locked, now, actor
                    store._append_audit(
                        session, actor=actor, action="lock" if locked else "unlock",
                        entity_type="lock", entity_key=key, before=before,
                        after=_lock_state(row, visit, locked), reason=reason,
                    )  # fmt: skip
                    changed.append(shown)
            session.flush()
        return LockChange(level, locked, tuple(changed), tuple(skipped))


class LockingMixin:
    """Field-level verification and bulk locks of :class:`~clestudy.store.Store`."""

    def verify_fields(
        self, subject_id: str, visit_id: str, form_id: str, fields: Sequence[str], *,
        expected_version: int, actor: str, instance: int = 1, reason: str | None = None,
    ) -> tuple[str, ...]:  # fmt: skip
        """Mark fields of a record source-verified (audited); see :func:`verify_fields`."""
        return verify_fields(
            cast("Store", self), subject_id, visit_id, form_id, fields, instance=instance,
            expected_version=expected_version, actor=actor, reason=reason,
        )  # fmt: skip

    def lock(
        self, selection: LockSelection, *, level: Level, actor: str, reason: str | None = None
    ) -> LockChange:
        """Lock the selected forms, visits or subjects in one transaction (audited)."""
        return set_locks(
            cast("Store", self), selection, level=level, locked=True, actor=actor, reason=reason
        )

    def unlock(
        self, selection: LockSelection, *, level: Level, actor: str, reason: str
    ) -> LockChange:
        """Unlock the selected forms, visits or subjects in one transaction (reason required)."""
        return set_locks(
            cast("Store", self), selection, level=level, locked=False, actor=actor, reason=reason
        )

    def lock_status(self, **filters: Any) -> list[LockStatusRow]:
        """The lock and verification listing (:func:`clestudy.store._lock_status.lock_status`):
        keyword filters ``sites``, ``subjects``, ``visits``, ``forms``, ``statuses``."""
        from clestudy.store._lock_status import lock_status

        return lock_status(cast("Store", self), **filters)

    def record_review(
        self, subject_id: str, visit_id: str, form_id: str, instance: int = 1
    ) -> RecordReview:
        """A record's verified fields and the lock holding it (a ``RecordReview``)."""
        from clestudy.store._lock_status import record_review

        return record_review(cast("Store", self), subject_id, visit_id, form_id, instance)
