"""Enrolment: the one body of :meth:`Store.add_subject` and of an import's enrolments.

:func:`enrol_subjects` checks each subject against the protocol (id, arm, site), refuses one
already enrolled, inserts the subject rows with one statement and queues one ``subject``/``enroll``
audit event per subject (``after = {"arm", "site", "status": "enrolled"}``), all in the caller's
write transaction. :meth:`Store.add_subject` enrols one subject with it; an import
(:func:`clestudy.store.save_import`) enrols all of its subjects with it at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Table, bindparam, insert, select

from clestudy.errors import InputError
from clestudy.protocol import Protocol
from clestudy.store._schema import Base

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clestudy.store._service import Store

__all__ = ["SubjectInput", "check_enrolment", "enrol_subjects"]

#: Keys per ``IN`` list (SQLite allows 32,766 bound parameters per statement).
_CHUNK = 500
_SUBJECT: Table = Base.metadata.tables["subject"]
_ENROLLED = select(_SUBJECT.c.subject_key).where(
    _SUBJECT.c.study_id == bindparam("study"),
    _SUBJECT.c.subject_key.in_(bindparam("keys", expanding=True)),
)
_ENROLLED_ONE = select(_SUBJECT.c.subject_key).where(
    _SUBJECT.c.study_id == bindparam("study"), _SUBJECT.c.subject_key == bindparam("key")
)  # one subject (Store.add_subject) by ``=``: its SQL is cached whole
_INSERT = insert(_SUBJECT)


@dataclass(frozen=True)
class SubjectInput:
    """A subject to enrol: its id, arm (``""`` in a randomized study) and site."""

    subject_id: str
    arm: str
    site: str


def check_enrolment(protocol: Protocol, subject: SubjectInput, *, by: str) -> None:
    """Refuse a subject id, arm or site that ``protocol`` does not allow.

    ``by`` says who sets the arm in the randomized-study message (``"at enrolment"``,
    ``"by an import"``).

    Raises
    ------
    InputError
        Naming the subject and what is allowed.

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> protocol = load_protocol("pediatric-cle-chart-review")
    >>> check_enrolment(protocol, SubjectInput("P 1", "", ""), by="at enrolment")
    Traceback (most recent call last):
    ...
    clestudy.errors.InputError: subject id 'P 1': use letters, digits, '-' and '_'
    """
    subject_id, arm, site = subject.subject_id, subject.arm, subject.site
    if not subject_id or not subject_id.replace("-", "").replace("_", "").isalnum():
        raise InputError(f"subject id {subject_id!r}: use letters, digits, '-' and '_'")
    arms = [a.id for a in protocol.arms]
    if protocol.randomization is not None:
        if arm:  # the arm comes from the concealed allocation list only
            raise InputError(
                f"subject {subject_id}: study {protocol.id} is randomized; the arm is assigned by "
                f"randomization, not {by}"
            )
        arms = [""]
    if arm not in arms:
        raise InputError(f"subject {subject_id}: arm {arm!r} is not one of {arms}")
    sites = [s.id for s in protocol.sites]
    if site not in sites:
        raise InputError(f"subject {subject_id}: site {site!r} is not one of {sites}")


def enrol_subjects(
    store: Store,
    session: Session,
    subjects: Sequence[SubjectInput],
    *,
    actor: str,
    reason: str | None,
    by: str,
) -> None:
    """Enrol ``subjects`` in ``session``'s write transaction (see the module docstring).

    Raises
    ------
    InputError
        For a subject the protocol does not allow (:func:`check_enrolment`), one named twice, or
        one already enrolled (the first such subject in ``subjects`` order).
    """
    if not subjects:
        return
    protocol = store.protocol
    seen: set[str] = set()
    for subject in subjects:
        check_enrolment(protocol, subject, by=by)
        if subject.subject_id in seen:
            raise InputError(f"subject {subject.subject_id} is enrolled twice by one change")
        seen.add(subject.subject_id)
    conn = session.connection()
    keys = [s.subject_id for s in subjects]
    study = store.study_pk
    if len(keys) == 1:
        enrolled = set(conn.execute(_ENROLLED_ONE, {"study": study, "key": keys[0]}).scalars())
    else:
        enrolled = set()
        for start in range(0, len(keys), _CHUNK):
            part = keys[start : start + _CHUNK]
            enrolled.update(conn.execute(_ENROLLED, {"study": study, "keys": part}).scalars())
    for subject in subjects:
        if subject.subject_id in enrolled:
            raise InputError(f"subject {subject.subject_id} is already enrolled in {protocol.id}")
    now = store._now()
    conn.execute(
        _INSERT,
        [
            {"study_id": study, "subject_key": s.subject_id, "arm": s.arm,
             "site": s.site, "status": "enrolled", "created_at": now, "deleted": False}
            for s in subjects
        ],
    )  # fmt: skip
    for subject in subjects:
        store._append_audit(
            session,
            actor=actor,
            action="enroll",
            entity_type="subject",
            entity_key=f"{protocol.id}/{subject.subject_id}",
            before=None,
            after={"arm": subject.arm, "site": subject.site, "status": "enrolled"},
            reason=reason,
        )
