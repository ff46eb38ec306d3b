"""The record status life cycle, kept only by the store: incomplete, complete, verified, locked.

* ``incomplete``: saved, but a required field (or a derived score's input) holds no value. No
  derived score is computed for it, so analyses and reports see missing, never 0.
* ``complete``: every required field, and every input of the form's derived scores, holds a
  value; derived scores are computed.
* ``verified``: source-verified by a monitor. A later change of a value returns the record to
  ``complete`` (or ``incomplete``) and the audit event says that verification was reset.
* ``locked``: refuses every write by every path until it is unlocked, which needs a reason and
  returns the record to the status it held before it was locked.

Every transition bumps the record version (optimistic locking guards status changes too) and is
audited with the whole previous and new state (docs/architecture.md, "Agreed shapes").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from clestudy.errors import InputError, NotFoundError, StaleVersionError
from clestudy.protocol import FormSpec, Protocol, hidden_fields
from clestudy.protocol._quality import needed_fields  # one rule of completeness, the core's
from clestudy.store._chain import lock_subjects
from clestudy.store._rows import (
    RecordState,
    find_record_row,
    full_state,
    record_key,
    record_state,
    refuse_if_locked,
)
from clestudy.store._schema import RecordRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clestudy.store._service import Store

__all__ = [
    "STATUSES",
    "StatusAction",
    "StatusMixin",
    "change_status",
    "change_status_in",
    "missing_required",
    "needed_fields",
    "refuse_if_locked",
]

#: The statuses of a form record, in life-cycle order.
STATUSES = ("incomplete", "complete", "verified", "locked")

StatusAction = Literal["verify", "lock", "unlock"]


def missing_required(protocol: Protocol, form: FormSpec, values: Mapping[str, object]) -> list[str]:
    """The fields that keep a record of ``form`` incomplete, in form order.

    A field is needed when the protocol marks it ``required`` or when it is an input of one of the
    form's derived scores: a score is computed only from complete input, never by reading a
    blank as 0 (an empty CLASI has no score, not activity 0 "mild").

    >>> from clestudy.protocol import load_protocol
    >>> p = load_protocol("pediatric-cle-chart-review")
    >>> missing_required(p, p.form("labs"), {})
    ['lbdat']
    >>> p = load_protocol("lenalidomide-cle-open-label")
    >>> len(missing_required(p, p.form("clasi"), {}))
    56
    """
    hidden = hidden_fields(form, values)  # a field hidden by its show-if is never needed
    return [
        name
        for name in needed_fields(protocol, form)
        if values.get(name) in (None, "", []) and name not in hidden
    ]


@dataclass(frozen=True)
class _Transition:
    allowed_from: tuple[str, ...]
    past: str


_TRANSITIONS: dict[str, _Transition] = {
    "verify": _Transition(("complete",), "verified"),
    "lock": _Transition(("incomplete", "complete", "verified"), "locked"),
    "unlock": _Transition(("locked",), "unlocked"),
}


def _check_transition(row: RecordRow, action: StatusAction, where: str, reason: str | None) -> str:
    """The new status for ``action`` on ``row``, or a clear error why it is not allowed."""
    rule = _TRANSITIONS[action]
    if action != "unlock":
        refuse_if_locked(row, where, f"'{action}'")
    if action == "unlock" and not (reason and reason.strip()):
        raise InputError(f"record {where}: unlocking needs a reason")
    if row.status not in rule.allowed_from:
        if action == "verify" and row.status == "incomplete":
            why = "it is incomplete (a required field holds no value)"
        else:
            why = f"it is {row.status}"
        raise InputError(
            f"record {where} cannot be {rule.past}: {why}; allowed from {list(rule.allowed_from)}"
        )
    if action == "lock":
        return "locked"
    if action == "unlock":
        return row.status_before_lock or "complete"
    return "verified"


def change_status_in(
    store: Store, session: Session, row: RecordRow, subject_id: str, action: StatusAction,
    actor: str, reason: str | None,
) -> None:  # fmt: skip
    """Apply ``action`` to ``row`` in ``session``'s transaction, audited (no version check).

    ``verify`` also marks every field of the form source-verified (:mod:`clestudy.store._locking`).
    """
    from clestudy.store._locking import add_marks, form_fields

    where = record_key(subject_id, row.visit_key, row.form_key, row.instance)
    new_status = _check_transition(row, action, where, reason)
    before = full_state(session, row)
    row.status_before_lock = row.status if action == "lock" else None
    row.status = new_status
    row.updated_at = store._now()
    row.updated_by = actor
    session.flush()  # bumps row.version (version_id_col)
    store._append_audit(
        session,
        actor=actor,
        action=action,
        entity_type="form_record",
        entity_key=f"{store.protocol.id}/{where}",
        before=before,
        after=full_state(session, row),
        reason=reason,
    )
    form = store.protocol.form(row.form_key)
    if action == "verify" and form is not None:
        add_marks(store, session, row, subject_id, form_fields(form), actor, reason)


def change_status(
    store: Store,
    subject_id: str,
    visit_id: str,
    form_id: str,
    *,
    action: StatusAction,
    instance: int,
    expected_version: int,
    actor: str,
    reason: str | None,
) -> RecordState:
    """Apply one status transition to a stored record, audited; see the module docstring.

    A record inside a locked visit or subject refuses every transition, ``unlock`` included:
    locks are lifted from the outside in.
    """
    from clestudy.store._locking import refuse_locked_place

    if not actor:
        raise InputError("every change needs an actor (who made it)")
    where = record_key(subject_id, visit_id, form_id, instance)
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [subject_id])
        subject = store._subject_row(session, subject_id)
        if subject is None:
            raise NotFoundError(
                f"{where}: subject '{subject_id}' is not enrolled in {store.protocol.id}"
            )
        row = find_record_row(session, subject.id, visit_id, form_id, instance)
        if row is None:
            raise NotFoundError(f"record {where} does not exist")
        refuse_locked_place(session, subject, visit_id, where, f"'{action}'")
        if expected_version != row.version:
            raise StaleVersionError(
                f"record {where}: the {action} was made on version {expected_version} but the "
                f"record is now at version {row.version}; reload it and try again"
            )
        change_status_in(store, session, row, subject_id, action, actor, reason)
        return record_state(session, row, subject_id)


class StatusMixin:
    """The status transitions of :class:`~clestudy.store.Store` (each audited, version-checked)."""

    def verify_record(
        self, subject_id: str, visit_id: str, form_id: str, *, expected_version: int,
        actor: str, instance: int = 1, reason: str | None = None,
    ) -> RecordState:  # fmt: skip
        """Mark a ``complete`` record as source-verified (audited ``verify``)."""
        return change_status(
            cast("Store", self), subject_id, visit_id, form_id, action="verify",
            instance=instance, expected_version=expected_version, actor=actor, reason=reason,
        )  # fmt: skip

    def lock_record(
        self, subject_id: str, visit_id: str, form_id: str, *, expected_version: int,
        actor: str, instance: int = 1, reason: str | None = None,
    ) -> RecordState:  # fmt: skip
        """Lock a record: every write by every path is refused until it is unlocked."""
        return change_status(
            cast("Store", self), subject_id, visit_id, form_id, action="lock",
            instance=instance, expected_version=expected_version, actor=actor, reason=reason,
        )  # fmt: skip

    def unlock_record(
        self, subject_id: str, visit_id: str, form_id: str, reason: str, *,
        expected_version: int, actor: str, instance: int = 1,
    ) -> RecordState:  # fmt: skip
        """Unlock a record (a reason is required); it returns to its status before the lock."""
        return change_status(
            cast("Store", self), subject_id, visit_id, form_id, action="unlock",
            instance=instance, expected_version=expected_version, actor=actor, reason=reason,
        )  # fmt: skip
