"""The query module's two hooks: auto-raise on save (``_batch.py``) and ``audit verify``.

* :func:`raise_queries_from_checks`: the save path's one query hook, called by the batch after
  it has written the discrepancies (so the same path serves ``save_record``, ``save_records``,
  imports and the web), raising or re-opening a query for each discrepancy the save opened when
  the study's ``queries_from_edit_checks`` setting is on.
* :func:`query_rows` and :func:`thread_rows`: the two checkers of ``_verify_state.CHECKERS``
  (entity type ``query``): each query row, and each query's thread as a count and a SHA-256,
  against the newest ``query`` event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from clestudy.store._queries import (
    AUTO_RAISE_SETTING,
    QueryMessage,
    apply_action,
    message_of,
    thread_digest,
)
from clestudy.store._rows import RecordSlot, record_entity_key, record_key
from clestudy.store._schema import QueryMessageRow, QueryRow, RecordRow, StudyRow, SubjectRow

if TYPE_CHECKING:
    from clestudy.store._service import Store
    from clestudy.store._verify_state import LiveRow

__all__ = ["query_rows", "raise_queries_from_checks", "thread_rows"]


def raise_queries_from_checks(
    store: Store, session: Session, written: Sequence[RecordSlot], actor: str, now: str
) -> None:
    """Raise (or re-open) a query for each discrepancy this save opened, when the study's
    ``queries_from_edit_checks`` setting is on: the batch's one query hook (``_batch.py``).

    A discrepancy touched by this save and still open was opened or re-opened by it; its query
    goes on the check's first field, with the check's id and message as its text. A field whose
    query is open or answered is left alone; a closed one is re-opened. A form-level check (no
    field) raises none. The actor is the save's: the query was raised by that save.
    """
    if not store.protocol.settings.get(AUTO_RAISE_SETTING, False):
        return
    wanted: list[tuple[RecordSlot, str, str, str]] = []
    for slot in written:
        for row in (slot.discrepancies or {}).values():
            fields = json.loads(row.fields_json)
            if row.status == "open" and row.updated_at == now and fields and slot.pk is not None:
                text = f"Raised automatically: edit check {row.check_id}: {row.message}"
                wanted.append((slot, str(fields[0]), row.check_id, text))
    if not wanted:
        return
    pks = sorted({cast("int", slot.pk) for slot, *_ in wanted})
    existing = {
        (q.record_id, q.field_id): q
        for q in session.scalars(select(QueryRow).where(QueryRow.record_id.in_(pks)))
    }
    for slot, field_id, check_id, text in wanted:
        pk = cast("int", slot.pk)
        query = existing.get((pk, field_id))
        if query is not None and query.status != "closed":
            continue
        where = record_key(slot.subject_key, slot.visit_key, slot.form_key, slot.instance)
        existing[(pk, field_id)] = apply_action(
            store, session, record_pk=pk, row=query, field_id=field_id,
            action="raise" if query is None else "reopen", text=text, actor=actor,
            where=f"{where}/{field_id}", origin=f"edit-check:{check_id}",
        )  # fmt: skip


# -- audit verify: the two checkers (``_verify_state.CHECKERS``) ------------------------------


def _rows_with_keys(session: Session) -> Iterator[tuple[str, QueryRow]]:
    query = (
        select(StudyRow.study_key, SubjectRow.subject_key, RecordRow, QueryRow)
        .join(RecordRow, QueryRow.record_id == RecordRow.id)
        .join(SubjectRow, RecordRow.subject_id == SubjectRow.id)
        .join(StudyRow, RecordRow.study_id == StudyRow.id)
        .order_by(QueryRow.id)
    )
    for study_key, subject_key, record, row in session.execute(query):
        key = record_entity_key(
            study_key, subject_key, record.visit_key, record.form_key, record.instance
        )
        yield f"{key}/{row.field_id}", row


def query_rows(session: Session) -> Iterator[LiveRow]:
    """Each query row as its newest ``query`` event must describe it."""
    from clestudy.store._verify_state import LiveRow

    for key, row in _rows_with_keys(session):
        state = {"field": row.field_id, "status": row.status, "origin": row.origin}
        yield LiveRow(key, state, row.updated_by)


def thread_rows(session: Session) -> Iterator[LiveRow]:
    """Each query's thread (count and SHA-256) as its newest ``query`` event records it."""
    from clestudy.store._verify_state import LiveRow

    threads: dict[int, list[QueryMessage]] = {}
    for m in session.scalars(
        select(QueryMessageRow).order_by(QueryMessageRow.query_id, QueryMessageRow.seq)
    ):
        threads.setdefault(m.query_id, []).append(message_of(m))
    seen = set()
    for key, row in _rows_with_keys(session):
        seen.add(row.id)
        thread = threads.get(row.id, [])
        yield LiveRow(key, {"messages": len(thread), "thread_sha256": thread_digest(thread)})
    orphans = sorted(set(threads) - seen)
    if orphans:
        yield LiveRow(f"data_query_message of query id {orphans[0]}", {"messages": 0})
