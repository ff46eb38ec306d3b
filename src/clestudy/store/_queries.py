"""Queries: the discrepancy-note / data-resolution workflow on one field of a record.

A monitor (or an admin) raises a query on a field of a saved record; the site answers it; the
monitor closes it, or sends it back for more work, and may re-open a closed one. A query can
also be raised automatically when a save opens a discrepancy for a warning edit check (study
setting ``queries_from_edit_checks``, default off). Each field holds at most one query (as in
REDCap's Data Resolution Workflow): a closed query is re-opened, never raised a second time.

The life cycle is data, :data:`TRANSITIONS`; every state change

* is refused with :class:`QueryTransitionError` when the table does not allow it (nothing is
  written);
* appends one message to the query's thread (``data_query_message``; append-only in the
  database), with its author, the store clock's time and a text (required except for ``close``);
* is audited in the same transaction: ``entity_type = "query"``, ``entity_key =
  STUDY/SUBJECT/VISIT/FORM[#N]/FIELD``, action = the transition, ``after = {"field", "status",
  "origin", "messages", "thread_sha256", "message"}`` (``message``: the new message's ``seq``,
  ``action``, ``author``, ``at`` and ``text``; ``thread_sha256``: SHA-256 of the whole thread's
  canonical JSON), ``before`` the previous state without ``message`` (``null`` on raise),
  ``reason`` the message text. ``audit verify`` compares both tables with the newest event.

A query does not change the record: queries may be raised and answered on locked records
(correcting the value may need an unlock, which is the record's own audited action).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError
from clestudy.store._audit import canonical_json
from clestudy.store._chain import lock_subjects
from clestudy.store._rows import find_record_row, record_key
from clestudy.store._schema import QueryMessageRow, QueryRow, RecordRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = [
    "AUTO_RAISE_SETTING",
    "QUERY_ACTIONS",
    "QUERY_CSV_COLUMNS",
    "QUERY_STATUSES",
    "TRANSITIONS",
    "QueryAction",
    "QueryMessage",
    "QueryMixin",
    "QueryState",
    "QueryTransition",
    "QueryTransitionError",
    "apply_action",
    "days_between",
    "message_of",
    "queries_csv",
    "thread_digest",
]

#: The statuses a query can hold; ``none`` is the state of a field before any query is raised.
QUERY_STATUSES = ("open", "answered", "closed")
QueryAction = Literal["raise", "answer", "close", "return", "reopen"]
#: The study setting that turns on queries raised automatically from edit-check warnings.
AUTO_RAISE_SETTING = "queries_from_edit_checks"
#: The longest message text kept (characters).
MAX_TEXT = 10_000


#: The columns of a query list as CSV (the web download and ``clestudy query list --csv``).
QUERY_CSV_COLUMNS = (
    "subject", "site", "visit", "form", "instance", "field", "status", "days_open", "origin",
    "raised_at", "raised_by", "updated_at", "updated_by", "closed_at", "messages", "last_message",
)  # fmt: skip


class QueryTransitionError(InputError):
    """A query action the life cycle does not allow from the query's status (API: 409)."""


@dataclass(frozen=True)
class QueryTransition:
    """One row of the life cycle: from which statuses, to which, whether text is required and
    which right (``clestudy.web`` rule) a user needs."""

    allowed_from: tuple[str, ...]
    to: str
    text_required: bool
    right: str


#: The query life cycle (docs/security.md, "Query life cycle", mirrors it; a test compares).
TRANSITIONS: Mapping[str, QueryTransition] = {
    "raise": QueryTransition(("none",), "open", True, "query-raise"),
    "answer": QueryTransition(("open",), "answered", True, "query-answer"),
    "close": QueryTransition(("open", "answered"), "closed", False, "query-close"),
    "return": QueryTransition(("answered",), "open", True, "query-close"),
    "reopen": QueryTransition(("closed",), "open", True, "query-close"),
}
QUERY_ACTIONS: tuple[QueryAction, ...] = ("raise", "answer", "close", "return", "reopen")


@dataclass(frozen=True)
class QueryMessage:
    """One message of a query's thread."""

    seq: int
    action: str
    status: str
    author: str
    at: str
    text: str

    def as_event(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "action": self.action,
            "author": self.author,
            "at": self.at,
            "text": self.text,
        }


@dataclass(frozen=True)
class QueryState:
    """A query with its thread, the record field it is on, and the subject's site.

    ``status`` is ``none`` (and the thread empty) for a field that holds no query;
    ``days_open`` counts whole days from the raise to now (store clock), or to the last close.
    """

    subject_id: str
    site: str
    visit_id: str
    form_id: str
    instance: int
    field: str
    status: str
    origin: str = ""
    raised_at: str = ""
    raised_by: str = ""
    updated_at: str = ""
    updated_by: str = ""
    closed_at: str | None = None
    days_open: int | None = None
    messages: tuple[QueryMessage, ...] = ()

    @property
    def record(self) -> str:
        """``SUBJECT/VISIT/FORM[#N]``."""
        return record_key(self.subject_id, self.visit_id, self.form_id, self.instance)

    @property
    def key(self) -> str:
        """``SUBJECT/VISIT/FORM[#N]/FIELD``: the query's name in messages and lists."""
        return f"{self.record}/{self.field}"


def thread_digest(messages: Sequence[QueryMessage]) -> str:
    """SHA-256 of the thread's canonical JSON, as the audit events record it.

    >>> m = QueryMessage(1, "raise", "open", "mon", "2030-01-01T00:00:00.000000Z", "why?")
    >>> thread_digest([m]) == thread_digest([m]) != thread_digest([])
    True
    """
    text = canonical_json([{**m.as_event(), "status": m.status} for m in messages])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def days_between(start: str, end: str) -> int:
    """Whole days from one store timestamp to another.

    >>> days_between("2030-01-01T09:00:00.000000Z", "2030-01-03T08:59:59.000000Z")
    1
    """
    return (_parse(end) - _parse(start)).days


def queries_csv(queries: Sequence[QueryState]) -> str:
    """A query list as CSV text (:data:`QUERY_CSV_COLUMNS`), one row per query."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(QUERY_CSV_COLUMNS)
    for q in queries:
        writer.writerow([
            q.subject_id, q.site, q.visit_id, q.form_id, q.instance, q.field, q.status,
            q.days_open, q.origin, q.raised_at, q.raised_by, q.updated_at, q.updated_by,
            q.closed_at or "", len(q.messages), q.messages[-1].text if q.messages else "",
        ])  # fmt: skip
    return out.getvalue()


def message_of(row: QueryMessageRow) -> QueryMessage:
    return QueryMessage(row.seq, row.action, row.status, row.author, row.created_at, row.text)


def _event_state(row: QueryRow, thread: Sequence[QueryMessage]) -> dict[str, object]:
    return {
        "field": row.field_id,
        "status": row.status,
        "origin": row.origin,
        "messages": len(thread),
        "thread_sha256": thread_digest(thread),
    }


def _check_text(action: str, text: str | None, where: str) -> str:
    body = (text or "").strip()
    if TRANSITIONS[action].text_required and not body:
        raise InputError(f"query on {where}: '{action}' needs a message text")
    if len(body) > MAX_TEXT:
        raise InputError(
            f"query on {where}: the message has {len(body)} characters; at most {MAX_TEXT}"
        )
    return body


def _check_transition(action: str, status: str, where: str) -> QueryTransition:
    rule = TRANSITIONS[action]
    if status not in rule.allowed_from:
        now = "has no query" if status == "none" else f"holds a query that is {status}"
        allowed = " or ".join(rule.allowed_from)
        raise QueryTransitionError(
            f"query on {where}: cannot {action}: the field {now} ({action} is allowed from "
            f"{allowed})"
        )
    return rule


def _thread(session: Session, query_pk: int) -> list[QueryMessage]:
    rows = session.scalars(
        select(QueryMessageRow)
        .where(QueryMessageRow.query_id == query_pk)
        .order_by(QueryMessageRow.seq)
    )
    return [message_of(r) for r in rows]


def apply_action(
    store: Store, session: Session, *, record_pk: int, row: QueryRow | None, field_id: str,
    action: str, text: str, actor: str, where: str, origin: str = "manual",
) -> QueryRow:  # fmt: skip
    """Move the field's query (``row``, ``None`` before a raise) by ``action`` and audit it."""
    rule = _check_transition(action, "none" if row is None else row.status, where)
    now = store._now()
    if row is None:
        row = QueryRow(
            record_id=record_pk, field_id=field_id, status=rule.to, origin=origin,
            raised_at=now, raised_by=actor, updated_at=now, updated_by=actor, closed_at=None,
        )  # fmt: skip
        session.add(row)
        session.flush()
        thread: list[QueryMessage] = []
        before = None
    else:
        thread = _thread(session, row.id)
        before = _event_state(row, thread)
        row.status, row.updated_at, row.updated_by = rule.to, now, actor
        row.closed_at = now if rule.to == "closed" else None
    message = QueryMessage(len(thread) + 1, action, rule.to, actor, now, text)
    session.add(
        QueryMessageRow(
            query_id=row.id, seq=message.seq, action=action, status=rule.to, author=actor,
            created_at=now, text=text,
        )
    )  # fmt: skip
    session.flush()
    thread.append(message)
    store._append_audit(
        session,
        actor=actor,
        action=action,
        entity_type="query",
        entity_key=f"{store.protocol.id}/{where}",
        before=before,
        after={**_event_state(row, thread), "message": message.as_event()},
        reason=text or None,
    )
    return row


def _locate(
    store: Store, session: Session, subject_id: str, visit_id: str, form_id: str,
    field_id: str, instance: int,
) -> tuple[SubjectRow, RecordRow | None, str]:  # fmt: skip
    """The subject and record row of a field (``None``: never saved; it may be deleted), or
    NotFoundError."""
    where = f"{record_key(subject_id, visit_id, form_id, instance)}/{field_id}"
    subject = store._subject_row(session, subject_id)
    if subject is None or subject.deleted:
        raise NotFoundError(f"query on {where}: subject '{subject_id}' is not enrolled")
    form = store.protocol.form(form_id)
    if form is None or all(f.id != field_id for f in form.fields):
        raise NotFoundError(f"query on {where}: form '{form_id}' has no field '{field_id}'")
    return subject, find_record_row(session, subject.id, visit_id, form_id, instance), where


def query_action(
    store: Store, action: str, subject_id: str, visit_id: str, form_id: str, field_id: str, *,
    text: str | None, actor: str, instance: int = 1,
) -> QueryState:  # fmt: skip
    """Apply one life-cycle action to the query on a field (see the module docstring)."""
    if not actor:
        raise InputError("every change needs an actor (who made it)")
    if action not in TRANSITIONS:
        raise InputError(f"query action {action!r} is not one of {list(TRANSITIONS)}")
    with store._write() as session:
        lock_subjects(session, store.protocol.id, [subject_id])
        subject, record, where = _locate(
            store, session, subject_id, visit_id, form_id, field_id, instance
        )
        body = _check_text(action, text, where)
        if record is None:
            raise QueryTransitionError(
                f"query on {where}: the record is not saved, so it holds no value to query"
            )
        if record.deleted:
            raise QueryTransitionError(
                f"query on {where}: the record is deleted; restore it before acting on its queries"
            )
        row = session.scalars(
            select(QueryRow).where(QueryRow.record_id == record.id, QueryRow.field_id == field_id)
        ).first()
        row = apply_action(
            store, session, record_pk=record.id, row=row, field_id=field_id, action=action,
            text=body, actor=actor, where=where,
        )  # fmt: skip
        return _state(store, subject, record, row, _thread(session, row.id))


def _state(
    store: Store, subject: SubjectRow, record: RecordRow, row: QueryRow,
    thread: Sequence[QueryMessage],
) -> QueryState:  # fmt: skip
    end = row.closed_at if row.status == "closed" and row.closed_at else store._now()
    return QueryState(
        subject_id=subject.subject_key, site=subject.site, visit_id=record.visit_key,
        form_id=record.form_key, instance=record.instance, field=row.field_id,
        status=row.status, origin=row.origin, raised_at=row.raised_at, raised_by=row.raised_by,
        updated_at=row.updated_at, updated_by=row.updated_by, closed_at=row.closed_at,
        days_open=days_between(row.raised_at, end), messages=tuple(thread),
    )  # fmt: skip


def get_query(
    store: Store, subject_id: str, visit_id: str, form_id: str, field_id: str, instance: int = 1
) -> QueryState:
    """The query on a field with its thread (``status == "none"`` when there is none)."""
    with Session(store.engine) as session:
        subject, record, _ = _locate(
            store, session, subject_id, visit_id, form_id, field_id, instance
        )
        if record is not None and record.deleted:
            record = None  # hidden with the record until it is restored
        row = (
            None
            if record is None
            else session.scalars(
                select(QueryRow).where(
                    QueryRow.record_id == record.id, QueryRow.field_id == field_id
                )
            ).first()
        )
        if record is None or row is None:
            return QueryState(
                subject_id, subject.site, visit_id, form_id, instance, field_id, "none"
            )
        return _state(store, subject, record, row, _thread(session, row.id))


def list_queries(
    store: Store, *, sites: Sequence[str] | None = None, subject_id: str | None = None,
    status: str | None = None, form_id: str | None = None, field_id: str | None = None,
    visit_id: str | None = None,
) -> list[QueryState]:  # fmt: skip
    """The study's queries with their threads, filtered, in subject then record order.

    The queries of a deleted subject or record are left out (as the record is) until it is
    restored. ``sites`` restricts to the subjects of those sites (``None``: every site). Two queries
    whatever the number of queries: the query rows, and their messages.
    """
    if status is not None and status not in QUERY_STATUSES:
        raise InputError(f"query status {status!r} is not one of {list(QUERY_STATUSES)}")
    with Session(store.engine) as session:
        query = (
            select(QueryRow, RecordRow, SubjectRow)
            .join(RecordRow, QueryRow.record_id == RecordRow.id)
            .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
            .where(RecordRow.study_id == store.study_pk, SubjectRow.deleted.is_(False))
            .where(RecordRow.deleted.is_(False))  # hidden with their record, back on restore
            .order_by(SubjectRow.id, RecordRow.id, QueryRow.id)
        )
        for column, value in (
            (SubjectRow.subject_key, subject_id), (QueryRow.status, status),
            (RecordRow.form_key, form_id), (QueryRow.field_id, field_id),
            (RecordRow.visit_key, visit_id),
        ):  # fmt: skip
            if value is not None:
                query = query.where(column == value)
        if sites is not None:
            query = query.where(SubjectRow.site.in_(list(sites)))
        found = session.execute(query).all()
        threads: dict[int, list[QueryMessage]] = {}
        if found:
            messages = session.scalars(
                select(QueryMessageRow)
                .where(QueryMessageRow.query_id.in_([q.id for q, _, _ in found]))
                .order_by(QueryMessageRow.query_id, QueryMessageRow.seq)
            )
            for m in messages:
                threads.setdefault(m.query_id, []).append(message_of(m))
        return [_state(store, s, r, q, threads.get(q.id, [])) for q, r, s in found]


class QueryMixin:
    """The query reads and actions of :class:`~clestudy.store.Store`."""

    def query(
        self, subject_id: str, visit_id: str, form_id: str, field_id: str, *, instance: int = 1
    ) -> QueryState:
        """The query on one field with its thread (``status`` ``none`` when there is none).

        Raises
        ------
        NotFoundError
            For a subject that is not enrolled or a field the form does not have.
        """
        return get_query(cast("Store", self), subject_id, visit_id, form_id, field_id, instance)

    def queries(
        self, *, sites: Sequence[str] | None = None, subject_id: str | None = None,
        status: str | None = None, form_id: str | None = None, field_id: str | None = None,
        visit_id: str | None = None,
    ) -> list[QueryState]:  # fmt: skip
        """The study's queries, optionally of some sites, one subject, status, form or field."""
        return list_queries(
            cast("Store", self), sites=sites, subject_id=subject_id, status=status,
            form_id=form_id, field_id=field_id, visit_id=visit_id,
        )  # fmt: skip

    def query_action(
        self, action: str, subject_id: str, visit_id: str, form_id: str, field_id: str, *,
        text: str | None, actor: str, instance: int = 1,
    ) -> QueryState:  # fmt: skip
        """Raise, answer, close, return (send back) or re-open the query on a field (audited).

        Raises
        ------
        QueryTransitionError
            When the life cycle (:data:`TRANSITIONS`) does not allow ``action`` now, or the
            record was never saved (nothing is written).
        InputError
            For a missing text where the action needs one, or an unknown action.
        NotFoundError
            For a subject that is not enrolled or a field the form does not have.
        """
        return query_action(
            cast("Store", self), action, subject_id, visit_id, form_id, field_id, text=text,
            actor=actor, instance=instance,
        )  # fmt: skip
