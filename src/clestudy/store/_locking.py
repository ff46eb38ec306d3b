"""Field-level source-data verification and locks at the level of a visit or a whole subject.

Verification (SDV)
    A monitor marks fields of a form record as source-verified (:meth:`Store.verify_fields`), or
    the whole form (:meth:`Store.verify_record`, which marks every field and sets the record's
    status to ``verified``). The marks live in ``field_verification`` (one row per record, the
    sorted list of verified fields). Any later change of a verified value removes that field's
    mark in the same transaction as the change, and the record leaves ``verified`` (the save path
    already returns it to ``complete``/``incomplete``); the ``verification`` event of the reset
    names the fields. When every field of a ``complete`` record is marked one by one, the record
    becomes ``verified`` too, so ``verified`` always means "every field source-verified".

Locks
    A form is locked by its record's own status (``locked``, :mod:`clestudy.store._status`). A
    visit or a whole subject is locked by a ``data_lock`` row: every record under it, including
    a record created later, is locked too. A locked record refuses every write by every path:
    saves (:mod:`clestudy.store._batch` calls :func:`check_batch`, which serves the web, the API,
    the CLI, imports and lab imports alike), status changes, verification marks, deletes and
    restores. Unlocking needs a reason. Locks nest: a form inside a locked visit stays locked
    until the visit is unlocked, and a visit lock outlives an unlocked subject lock.

Audit events (docs/architecture.md, "Agreed shapes")
    ``entity_type = "verification"``, ``entity_key = STUDY/SUBJECT/VISIT/FORM[#N]``, actions
    ``verify`` (``after = {"fields": [...], "added": [...]}``) and ``reset`` (``after =
    {"fields": [...], "reset": [...]}``); ``entity_type = "lock"``, ``entity_key =
    STUDY/SUBJECT`` (subject) or ``STUDY/SUBJECT/VISIT`` (visit), actions ``lock``/``unlock``,
    ``after = {"level", "visit", "locked"}``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Text, bindparam, literal, null, select, union_all, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError, RecordLockedError, StaleVersionError
from clestudy.store._rows import RecordSlot, record_entity_key, record_key
from clestudy.store._schema import Base, DataLockRow, FieldVerificationRow, RecordRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.protocol import FormSpec
    from clestudy.store._service import Store

__all__ = [
    "LEVELS",
    "Level",
    "add_marks",
    "check_batch",
    "form_fields",
    "lock_level_of",
    "marks_of",
    "refuse_locked_place",
    "refuse_locked_subject",
    "verify_fields",
]

Level = Literal["form", "visit", "subject"]
#: The levels a lock applies at, innermost first.
LEVELS: tuple[Level, ...] = ("form", "visit", "subject")

_T = Base.metadata.tables
_LOCK = _T["data_lock"]
_MARK = _T["field_verification"]
_RECORD = _T["form_record"]
_CHUNK = 500


def _lock_key(study: str, subject: str, visit: str) -> str:
    return f"{study}/{subject}" + (f"/{visit}" if visit else "")


def _lock_state(row: DataLockRow | None, visit: str, locked: bool | None = None) -> dict[str, Any]:
    return {
        "level": "visit" if visit else "subject",
        "visit": visit or None,
        "locked": row.locked if locked is None and row is not None else bool(locked),
    }


# -- reading locks and marks ----------------------------------------------------------------------


def _locks_of(session: Session, subject_pks: Collection[int]) -> dict[tuple[int, str], DataLockRow]:
    """The locks in force on these subjects, by ``(subject pk, visit or "")``."""
    found: dict[tuple[int, str], DataLockRow] = {}
    pks = sorted(subject_pks)
    for start in range(0, len(pks), _CHUNK):
        rows = session.scalars(
            select(DataLockRow).where(
                DataLockRow.subject_id.in_(pks[start : start + _CHUNK]),
                DataLockRow.locked.is_(True),
            )
        )
        for row in rows:
            found[(row.subject_id, row.visit_key)] = row
    return found


def lock_level_of(
    locks: dict[tuple[int, str], DataLockRow], subject_pk: int, visit: str, status: str | None
) -> tuple[Level | None, DataLockRow | None]:
    """The outermost level locking a record (``subject``, ``visit``, ``form``) and its lock row."""
    if (subject_pk, "") in locks:
        return "subject", locks[(subject_pk, "")]
    if (subject_pk, visit) in locks:
        return "visit", locks[(subject_pk, visit)]
    if status == "locked":
        return "form", None
    return None, None


def _locked_message(where: str, level: Level, subject: str, visit: str, what: str) -> str:
    scope = f"subject {subject}" if level == "subject" else f"visit {visit} of {subject}"
    return (
        f"record {where} is locked ({scope} is locked): {what} is refused until it is unlocked "
        "(with a reason)"
    )


def refuse_locked_place(
    session: Session, subject: SubjectRow, visit: str, where: str, what: str
) -> None:
    """Raise :class:`RecordLockedError` when ``subject`` or its ``visit`` is locked."""
    level, _ = lock_level_of(_locks_of(session, [subject.id]), subject.id, visit, None)
    if level is not None:
        raise RecordLockedError(_locked_message(where, level, subject.subject_key, visit, what))


def refuse_locked_subject(session: Session, subject: SubjectRow, what: str) -> None:
    """Raise :class:`RecordLockedError` when anything of ``subject`` is locked (``what`` refused)."""
    locks = _locks_of(session, [subject.id])
    record = session.scalars(
        select(RecordRow).where(RecordRow.subject_id == subject.id, RecordRow.status == "locked")
    ).first()
    if locks or record is not None:
        held = (
            "the subject is locked"
            if (subject.id, "") in locks
            else f"visit {sorted(v for _, v in locks)[0]} is locked"
            if locks
            else f"record {record.visit_key}/{record.form_key} is locked"  # type: ignore[union-attr]
        )
        raise RecordLockedError(
            f"subject {subject.subject_key}: {what} is refused because {held}; unlock it (with "
            "a reason) first"
        )


def marks_of(session: Session, record_pk: int) -> tuple[str, ...]:
    """The source-verified fields of a record, sorted."""
    row = session.scalars(
        select(FieldVerificationRow).where(FieldVerificationRow.record_id == record_pk)
    ).first()
    return tuple(json.loads(row.fields_json)) if row else ()


def _write_marks(
    store: Store, session: Session, record: RecordRow, subject: str, fields: Iterable[str],
    *, action: str, extra: dict[str, Any], actor: str, reason: str | None,
) -> None:  # fmt: skip
    """Store a record's new list of marks and audit it."""
    row = session.scalars(
        select(FieldVerificationRow).where(FieldVerificationRow.record_id == record.id)
    ).first()
    before = {"fields": json.loads(row.fields_json)} if row else None
    new = sorted(set(fields))
    now = store._now()
    if row is None:
        session.add(
            FieldVerificationRow(
                record_id=record.id, fields_json=json.dumps(new), updated_at=now, updated_by=actor
            )
        )
    else:
        row.fields_json, row.updated_at, row.updated_by = json.dumps(new), now, actor
    session.flush()
    store._append_audit(
        session, actor=actor, action=action, entity_type="verification",
        entity_key=record_entity_key(
            store.protocol.id, subject, record.visit_key, record.form_key, record.instance
        ),
        before=before, after={"fields": new, **extra}, reason=reason,
    )  # fmt: skip


def add_marks(
    store: Store, session: Session, record: RecordRow, subject: str, fields: Iterable[str],
    actor: str, reason: str | None,
) -> tuple[str, ...]:  # fmt: skip
    """Mark ``fields`` of ``record`` source-verified (audited); returns the fields newly marked."""
    held = set(marks_of(session, record.id))
    added = tuple(sorted(set(fields) - held))
    if added:
        _write_marks(
            store, session, record, subject, held | set(added), action="verify",
            extra={"added": list(added)}, actor=actor, reason=reason,
        )  # fmt: skip
    return added


# -- the save path's hook -------------------------------------------------------------------------


def _batch_reads(session: Session, subject_pks: list[int], record_pks: list[int]) -> list[Any]:
    """The locks in force on the batch's subjects and the marks (with the stored values) of the
    records it edits, in one statement (per page of keys)."""
    rows: list[Any] = []
    size = max(len(subject_pks), len(record_pks))
    for start in range(0, size, _CHUNK):
        subjects, records = subject_pks[start : start + _CHUNK], record_pks[start : start + _CHUNK]
        parts = []
        if subjects:
            parts.append(
                select(
                    literal("lock").label("kind"), _LOCK.c.subject_id.label("pk"),
                    _LOCK.c.visit_key.label("a"), sql_cast(null(), Text).label("b"),
                ).where(_LOCK.c.locked.is_(True), _LOCK.c.subject_id.in_(subjects))
            )  # fmt: skip
        if records:
            parts.append(
                select(
                    literal("mark"), _MARK.c.record_id, sql_cast(_RECORD.c.values_json, Text),
                    _MARK.c.fields_json,
                )
                .join(_RECORD, _RECORD.c.id == _MARK.c.record_id)
                .where(_MARK.c.record_id.in_(records))
            )  # fmt: skip
        query = parts[0] if len(parts) == 1 else union_all(*parts)
        rows.extend(session.execute(query))
    return rows


def check_batch(
    store: Store,
    session: Session,
    slots: Sequence[RecordSlot],
    locks: Collection[tuple[int, str]] | None = None,
    marks: Sequence[tuple[str, int, str, str]] | None = None,
) -> None:
    """Refuse a batch that writes under a visit or subject lock; reset changed verified fields.

    Called by the save path (:mod:`clestudy.store._batch`) with the records the batch writes
    (new and edited), before anything is written: one statement reads the locks of their
    subjects and the marks and stored values of the edited records, unless the save read them
    already, under the subjects' chain locks (``locks``: the ``(subject pk, visit or "")``
    locked; ``marks``: ``("mark", record pk, stored values_json, fields_json)`` of the records
    it read to edit). A record whose subject or visit is locked raises
    :class:`RecordLockedError` naming it (the transaction rolls back). For an edited record,
    each verified field whose value changed loses its mark, audited as a
    ``verification``/``reset`` event naming the fields.
    """
    if not slots:
        return
    edited = {s.pk: s for s in slots if s.pk is not None and s.stored_version is not None}
    subjects = sorted({s.subject_pk for s in slots}) if locks is None else []
    rows: list[Any] = [] if marks is None else list(marks)
    rows += _batch_reads(session, subjects, [] if marks is not None else sorted(edited))
    locked = (
        set(locks) if locks is not None else {(pk, a) for kind, pk, a, _ in rows if kind == "lock"}
    )
    for slot in slots:
        level: Level | None = (
            "subject" if (slot.subject_pk, "") in locked
            else "visit" if (slot.subject_pk, slot.visit_key) in locked else None
        )  # fmt: skip
        if level is not None:
            where = record_key(slot.subject_key, slot.visit_key, slot.form_key, slot.instance)
            what = "an edit" if slot.stored_version is not None else "a new record"
            raise RecordLockedError(
                _locked_message(where, level, slot.subject_key, slot.visit_key, what)
            )
    resets: list[dict[str, Any]] = []
    for kind, record_pk, stored_json, fields_json in rows:
        if kind != "mark" or record_pk not in edited:  # a record read but left unchanged
            continue
        slot = edited[record_pk]
        old, new = json.loads(stored_json), json.loads(slot.values_json)
        held = json.loads(fields_json)
        reset = [f for f in held if old.get(f) != new.get(f)]
        if not reset:
            continue
        kept = [f for f in held if f not in reset]
        resets.append({"b_id": record_pk, "b_fields": json.dumps(kept), "b_at": slot.updated_at,
                       "b_by": slot.updated_by})  # fmt: skip
        store._append_audit(
            session, actor=slot.updated_by, action="reset", entity_type="verification",
            entity_key=record_entity_key(
                store.protocol.id, slot.subject_key, slot.visit_key, slot.form_key, slot.instance
            ),
            before={"fields": held}, after={"fields": kept, "reset": reset},
            reason=f"verification reset: the value of {', '.join(reset)} changed",
        )  # fmt: skip
    if resets:
        session.connection().execute(
            update(_MARK)
            .where(_MARK.c.record_id == bindparam("b_id"))
            .values(fields_json=bindparam("b_fields"), updated_at=bindparam("b_at"),
                    updated_by=bindparam("b_by")),
            resets,
        )  # fmt: skip


# -- verification -------------------------------------------------------------------------------


def _record_for_change(
    store: Store, session: Session, subject_id: str, visit_id: str, form_id: str, instance: int,
    expected_version: int, what: str,
) -> tuple[SubjectRow, RecordRow, str]:  # fmt: skip
    from clestudy.store._chain import lock_subjects
    from clestudy.store._rows import find_record_row, refuse_if_locked

    where = record_key(subject_id, visit_id, form_id, instance)
    lock_subjects(session, store.protocol.id, [subject_id])
    subject = store._subject_row(session, subject_id)
    if subject is None or subject.deleted:
        raise NotFoundError(
            f"{where}: subject '{subject_id}' is not enrolled in {store.protocol.id}"
        )
    row = find_record_row(session, subject.id, visit_id, form_id, instance)
    if row is None or row.deleted:
        raise NotFoundError(f"record {where} does not exist")
    refuse_if_locked(row, where, what)
    refuse_locked_place(session, subject, visit_id, where, what)
    if expected_version != row.version:
        raise StaleVersionError(
            f"record {where}: the verification was made on version {expected_version} but the "
            f"record is now at version {row.version}; reload it and try again"
        )
    return subject, row, where


def form_fields(form: FormSpec) -> tuple[str, ...]:
    """The fields of ``form`` that source-data verification counts (all of them, in order)."""
    return tuple(f.id for f in form.fields)


def verify_fields(
    store: Store, subject_id: str, visit_id: str, form_id: str, fields: Sequence[str], *,
    instance: int, expected_version: int, actor: str, reason: str | None,
) -> tuple[str, ...]:  # fmt: skip
    """Mark ``fields`` of a record source-verified; returns every verified field afterwards.

    A ``complete`` record whose every field is then verified becomes ``verified`` (audited
    ``form_record``/``verify``).

    Raises
    ------
    InputError
        No field, an unknown field, or only fields already verified.
    RecordLockedError
        The record, its visit or its subject is locked.
    NotFoundError, StaleVersionError
        As for :meth:`Store.verify_record`.
    """
    from clestudy.store._status import change_status_in

    if not actor:
        raise InputError("every change needs an actor (who made it)")
    form = store.protocol.form(form_id)
    if form is None:
        raise NotFoundError(f"form {form_id!r} is not in the protocol of {store.protocol.id}")
    known = form_fields(form)
    where = record_key(subject_id, visit_id, form_id, instance)
    if not fields:
        raise InputError(f"record {where}: name at least one field to verify")
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise InputError(f"record {where}: {', '.join(unknown)}: not a field of form {form_id}")
    with store._write() as session:
        _subject, row, where = _record_for_change(
            store, session, subject_id, visit_id, form_id, instance, expected_version,
            "a verification",
        )  # fmt: skip
        added = add_marks(store, session, row, subject_id, fields, actor, reason)
        if not added:
            raise InputError(f"record {where}: {', '.join(fields)} already source-verified")
        held = set(marks_of(session, row.id))
        if row.status == "complete" and held >= set(known):
            change_status_in(store, session, row, subject_id, "verify", actor, reason)
        return tuple(sorted(held))
