"""The listing of lock and verification status: subject × visit × form, with filters.

One row per stored record (every instance of a repeating form) and one ``not started`` row per
scheduled form of a visit that has no record yet. ``status`` is the effective status: ``locked``
when the form, its visit or its subject is locked (``lock_level`` says which, the outermost;
``locked_by``/``locked_at`` who and when), else the record's own status. ``verified_fields`` of
``total_fields`` counts the source-verified fields (:mod:`clestudy.store._locking`).
Three queries whatever the size of the study: subjects, records with their marks, locks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError
from clestudy.store._locking import _locks_of, form_fields, lock_level_of
from clestudy.store._schema import FieldVerificationRow, RecordRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = [
    "LOCK_STATUS_COLUMNS",
    "STATUS_FILTERS",
    "LockStatusRow",
    "RecordReview",
    "as_csv",
    "lock_status",
    "record_review",
]

#: The values of the listing's ``status`` (and of its ``status`` filter).
STATUS_FILTERS = ("not started", "incomplete", "complete", "verified", "locked")


@dataclass(frozen=True)
class LockStatusRow:
    """One subject × visit × form (× instance) of the listing (see the module docstring)."""

    subject_id: str
    site: str
    visit_id: str
    form_id: str
    instance: int
    status: str
    record_status: str | None
    version: int | None
    verified_fields: int
    total_fields: int
    lock_level: str | None
    locked_by: str | None
    locked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (the API's and the CSV's columns)."""
        return asdict(self)


#: The listing's columns, in order (CSV header).
LOCK_STATUS_COLUMNS = tuple(LockStatusRow.__dataclass_fields__)


@dataclass(frozen=True)
class RecordReview:
    """A record's verification marks and the lock that holds it, for its page."""

    verified: tuple[str, ...]
    lock_level: str | None
    locked_by: str | None
    locked_at: str | None


def _check_filters(store: Store, statuses: Collection[str] | None) -> None:
    for status in statuses or ():
        if status not in STATUS_FILTERS:
            raise InputError(f"status {status!r}: use one of {list(STATUS_FILTERS)}")


def lock_status(
    store: Store,
    *,
    sites: Collection[str] | None = None,
    subjects: Collection[str] | None = None,
    visits: Collection[str] | None = None,
    forms: Collection[str] | None = None,
    statuses: Collection[str] | None = None,
) -> list[LockStatusRow]:
    """The listing, in enrolment, schedule and form order; ``None`` filters keep every value."""
    _check_filters(store, statuses)
    protocol = store.protocol
    with Session(store.engine) as session:
        query = select(SubjectRow).where(
            SubjectRow.study_id == store.study_pk, SubjectRow.deleted.is_(False)
        )
        if sites is not None:
            query = query.where(SubjectRow.site.in_(list(sites)))
        if subjects is not None:
            query = query.where(SubjectRow.subject_key.in_(list(subjects)))
        subject_rows = list(session.scalars(query.order_by(SubjectRow.id)))
        by_pk = {s.id: s for s in subject_rows}
        records: dict[tuple[int, str, str], list[tuple[RecordRow, tuple[str, ...]]]] = {}
        found = session.execute(
            select(RecordRow, FieldVerificationRow.fields_json)
            .outerjoin(FieldVerificationRow, FieldVerificationRow.record_id == RecordRow.id)
            .where(RecordRow.subject_id.in_(list(by_pk)), RecordRow.deleted.is_(False))
            .order_by(RecordRow.instance)
        )
        for stored_row, fields_json in found:
            marks = tuple(json.loads(fields_json)) if fields_json else ()
            place = (stored_row.subject_id, stored_row.visit_key, stored_row.form_key)
            records.setdefault(place, []).append((stored_row, marks))
        locks = _locks_of(session, list(by_pk))
    out: list[LockStatusRow] = []
    for subject in subject_rows:
        for visit in protocol.visits:
            if visits is not None and visit.id not in visits:
                continue
            for form_id in visit.forms:
                form = protocol.form(form_id)
                if form is None or (forms is not None and form_id not in forms):
                    continue
                total = len(form_fields(form))
                stored = records.get((subject.id, visit.id, form_id), [])
                entries: list[tuple[RecordRow | None, tuple[str, ...]]] = list(stored) or [
                    (None, ())
                ]
                for row, marks in entries:
                    level, lock = lock_level_of(
                        locks, subject.id, visit.id, row.status if row else None
                    )
                    status = "locked" if level else (row.status if row else "not started")
                    if statuses is not None and status not in statuses:
                        continue
                    by = lock.updated_by if lock else (row.updated_by if level and row else None)
                    at = lock.updated_at if lock else (row.updated_at if level and row else None)
                    out.append(
                        LockStatusRow(
                            subject.subject_key,
                            subject.site,
                            visit.id,
                            form_id,
                            row.instance if row else 1,
                            status,
                            row.status if row else None,
                            row.version if row else None,
                            len(set(marks) & set(form_fields(form))),
                            total,
                            level,
                            by,
                            at,
                        )
                    )
    return out


def record_review(
    store: Store, subject_id: str, visit_id: str, form_id: str, instance: int
) -> RecordReview:
    """A record's verified fields and the lock holding it (none when it was never saved)."""
    with Session(store.engine) as session:
        subject = store._subject_row(session, subject_id)
        if subject is None:
            return RecordReview((), None, None, None)
        row = session.scalars(
            select(RecordRow).where(
                RecordRow.subject_id == subject.id, RecordRow.visit_key == visit_id,
                RecordRow.form_key == form_id, RecordRow.instance == instance,
            )
        ).first()  # fmt: skip
        marks: tuple[str, ...] = ()
        if row is not None:
            mark = session.scalars(
                select(FieldVerificationRow).where(FieldVerificationRow.record_id == row.id)
            ).first()
            marks = tuple(json.loads(mark.fields_json)) if mark else ()
        level, lock = lock_level_of(
            _locks_of(session, [subject.id]), subject.id, visit_id, row.status if row else None
        )
        by = lock.updated_by if lock else (row.updated_by if level and row else None)
        at = lock.updated_at if lock else (row.updated_at if level and row else None)
        return RecordReview(marks, level, by, at)


def as_csv(rows: list[LockStatusRow]) -> str:
    """The listing as CSV text with a header row (blank for a missing value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LOCK_STATUS_COLUMNS)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row.as_dict().values()])
    return out.getvalue()
