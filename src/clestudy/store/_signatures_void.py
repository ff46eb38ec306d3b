"""Voiding electronic signatures when their data change, and checking them in ``audit verify``.

The write paths call one hook each, in their own transaction (docs/architecture.md):
:func:`void_signatures_of_batch` at the end of the batch save (saves, imports, the web and the
API), :func:`void_signatures_of_record` and :func:`void_signatures_of_subject` in soft delete
and restore. A change to a record a valid signature covers -- a save that changes it, a new
record in the signed visit or casebook, a delete or restore, the subject's deletion -- appends a
``signature_void`` row and an audited ``signature``/``void`` event naming the change (its
``{"entity_key", "action", "version"}``), so the signature is visibly invalid (21 CFR 11.70: a
signature stays linked to exactly the data it signed).

``audit verify`` checks both tables (:data:`clestudy.store._verify_state.CHECKERS`):
:func:`signature_rows` compares each signature with its newest event, and
:func:`signed_data_rows` recomputes, for each signature still valid, the hash of the data it
covers now, which must be the one signed (covered data changed without voiding: written outside
clestudy).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.store._audit import canonical_json
from clestudy.store._schema import (
    RecordRow,
    SignatureRow,
    SignatureVoidRow,
    StudyRow,
    SubjectRow,
)
from clestudy.store._signatures import (
    covered_records,
    in_scope,
    signature_key,
    signature_state,
    signed_data,
    signed_data_sha256,
)

if TYPE_CHECKING:
    from clestudy.store._rows import RecordSlot
    from clestudy.store._service import Store
    from clestudy.store._verify_state import LiveRow

__all__ = [
    "signature_rows",
    "signed_data_rows",
    "void_signatures_of_batch",
    "void_signatures_of_record",
    "void_signatures_of_subject",
]


# -- voiding: one hook per write path ---------------------------------------------------------


#: Subjects per ``IN`` list (SQLite allows 32,766 bound parameters per statement).
_CHUNK = 500


@dataclass(frozen=True)
class _Change:
    """A change to a subject's data: which subject, which visit (``None``: all), which event."""

    subject_pk: int
    subject_key: str
    visit: str | None
    cause: dict[str, Any]


def _void(store: Store, session: Session, changes: Sequence[_Change], actor: str) -> None:
    """Void every valid signature whose covered data one of ``changes`` touches (audited)."""
    if not changes:
        return
    by_subject: dict[int, list[_Change]] = {}
    for change in changes:
        by_subject.setdefault(change.subject_pk, []).append(change)
    subjects = sorted(by_subject)
    valid: list[SignatureRow] = []
    for start in range(0, len(subjects), _CHUNK):  # one query for any usual batch
        valid += session.scalars(
            select(SignatureRow)
            .outerjoin(SignatureVoidRow, SignatureVoidRow.signature_id == SignatureRow.id)
            .where(
                SignatureVoidRow.id.is_(None),
                SignatureRow.subject_id.in_(subjects[start : start + _CHUNK]),
            )
            .order_by(SignatureRow.id)
        ).all()
    now = store._now()
    for row in valid:
        cause = next(
            (
                c
                for c in by_subject[row.subject_id]
                if row.visit_key is None or c.visit is None or c.visit == row.visit_key
            ),
            None,
        )
        if cause is None:
            continue
        void = SignatureVoidRow(
            signature_id=row.id,
            voided_at=now,
            voided_by=actor,
            cause_json=canonical_json(cause.cause),
        )
        session.add(void)
        before = signature_state(store.protocol.id, cause.subject_key, row, None)
        after = signature_state(store.protocol.id, cause.subject_key, row, void)
        store._append_audit(
            session,
            actor=actor,
            action="void",
            entity_type="signature",
            entity_key=before.key,
            before=before.audit_state(),
            after=after.audit_state(),
            reason=f"the signed data changed: {cause.cause['entity_key']} "
            f"({cause.cause['action']})",
        )
    session.flush()


def _record_cause(
    store: Store, subject: str, visit: str, form: str, instance: int, action: str, version: int
) -> dict[str, Any]:
    suffix = f"#{instance}" if instance != 1 else ""
    key = f"{store.protocol.id}/{subject}/{visit}/{form}{suffix}"
    return {"entity_key": key, "action": action, "version": version}


def void_signatures_of_batch(
    store: Store,
    session: Session,
    written: Sequence[RecordSlot],
    actor: str,
    signed: Collection[int] | None = None,
) -> None:
    """The batch save's hook: void the signatures covering any record the batch wrote (a new
    record in a signed visit or casebook, or a changed one), in the batch's transaction.

    ``signed`` is the subjects (pks) with a valid signature when the save read them already,
    under the subjects' chain locks: the records of other subjects void nothing, and a batch
    without a signed subject reads nothing more.
    """
    changes = [
        _Change(
            slot.subject_pk, slot.subject_key, slot.visit_key,
            _record_cause(
                store, slot.subject_key, slot.visit_key, slot.form_key, slot.instance,
                "create" if slot.stored_version is None else "update", slot.version,
            ),
        )
        for slot in written
        if signed is None or slot.subject_pk in signed
    ]  # fmt: skip
    _void(store, session, changes, actor)


def void_signatures_of_record(
    store: Store, session: Session, row: RecordRow, subject: str, deleted: bool, actor: str
) -> None:
    """The hook of a record's soft delete (``deleted``) or restore: void what covers it."""
    action = "delete" if deleted else "restore"
    cause = _record_cause(
        store, subject, row.visit_key, row.form_key, row.instance, action, row.version
    )
    _void(store, session, [_Change(row.subject_id, subject, row.visit_key, cause)], actor)


def void_signatures_of_subject(
    store: Store, session: Session, row: SubjectRow, deleted: bool, actor: str
) -> None:
    """The hook of a subject's soft delete (``deleted``) or restore: void all its signatures."""
    cause = {
        "entity_key": f"{store.protocol.id}/{row.subject_key}",
        "action": "delete" if deleted else "restore",
        "version": None,
    }
    _void(store, session, [_Change(row.id, row.subject_key, None, cause)], actor)


# -- audit verify: the checkers of the two tables ---------------------------------------------


def _signature_table(
    session: Session,
) -> list[tuple[str, str, SignatureRow, SignatureVoidRow | None]]:
    """Every signature with its study, subject and void row (``None`` while valid)."""
    query = (
        select(StudyRow.study_key, SubjectRow.subject_key, SignatureRow, SignatureVoidRow)
        .join(SubjectRow, SignatureRow.subject_id == SubjectRow.id)
        .join(StudyRow, SignatureRow.study_id == StudyRow.id)
        .outerjoin(SignatureVoidRow, SignatureVoidRow.signature_id == SignatureRow.id)
        .order_by(SignatureRow.id)
    )
    return [(study, subject, row, void) for study, subject, row, void in session.execute(query)]


def signature_rows(session: Session) -> Iterator[LiveRow]:
    """``audit verify``'s view of the signature tables: each signature's whole state (valid or
    void), which its newest ``signature`` event must hold, made by the signer (``sign``) or by
    whoever changed the data (``void``)."""
    from clestudy.store._verify_state import LiveRow

    for study, subject, row, void in _signature_table(session):
        state = signature_state(study, subject, row, void)
        actor = row.signer if void is None else void.voided_by
        yield LiveRow(state.key, state.audit_state(), actor)


def signed_data_rows(session: Session) -> Iterator[LiveRow]:
    """``audit verify``'s check of the signed data: for every signature still valid, the hash of
    the data it covers *now*, which must equal the hash its ``sign`` event recorded. A mismatch
    means covered data changed without voiding it: written outside clestudy."""
    from clestudy.store._verify_state import LiveRow

    rows = _signature_table(session)
    valid_subjects = sorted({row.subject_id for _, _, row, void in rows if void is None})
    current = covered_records(session, valid_subjects)
    for study, subject, row, void in rows:
        key = signature_key(study, subject, row.visit_key, row.id)
        if void is not None:
            yield LiveRow(key, {})
            continue
        records = in_scope(current[row.subject_id], row.visit_key)
        digest = signed_data_sha256(signed_data(study, subject, row.visit_key, records))
        yield LiveRow(key, {"data_sha256": digest})
