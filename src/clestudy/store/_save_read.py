"""The one read of a save: a batch's subjects and records, their locks, signatures and chain heads.

Before deciding anything, a save (:mod:`clestudy.store._batch`) needs, for the subjects it
writes to:

* each subject (its primary key, site, whether it is deleted) and every record of it (a
  site-scoped save, :class:`~clestudy.store._rows.SubjectScope`, checks the site here instead of
  reading the subject once more before its transaction);
* the visit and subject locks in force (``data_lock``, for :func:`~clestudy.store._locking.check_batch`);
* which of them have a valid signature (one without a ``signature_void`` row, for
  :func:`~clestudy.store._signatures_void.void_signatures_of_batch`: a save to a subject
  without one voids nothing and reads nothing more);
* the head of each subject's audit chain and the hash of its newest enrolment event (the
  genesis of a chain without events), for :func:`~clestudy.store._chain.flush_events`.

They used to be four statements, each a round trip to the database; here they are one
``UNION ALL`` of five ``SELECT`` statements, each row tagged with its kind and its values put in
shared columns of the right type (``i*`` integers, ``t*`` text, ``b*`` booleans; unused ones are
typed NULLs, so PostgreSQL resolves every column's type). The read runs after the subjects'
chain locks are taken (:func:`~clestudy.store._chain.lock_subjects`), so what it reads is what
the transaction then writes over.

The statement is built once per form of subject filter: ``=`` for a batch of one subject, whose
SQL is then cached whole (an expanding ``IN`` list is rendered on every execution), else ``IN``
lists of at most 500 subjects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
)

from clestudy.store._engine import execute_prebuilt
from clestudy.store._schema import Base

__all__ = ["EditDetails", "SaveState", "read_edit_details", "read_save_state"]

_T = Base.metadata.tables
_SUBJECT = _T["subject"]
_RECORD = _T["form_record"]
_LOCK = _T["data_lock"]
_SIGNATURE = _T["signature"]
_VOID = _T["signature_void"]
_AUDIT = _T["audit_event"]

#: Subjects per statement (SQLite allows 32,766 bound parameters; each subject is bound 5 times).
CHUNK = 500

#: The shared columns and their types.
_COLUMNS: dict[str, Any] = {
    "i1": Integer, "i2": Integer, "i3": Integer, "i4": Integer,
    "t1": String, "t2": String, "t3": String, "t4": Text, "t5": String, "t6": String,
    "t7": String, "t8": String, "t9": Text,
    "b1": Boolean, "b2": Boolean,
}  # fmt: skip


def _part(kind: str, columns: dict[str, ColumnElement[Any]]) -> Select[Any]:
    """A ``SELECT`` of the shared columns: ``kind``, then ``columns`` where given, else NULL."""
    return select(
        literal_column(f"'{kind}'", String).label("kind"),
        *(
            (columns[name] if name in columns else cast(null(), kind_of)).label(name)
            for name, kind_of in _COLUMNS.items()
        ),
    )


def _statement(one: bool) -> Any:
    """The read for one subject (``=``) or for a list of them (``IN``)."""
    s, r, lock, sig, void, a = _SUBJECT.c, _RECORD.c, _LOCK.c, _SIGNATURE.c, _VOID.c, _AUDIT.c
    if one:
        subject_is = s.subject_key == bindparam("key")
        chain_is = a.chain == bindparam("chain")
        enrolment_is = a.entity_key == bindparam("chain")
    else:
        subject_is = s.subject_key.in_(bindparam("keys", expanding=True))
        chain_is = a.chain.in_(bindparam("chains", expanding=True))
        enrolment_is = a.entity_key.in_(bindparam("chains", expanding=True))
    of_study = s.study_id == bindparam("study")
    records = _part(
        "r",
        {
            "i1": s.id, "i2": r.id, "i3": r.instance, "i4": r.version,
            "t1": s.subject_key, "t2": r.visit_key, "t3": r.form_key, "t4": r.values_json,
            "t5": r.status, "t6": r.updated_at, "t7": r.updated_by, "t8": r.protocol_version,
            "t9": s.site, "b1": s.deleted, "b2": r.deleted,
        },
    ).select_from(_SUBJECT.outerjoin(_RECORD, r.subject_id == s.id)).where(of_study, subject_is)  # fmt: skip
    locks = (
        _part("l", {"i1": lock.subject_id, "t2": lock.visit_key})
        .select_from(_LOCK.join(_SUBJECT, s.id == lock.subject_id))
        .where(of_study, subject_is, lock.locked.is_(True))
    )
    signed = (
        _part("s", {"i1": sig.subject_id, "i2": sig.id})
        .select_from(
            _SIGNATURE.join(_SUBJECT, s.id == sig.subject_id).outerjoin(
                _VOID, void.signature_id == sig.id
            )
        )
        .where(of_study, subject_is, void.id.is_(None))
    )
    newest = select(a.chain, func.max(a.chain_seq)).where(chain_is).group_by(a.chain)
    heads = _part("h", {"i4": a.chain_seq, "t1": a.chain, "t5": a.hash, "t6": a.occurred_at}).where(
        tuple_(a.chain, a.chain_seq).in_(newest)
    )
    enrolments = _part("e", {"i2": a.seq, "t1": a.entity_key, "t5": a.hash}).where(
        enrolment_is, a.entity_type == "subject", a.action == "enroll"
    )
    return union_all(records, locks, signed, heads, enrolments)


_ONE = _statement(one=True)
_MANY = _statement(one=False)


@dataclass
class SaveState:
    """What :func:`read_save_state` read (see the module docstring).

    ``records`` are the subject-and-record rows in record order (a subject without records is
    one row whose record columns are NULL), ``locks`` the ``(subject pk, visit or "")`` locked,
    ``signed`` the subject pks with a valid signature, ``heads`` ``{chain: (chain_seq, hash,
    occurred_at)}`` and ``enrolled`` ``{chain: hash of the subject's newest enrolment}``.
    """

    chains: list[str] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    locks: set[tuple[int, str]] = field(default_factory=set)
    signed: set[int] = field(default_factory=set)
    heads: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    enrolled: dict[str, str] = field(default_factory=dict)


def read_save_state(
    conn: Connection, study_pk: int, study_key: str, subject_keys: Sequence[str]
) -> SaveState:
    """Read the state a save of ``subject_keys`` needs, in one statement per 500 subjects."""
    state = SaveState()
    newest_enrolment: dict[str, int] = {}
    for start in range(0, len(subject_keys), CHUNK):
        part = list(subject_keys[start : start + CHUNK])
        chains = [f"{study_key}/{key}" for key in part]
        state.chains.extend(chains)
        if len(part) == 1:  # a single save (every web save): its SQL run as it is
            one = {"study": study_pk, "key": part[0], "chain": chains[0]}
            rows = execute_prebuilt(conn, _ONE, one)
        else:
            rows = conn.execute(_MANY, {"study": study_pk, "keys": part, "chains": chains})
        for row in rows:
            kind = row.kind
            if kind == "r":
                state.records.append(row)
            elif kind == "l":
                state.locks.add((row.i1, row.t2))
            elif kind == "s":
                state.signed.add(row.i1)
            elif kind == "h":
                state.heads[row.t1] = (row.i4, row.t5, row.t6)
            elif row.i2 > newest_enrolment.get(row.t1, -1):  # "e": the newest enrolment wins
                newest_enrolment[row.t1] = row.i2
                state.enrolled[row.t1] = row.t5
    # record order (ids); a subject without records (NULL id) first, as it names no record
    state.records.sort(key=lambda row: -1 if row.i2 is None else row.i2)
    return state


# -- the records a save edits: their derived scores, discrepancies and verification marks ------

_DERIVED = _T["derived_score"]
_DISCREPANCY = _T["discrepancy"]
_MARK = _T["field_verification"]


def _details_statement() -> Any:
    d, q, m, r = _DERIVED.c, _DISCREPANCY.c, _MARK.c, _RECORD.c
    records: Any = bindparam("records", expanding=True)
    derived = _part(
        "d", {"i1": d.id, "i2": d.record_id, "t1": d.score_key, "t2": d.instrument,
              "t3": d.instrument_version, "t4": d.values_json},
    ).where(d.record_id.in_(records))  # fmt: skip
    discrepancies = _part(
        "q", {"i1": q.id, "i2": q.record_id, "t1": q.check_id, "t2": q.severity,
              "t3": q.status, "t4": q.fields_json, "t5": q.opened_at, "t6": q.updated_at,
              "t7": q.updated_by, "t8": q.message, "t9": q.resolution},
    ).where(q.record_id.in_(records))  # fmt: skip
    marks = (
        _part("m", {"i2": m.record_id, "t1": m.fields_json, "t4": r.values_json})
        .select_from(_MARK.join(_RECORD, r.id == m.record_id))
        .where(m.record_id.in_(records))
    )
    return union_all(derived, discrepancies, marks)


_DETAILS = _details_statement()


@dataclass
class EditDetails:
    """What :func:`read_edit_details` read, in id order: derived-score rows ``(id, record id,
    score, instrument, version, values_json)``, discrepancy rows as column dictionaries, and
    verification marks ``("mark", record id, stored values_json, fields_json)`` (the shape
    :func:`~clestudy.store._locking.check_batch` reads)."""

    derived: list[tuple[int, int, str, str, str, str]] = field(default_factory=list)
    discrepancies: list[dict[str, Any]] = field(default_factory=list)
    marks: list[tuple[str, int, str, str]] = field(default_factory=list)


def read_edit_details(conn: Connection, record_pks: Sequence[int]) -> EditDetails:
    """Read the derived scores, discrepancies and marks of stored records (one statement per
    500 records; each record's id is bound three times)."""
    details = EditDetails()
    for start in range(0, len(record_pks), CHUNK):
        part = list(record_pks[start : start + CHUNK])
        for row in conn.execute(_DETAILS, {"records": part}):
            kind = row.kind
            if kind == "d":
                details.derived.append((row.i1, row.i2, row.t1, row.t2, row.t3, row.t4))
            elif kind == "q":
                details.discrepancies.append(
                    {"id": row.i1, "record_id": row.i2, "check_id": row.t1, "severity": row.t2,
                     "status": row.t3, "fields_json": row.t4, "opened_at": row.t5,
                     "updated_at": row.t6, "updated_by": row.t7, "message": row.t8,
                     "resolution": row.t9}
                )  # fmt: skip
            else:
                details.marks.append(("mark", row.i2, row.t4, row.t1))
    details.derived.sort(key=lambda row: row[0])
    details.discrepancies.sort(key=lambda row: int(row["id"]))
    return details
