"""One import, one transaction: enrol subjects, save records and keep another system's history.

An import (REDCap, CDISC ODM) writes three kinds of things, and :func:`save_import` writes them in
one database transaction, so that a failed or killed import leaves nothing half-written:

1. the subjects it enrols (``subject``/``enroll`` events, as :meth:`Store.add_subject`);
2. its records, exactly as :meth:`Store.save_records` saves them (validated, versioned, one
   ``form_record`` event each);
3. the other system's own audit trail and data-management notes, as **imported history**.

Imported history
    Each entry of a foreign audit trail (an OpenClinica ``AuditLog``, a discrepancy note with
    its thread) becomes one audit event with ``entity_type = "imported_history"`` and
    ``action = "import"``, on the entity it describes: ``STUDY/SUBJECT`` (a subject),
    ``STUDY/SUBJECT/VISIT`` (an event) or ``STUDY/SUBJECT/VISIT/FORM[#N]`` (a record; the same key
    as the record's own events, so ``audit log`` and the ODM export show it with the record's
    history). Its ``after`` is the original entry (``source``, ``kind``, original ``id``, ``who``,
    ``when``, ``type``, ``reason``, ``old``, ``new``, ``item``, and for a note its ``thread``); its
    actor, time and reason are the import's (who imported, when, from which file and SHA-256).
    The event never pretends to be a clestudy action of the original user: the original who and
    when are data inside it, and ``audit verify`` checks it like every event (chain and hash), while
    no table row depends on it (the state checkers look only at ``subject``, ``form_record`` and
    ``discrepancy`` events).

Why events and not clestudy discrepancies: a clestudy discrepancy is opened and resolved by a
clestudy edit check on a clestudy record, with a status the store keeps in step with the data;
an imported note's status belongs to the other system (an OpenClinica note can be ``New`` on a
value that later changed) and cannot be re-run. Keeping it as a frozen event keeps it true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm.exc import StaleDataError

from clestudy.errors import InputError, StaleVersionError
from clestudy.store._batch import save_batch
from clestudy.store._chain import lock_subjects
from clestudy.store._edits import RecordInput
from clestudy.store._rows import RecordState
from clestudy.store._schema import SubjectRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clestudy.store._service import Store

__all__ = ["IMPORTED_HISTORY", "ImportedEvent", "SubjectInput", "save_import"]

#: ``entity_type`` of an event of another system's audit trail, kept as imported history.
IMPORTED_HISTORY = "imported_history"


@dataclass(frozen=True)
class SubjectInput:
    """A subject an import enrols."""

    subject_id: str
    arm: str
    site: str


@dataclass(frozen=True)
class ImportedEvent:
    """One entry of another system's history: where it belongs and what it said.

    ``path`` is ``""`` for the subject itself, ``VISIT`` for a visit, or ``VISIT/FORM[#N]`` for a
    record (the record's own key).
    """

    subject_id: str
    path: str
    payload: dict[str, Any]


def _check_subject(store: Store, subject: SubjectInput) -> None:
    arms = [a.id for a in store.protocol.arms]
    sites = [s.id for s in store.protocol.sites]
    if not subject.subject_id.replace("-", "").replace("_", "").isalnum():
        raise InputError(f"subject id {subject.subject_id!r}: use letters, digits, '-' and '_'")
    if store.protocol.randomization is not None and subject.arm:
        # as Store.add_subject: an import must not bypass the concealed allocation list
        raise InputError(
            f"subject {subject.subject_id}: study {store.protocol.id} is randomized; the arm is "
            "assigned by randomization, not by an import"
        )
    if store.protocol.randomization is not None:
        arms = [""]
    if subject.arm not in arms:
        raise InputError(f"subject {subject.subject_id}: arm {subject.arm!r} is not one of {arms}")
    if subject.site not in sites:
        raise InputError(
            f"subject {subject.subject_id}: site {subject.site!r} is not one of {sites}"
        )


def _enrol(
    store: Store, session: Session, subject: SubjectInput, actor: str, reason: str | None
) -> None:
    _check_subject(store, subject)
    if store._subject_row(session, subject.subject_id) is not None:
        raise InputError(f"subject {subject.subject_id} is already enrolled in {store.protocol.id}")
    session.add(
        SubjectRow(
            study_id=store.study_pk,
            subject_key=subject.subject_id,
            arm=subject.arm,
            site=subject.site,
            status="enrolled",
            created_at=store._now(),
        )
    )
    session.flush()
    store._append_audit(
        session,
        actor=actor,
        action="enroll",
        entity_type="subject",
        entity_key=f"{store.protocol.id}/{subject.subject_id}",
        before=None,
        after={"arm": subject.arm, "site": subject.site, "status": "enrolled"},
        reason=reason,
    )


def save_import(
    store: Store,
    *,
    subjects: Sequence[SubjectInput] = (),
    records: Sequence[RecordInput] = (),
    history: Sequence[ImportedEvent] = (),
    actor: str,
    reason: str,
) -> list[RecordState]:
    """Enrol ``subjects``, save ``records`` and keep ``history``, all in one transaction.

    Records are saved by the save path of :meth:`Store.save_records`
    (:func:`clestudy.store._batch.save_batch`, after the enrolments); every event carries ``actor`` and ``reason`` (the import's source files
    and their SHA-256).

    Raises
    ------
    InputError, RecordValidationError, NotFoundError, StaleVersionError
        As :meth:`Store.add_subject` and :meth:`Store.save_records`; nothing is written.
    """
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    study = store.protocol.id
    touched = sorted({s.subject_id for s in subjects} | {r.subject_id for r in records}
                     | {h.subject_id for h in history})  # fmt: skip
    try:
        with store._write() as session:
            lock_subjects(session, study, touched)
            for subject in subjects:
                _enrol(store, session, subject, actor, reason)
            saved = save_batch(store, session, records, actor, reason) if records else []
            for event in history:
                key = "/".join(p for p in (study, event.subject_id, event.path) if p)
                store._append_audit(
                    session,
                    actor=actor,
                    action="import",
                    entity_type=IMPORTED_HISTORY,
                    entity_key=key,
                    before=None,
                    after=event.payload,
                    reason=reason,
                )
            return saved
    except StaleDataError:
        raise StaleVersionError(
            "a record changed while this import was being saved; reload and re-import"
        ) from None
