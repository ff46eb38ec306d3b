"""The save path of :meth:`Store.save_records`: read once, decide in memory, write in bulk.

A batch of N records runs a fixed number of SQL statements, not a number that grows with N
(``tests/store/test_query_counts.py`` counts them; a very large batch splits its ``IN`` lists and
its multi-row ``INSERT`` into pages):

1. **Reads.** One statement (:mod:`clestudy.store._save_read`) reads the batch's subjects with
   every record of those subjects (which exist, their versions and statuses, the highest
   instances for ``"next"``, and the stored values the edit checks and lab grades need), their
   visit and subject locks, which of them have a valid signature, and their audit chains'
   heads; when the batch edits stored records, one more of their derived scores, their
   discrepancies and their verification marks.
2. **Decisions, in memory and in batch order.** Each record is validated, checked, derived,
   versioned and audited exactly as if the batch's records were saved one by one: a record sees
   the records saved before it in the batch (its edit-check and lab context, its ``"next"``
   instance, a second edit of the same record). The first invalid record raises, and the
   transaction rolls back: nothing of the batch is saved.
3. **Writes.** One ``INSERT ... RETURNING`` of the new record rows (their ids, in order), one
   ``UPDATE`` executed for all edited rows and guarded by their stored versions (optimistic
   locking: a row changed by someone else updates nothing and the batch fails with a
   :class:`~clestudy.errors.StaleVersionError`), and one statement per kind of change to
   derived-score and discrepancy rows. The audit events queued in step 2 are chained and
   inserted by :mod:`clestudy.store._chain` before the commit.

Every row a batch writes carries one time, read once from the store clock, as its audit events
always did.

Hand-written rather than left to the ORM's unit of work because the ORM flushes per record to
learn primary keys and versions, which is what made a batch cost O(N) statements.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, text, update
from sqlalchemy.orm import Session

from clestudy.errors import InputError, NotFoundError, StaleVersionError
from clestudy.protocol import (
    EditFinding,
    FormSpec,
    Protocol,
    StoredValue,
    check_values,
    run_edit_checks,
)
from clestudy.protocol._model import IdentityCache
from clestudy.store._audit import canonical_text, plain_json_with
from clestudy.store._chain import prime_heads, queue_event
from clestudy.store._checks import SubjectFields, check_context, run_checks
from clestudy.store._discrepancies import audit_discrepancy, sync_discrepancies
from clestudy.store._edits import RecordInput, SavePlan, derive_scores, merge_for_save
from clestudy.store._engine import insert_through_driver, insert_tuples_through_driver, is_postgres
from clestudy.store._lab_context import lab_context
from clestudy.store._locking import check_batch
from clestudy.store._query_hooks import raise_queries_from_checks
from clestudy.store._randomization import StratumGuard
from clestudy.store._rows import RecordSlot, RecordState, SubjectScope, check_edit, record_key
from clestudy.store._save_read import read_edit_details, read_save_state
from clestudy.store._schema import Base, DiscrepancyRow
from clestudy.store._signatures_void import void_signatures_of_batch

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = ["RecordPreview", "preview_record", "save_batch"]

#: New rows up to which the records are inserted with ``RETURNING`` (one statement, no id query;
#: above it, ids from PostgreSQL's sequence or one past SQLite's largest).
_RETURNING_MAX = 50

_T = Base.metadata.tables
_RECORD: Table = _T["form_record"]
_DERIVED: Table = _T["derived_score"]
_DISCREPANCY: Table = _T["discrepancy"]

_NEXT_RECORD_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('form_record', 'id')) FROM generate_series(1, :n)"
)
_NEXT_SQLITE_RECORD_ID = "SELECT coalesce(max(id), 0) + 1 FROM form_record"
#: The columns of a new record row as :meth:`_Batch._insert_new` inserts it on SQLite.
_RECORD_COLUMNS = (
    "id", "study_id", "subject_id", "visit_key", "form_key", "instance", "values_json", "status",
    "version", "created_at", "updated_at", "updated_by", "protocol_version", "deleted",
)  # fmt: skip

# the per-save inserts, built once (building a statement costs more than running it on SQLite)
_INSERT_RECORDS = insert(_RECORD)
_INSERT_RECORDS_RETURNING = insert(_RECORD).returning(
    _RECORD.c.id, _RECORD.c.subject_id, _RECORD.c.visit_key, _RECORD.c.form_key,
    _RECORD.c.instance,
)  # fmt: skip
#: One new record on SQLite, its id returned (every web save; no cache lookup or bind processing).
_INSERT_ONE_RECORD_SQLITE = (
    f"INSERT INTO form_record ({', '.join(_RECORD_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' for _ in _RECORD_COLUMNS[1:])}) RETURNING id"
)
_INSERT_DERIVED = insert(_DERIVED)
_INSERT_DISCREPANCIES = insert(_DISCREPANCY)


def _insert_rows(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (text, integers and nulls, every row with the same keys) into the table of
    ``statement``, its prebuilt ``INSERT``: on SQLite through the driver
    (:func:`~clestudy.store._engine.insert_through_driver`: the rows stored as SQLAlchemy would
    bind them, without its statement cache lookup and per-row parameter processing, a tenth of a
    single form save's CPU time with the record insert), elsewhere by ``statement``."""
    if not rows:
        return
    if is_postgres(conn):
        conn.execute(statement, rows)
    else:
        insert_through_driver(conn, statement.table.name, rows)


@dataclass(frozen=True)
class _Lookups:
    """A protocol's save lookups (:class:`SavePlan`, :class:`SubjectFields`), made once for the
    protocol rather than once per save."""

    plan: SavePlan
    places: SubjectFields


def _make_lookups(protocol: Protocol) -> _Lookups:
    return _Lookups(SavePlan(protocol), SubjectFields.of(protocol))


#: The lookups of the protocols saved to lately (kept by the protocol object's identity).
_LOOKUPS: IdentityCache[Protocol, _Lookups] = IdentityCache(_make_lookups, 32)
_lookups = _LOOKUPS.get


Place = tuple[int, str, str, int]  # subject pk, visit, form, instance
_DISCREPANCY_STATE = (
    "fields_json", "message", "status", "resolution", "updated_at", "updated_by",
)  # fmt: skip


@dataclass
class _Subject:
    pk: int
    key: str
    deleted: bool


def _derived_json(values: Any) -> str:
    return json.dumps(values, sort_keys=True, allow_nan=False)


def _derived_entry(instrument: str, version: str, values_json: str) -> dict[str, Any]:
    return {"instrument": instrument, "version": version, "values": json.loads(values_json)}


class _Batch:
    """One batch save: the rows it read, the states it decided, and the writes they need."""

    def __init__(
        self, store: Store, session: Session, actor: str, reason: str | None,
        scope: SubjectScope | None = None,
    ) -> None:  # fmt: skip
        self.store, self.session, self.actor, self.reason = store, session, actor, reason
        #: the subjects a site-scoped save may see (``None``: every subject)
        self.scope = scope
        self.protocol = store.protocol
        lookups = _lookups(store.protocol)
        self.plan, self.places = lookups.plan, lookups.places
        self.conn = session.connection()
        self.now = store._now()
        self.today = store.clock().date()
        self.reason_required = bool(store.protocol.settings.get("reason_for_change_required", True))
        self.subjects: dict[str, _Subject] = {}
        self.slots: dict[Place, RecordSlot] = {}
        self.highest: dict[tuple[int, str, str], int] = {}
        #: per subject, ``{(visit, form): values}`` of first instances in record order
        self.stored: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
        self.new: list[RecordSlot] = []
        self.touched_subjects: list[_Subject] = []
        self.touched_records: list[RecordSlot] = []
        self.changed_discrepancies: set[int] = set()
        #: what :meth:`read` found: ``(subject pk, visit or "")`` locked, subjects signed
        self.locks: set[tuple[int, str]] = set()
        self.signed: set[int] = set()
        #: the verification marks of the records read for editing (:meth:`_read_details`)
        self.marks: list[tuple[str, int, str, str]] = []
        self.strata = StratumGuard(store.protocol, self.conn, store.study_pk)

    # -- reads ---------------------------------------------------------------------------------

    def read(self, items: Sequence[RecordInput]) -> None:
        """Read the batch's subjects, their records, locks, signatures and chain heads
        (:mod:`clestudy.store._save_read`), and what the batch edits of them."""
        keys = sorted({item.subject_id for item in items})
        state = read_save_state(self.conn, self.store.study_pk, self.protocol.id, keys)
        self.locks, self.signed = state.locks, state.signed
        prime_heads(self.session, state.chains, state.heads, state.enrolled)
        scope = self.scope
        for row in state.records:
            subject = self.subjects.get(row.t1)
            if subject is None:
                if scope is not None and not scope.sees(row.t9, deleted=bool(row.b1)):
                    continue  # save() refuses it as a subject never enrolled
                subject = self.subjects[row.t1] = _Subject(row.i1, row.t1, bool(row.b1))
            if row.i2 is None:  # a subject without records
                continue
            slot = RecordSlot(
                row.i2, row.i1, subject.key, row.t2, row.t3, row.i3, row.t4, row.t5, row.i4,
                bool(row.b2), row.t6, row.t7, row.t8, row.i4,
            )  # fmt: skip
            self._remember(slot)
        named: dict[int, RecordSlot] = {}
        for item in items:
            subject = self.subjects.get(item.subject_id)
            if subject is None or not isinstance(item.instance, int):
                continue
            found = self.slots.get((subject.pk, item.visit_id, item.form_id, item.instance))
            if found is not None and found.pk is not None:
                named[found.pk] = found
        self._read_details(list(named.values()))

    def _remember(self, slot: RecordSlot, values: dict[str, Any] | None = None) -> None:
        self.slots[(slot.subject_pk, slot.visit_key, slot.form_key, slot.instance)] = slot
        form = (slot.subject_pk, slot.visit_key, slot.form_key)
        self.highest[form] = max(self.highest.get(form, 0), slot.instance)
        stored = self.stored.setdefault(slot.subject_pk, {})
        if slot.instance == 1:
            stored[(slot.visit_key, slot.form_key)] = (
                json.loads(slot.values_json) if values is None else dict(values)
            )

    def _read_details(self, slots: list[RecordSlot]) -> None:
        """Read the derived scores, discrepancies and verification marks of stored records
        (one statement: :func:`~clestudy.store._save_read.read_edit_details`)."""
        edited = {slot.pk: slot for slot in slots if slot.pk is not None}
        for slot in edited.values():
            slot.derived, slot.discrepancies = {}, {}
        if not edited:
            return
        details = read_edit_details(self.conn, sorted(edited))
        for pk, record_pk, score, instrument, version, values_json in details.derived:
            slot = edited[record_pk]
            assert slot.derived is not None
            slot.derived[score] = _derived_entry(instrument, version, values_json)
            slot.derived_pks[score] = pk
        for row in details.discrepancies:
            slot = edited[row["record_id"]]
            assert slot.discrepancies is not None
            slot.discrepancies[row["check_id"]] = DiscrepancyRow(**row)
        self.marks.extend(details.marks)

    # -- decisions -----------------------------------------------------------------------------

    def save(self, item: RecordInput) -> RecordState:
        """Decide one record's save (see the module docstring); returns its new state."""
        slot, values = self.decide(item)
        if values is None:
            return slot.state()  # no change: nothing written
        return slot.state(dict(sorted(values.items())))  # in values_json's key order

    def decide(self, item: RecordInput) -> tuple[RecordSlot, dict[str, StoredValue] | None]:
        """Decide one record's save: its slot, and the values it stores (``None``: unchanged,
        nothing written). :meth:`save` without building the new state."""
        instance = 1 if item.instance == "next" else item.instance
        where = record_key(item.subject_id, item.visit_id, item.form_id, instance)
        form = self.plan.form_of(item, where)
        subject = self.subjects.get(item.subject_id)
        if subject is None:
            raise NotFoundError(
                f"{where}: subject '{item.subject_id}' is not enrolled in {self.protocol.id}"
            )
        if item.instance == "next":
            instance = self.highest.get((subject.pk, item.visit_id, item.form_id), 0) + 1
            where = record_key(item.subject_id, item.visit_id, item.form_id, instance)
        place = (subject.pk, item.visit_id, item.form_id, instance)
        self.touched_subjects.append(subject)
        slot = self.slots.get(place)
        if slot is not None:
            self.touched_records.append(slot)
            if slot.derived is None:  # not named by the batch as read (read it now)
                self._read_details([slot])
        stored = check_edit(slot, item, where)
        raw, cleared, hidden = merge_for_save(form, stored, item)
        values, problems = self.check(form, raw, item, where, hidden)
        if slot is not None and values == stored and not problems:
            return slot, None  # no change: nothing written
        subject_values = self.stored.setdefault(subject.pk, {})
        warnings = run_checks(
            self.plan,
            lambda: check_context(
                self.plan, self.places, self.today, subject_values, item.visit_id, form, values
            ),
            form, values, problems, where,
        )  # fmt: skip
        warnings += self.strata.findings(
            self._subject_pks, subject.pk, item.visit_id, item.form_id,
            instance, values,
        )  # fmt: skip
        missing = self.plan.missing(form, values, hidden)  # as validated: the same fields hide
        scores = self.plan.derived(item.form_id)
        derived = {} if missing or not scores else derive_scores(
            self.protocol, item.form_id,
            lab_context(self.protocol, subject_values, item.visit_id, form, values), where,
            scores,
        )  # fmt: skip
        status = "incomplete" if missing else "complete"
        # one walk of the values: their text, and whether the event's state may reuse it
        values_json, plain = canonical_text(values)
        if slot is None:
            before = None
            slot = RecordSlot(
                None, subject.pk, subject.key, item.visit_id, item.form_id, instance,
                values_json, status, 1, False, self.now, self.actor,
                self.protocol.version, None, {}, {}, {}, True,
            )  # fmt: skip
            self.new.append(slot)
            self._remember(slot, values)
        else:
            before = slot.full_state()
            if self.reason_required and not (self.reason and self.reason.strip()):
                raise InputError(
                    f"record {where}: a reason for change is required to edit a saved record"
                )
            slot.values_json = values_json
            slot.status = status
            slot.version += 1
            slot.protocol_version = self.protocol.version
            slot.updated_at, slot.updated_by, slot.dirty = self.now, self.actor, True
            if instance == 1:
                subject_values[(item.visit_id, item.form_id)] = dict(values)
        slot.derived = {
            score: _derived_entry(d["instrument"], d["version"], _derived_json(d["values"]))
            for score, d in derived.items()
        } if derived else {}  # fmt: skip
        # the checked values are what values_json encodes (str, int, bool, lists of codes):
        # they go to the event and the result as they are, not decoded again
        after = slot.full_state(values)
        if cleared:
            after["cleared"] = cleared
        if before is not None and before["status"] == "verified":
            after["verification_reset"] = True
        queue_event(  # what Store._append_audit does, without its second keyword hop
            self.session,
            actor=self.actor,
            action="create" if before is None else "update",
            entity_type="form_record",
            entity_key=f"{self.protocol.id}/{where}",
            before=before,
            after=after,
            reason=self.reason,
            after_json=(
                (plain and len(after) == 4 and slot.full_state_json(values_json))
                or plain_json_with(after, "values", values, values_json, plain=plain)
            ),
        )
        if warnings or slot.discrepancies:  # else none to open, reopen or resolve
            self._discrepancies(slot, where, warnings)
        return slot, values

    def _subject_pks(self) -> list[int]:
        return [s.pk for s in self.subjects.values()]

    def check(
        self,
        form: FormSpec,
        raw: dict[str, Any],
        item: RecordInput,
        where: str,
        hidden: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, StoredValue], list[str]]:
        """The values one save stores and its field problems (:func:`check_values`, not
        requiring a value; an import's batch, :mod:`clestudy.store._import_batch`, reuses the
        result of the same check made before its transaction)."""
        return check_values(
            form, raw, where=where, require=False, hidden=hidden, missing_codes=self.plan.codes()
        )

    def _discrepancies(self, slot: RecordSlot, where: str, warnings: list[EditFinding]) -> None:
        if slot.discrepancies is None:
            slot.discrepancies = {}
        events = sync_discrepancies(
            slot.discrepancies, warnings, now=self.now, actor=self.actor, version=slot.version
        )
        for action, row, before, reason in events:
            if row.id is not None:
                self.changed_discrepancies.add(row.id)
            audit_discrepancy(self.store, self.session, row, where, action, before, self.actor,
                              reason)  # fmt: skip

    def refuse_deleted(self) -> None:
        """Refuse a batch that saved to a deleted subject, else to a deleted record.

        Raises
        ------
        InputError
            Naming the first such subject (else record); restore it first.
        """
        for subject in self.touched_subjects:
            if subject.deleted:
                raise InputError(f"subject {subject.key} is deleted; restore it before saving")
        for slot in self.touched_records:
            if slot.deleted:
                suffix = f"#{slot.instance}" if slot.instance != 1 else ""
                name = f"{slot.subject_key}/{slot.visit_key}/{slot.form_key}{suffix}"
                raise InputError(f"record {name} is deleted; restore it before saving to it")

    # -- writes --------------------------------------------------------------------------------

    def write(self) -> None:
        """Insert, update and delete the rows the batch's decisions need (module docstring)."""
        dirty = [s for s in self.slots.values() if s.dirty]
        check_batch(self.store, self.session, dirty, locks=self.locks, marks=self.marks)
        conn = self.conn
        if self.new:
            self._insert_new(conn)
        edited = [s for s in self.slots.values() if s.dirty and s.stored_version is not None]
        if edited:
            c = _RECORD.c
            result = conn.execute(
                update(_RECORD)
                .where(c.id == bindparam("b_id"), c.version == bindparam("b_stored"))
                .values(
                    values_json=bindparam("b_values"), status=bindparam("b_status"),
                    version=bindparam("b_version"), updated_at=bindparam("b_at"),
                    updated_by=bindparam("b_by"), protocol_version=bindparam("b_protocol"),
                ),
                [
                    {"b_id": s.pk, "b_stored": s.stored_version, "b_values": s.values_json,
                     "b_status": s.status, "b_version": s.version, "b_at": s.updated_at,
                     "b_by": s.updated_by, "b_protocol": s.protocol_version}
                    for s in edited
                ],
            )  # fmt: skip
            if result.rowcount != len(edited):
                raise StaleVersionError(
                    "a record changed while this batch was being saved; reload and re-apply"
                )
        written = [*self.new, *edited]
        self._write_derived(written)
        self._write_discrepancies(written)
        void_signatures_of_batch(self.store, self.session, written, self.actor, self.signed)
        raise_queries_from_checks(self.store, self.session, written, self.actor, self.now)

    def _insert_new(self, conn: Connection) -> None:
        """Insert the new record rows and learn their ids, in one statement per page of rows."""
        if len(self.new) > _RETURNING_MAX and not is_postgres(conn):
            # SQLite, whose BEGIN IMMEDIATE keeps every other writer out until the commit: the
            # ids SQLite would give (one past the largest: the id is the rowid, without
            # AUTOINCREMENT), set here, and the rows inserted through the driver as tuples,
            # without a RETURNING row, a dict per record or SQLAlchemy's parameter processing
            first = conn.exec_driver_sql(_NEXT_SQLITE_RECORD_ID).scalar_one()
            study, now = self.store.study_pk, self.now
            for pk, slot in enumerate(self.new, start=first):
                slot.pk = pk
            insert_tuples_through_driver(conn, "form_record", _RECORD_COLUMNS, [
                (s.pk, study, s.subject_pk, s.visit_key, s.form_key, s.instance, s.values_json,
                 s.status, s.version, now, s.updated_at, s.updated_by, s.protocol_version, False)
                for s in self.new
            ])  # fmt: skip
            return
        rows = [
            {"study_id": self.store.study_pk, "subject_id": s.subject_pk, "visit_key": s.visit_key,
             "form_key": s.form_key, "instance": s.instance, "values_json": s.values_json,
             "status": s.status, "version": s.version, "created_at": self.now,
             "updated_at": s.updated_at, "updated_by": s.updated_by,
             "protocol_version": s.protocol_version, "deleted": False}
            for s in self.new
        ]  # fmt: skip
        if is_postgres(conn) and len(rows) > _RETURNING_MAX:
            # ids from the table's sequence in one query, then a plain executemany: psycopg
            # sends that as one pipeline, where a multi-row INSERT ... RETURNING of thousands of
            # rows costs several times more to build and parse (and a few rows, one more round
            # trip than the INSERT ... RETURNING below)
            ids = conn.execute(_NEXT_RECORD_IDS, {"n": len(rows)}).scalars().all()
            for slot, row, pk in zip(self.new, rows, sorted(ids), strict=True):
                slot.pk = row["id"] = pk
            conn.execute(_INSERT_RECORDS, rows)
            return
        if len(rows) == 1 and not is_postgres(conn):
            # one record (every web save): its id from the driver's RETURNING, as above without
            # SQLAlchemy's statement cache lookup and parameter processing
            row = rows[0]
            self.new[0].pk = conn.exec_driver_sql(
                _INSERT_ONE_RECORD_SQLITE, tuple(row[c] for c in _RECORD_COLUMNS[1:])
            ).scalar_one()
            return
        # RETURNING names each row by its unique place, so no row order is relied upon (an
        # ordered RETURNING would make SQLite insert one row per statement)
        result = conn.execute(_INSERT_RECORDS_RETURNING, rows)
        for pk, subject_pk, visit_key, form_key, instance in result:
            self.slots[(subject_pk, visit_key, form_key, instance)].pk = pk

    def _write_derived(self, written: list[RecordSlot]) -> None:
        conn = self.conn
        gone: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for slot in written:
            derived = slot.derived or {}
            for score, pk in slot.derived_pks.items():
                if score not in derived:
                    gone.append({"b_id": pk})
            for score, entry in derived.items():
                row = {
                    "instrument": entry["instrument"],
                    "instrument_version": entry["version"],
                    "values_json": _derived_json(entry["values"]),
                    "computed_at": slot.updated_at,
                }
                if score in slot.derived_pks:
                    changed.append({f"b_{k}": v for k, v in row.items()} | {
                        "b_id": slot.derived_pks[score]
                    })  # fmt: skip
                else:
                    added.append(row | {"record_id": slot.pk, "score_key": score})
        d = _DERIVED.c
        if gone:
            conn.execute(delete(_DERIVED).where(d.id == bindparam("b_id")), gone)
        if changed:
            conn.execute(
                update(_DERIVED)
                .where(d.id == bindparam("b_id"))
                .values(
                    instrument=bindparam("b_instrument"),
                    instrument_version=bindparam("b_instrument_version"),
                    values_json=bindparam("b_values_json"),
                    computed_at=bindparam("b_computed_at"),
                ),
                changed,
            )
        _insert_rows(conn, _INSERT_DERIVED, added)

    def _write_discrepancies(self, written: list[RecordSlot]) -> None:
        conn = self.conn
        added: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for slot in written:
            for row in (slot.discrepancies or {}).values():
                state = {k: getattr(row, k) for k in _DISCREPANCY_STATE}
                if row.id is None:
                    added.append(state | {
                        "record_id": slot.pk, "check_id": row.check_id,
                        "severity": row.severity, "opened_at": row.opened_at,
                    })  # fmt: skip
                elif row.id in self.changed_discrepancies:
                    changed.append({f"b_{k}": v for k, v in state.items()} | {"b_id": row.id})
        q = _DISCREPANCY.c
        _insert_rows(conn, _INSERT_DISCREPANCIES, added)
        if changed:
            conn.execute(
                update(_DISCREPANCY)
                .where(q.id == bindparam("b_id"))
                .values(**{k: bindparam(f"b_{k}") for k in _DISCREPANCY_STATE}),
                changed,
            )


@dataclass
class RecordPreview:
    """What saving one form's values would do, computed by the save path and written nowhere.

    ``values`` are the checked values, ``problems`` the field problems a save would refuse,
    ``findings`` every edit-check finding (errors and warnings), ``missing`` the required fields
    without a value (the record would be ``incomplete`` and get no derived score) and ``derived``
    the derived scores ``{score: {"instrument", "version", "values"}}`` a save would store.
    """

    values: dict[str, Any]
    problems: list[str]
    findings: list[EditFinding]
    missing: list[str]
    derived: dict[str, dict[str, Any]]


def preview_record(store: Store, session: Session, item: RecordInput) -> RecordPreview:
    """Decide ``item`` as :func:`save_batch` would, but collect every problem and write nothing.

    The subject's stored records are read as for a save (its edit-check and lab-grading context);
    unlike a save, field problems and edit-check errors are returned, not raised, and the
    derived scores are computed only when no required field is missing and nothing is wrong.
    Raises :class:`~clestudy.errors.NotFoundError` for a subject that is not enrolled.
    """
    batch = _Batch(store, session, "preview", None)
    batch.read([item])
    instance = 1 if item.instance == "next" else item.instance
    where = record_key(item.subject_id, item.visit_id, item.form_id, instance)
    form = batch.plan.form_of(item, where)
    subject = batch.subjects.get(item.subject_id)
    if subject is None or subject.deleted:
        raise NotFoundError(f"{where}: subject '{item.subject_id}' is not enrolled")
    slot = batch.slots.get((subject.pk, item.visit_id, item.form_id, instance))
    stored = {} if slot is None else json.loads(slot.values_json)
    raw, _, hidden = merge_for_save(form, stored, item)
    values, problems = check_values(
        form, raw, where=where, require=False, hidden=hidden, missing_codes=batch.plan.codes()
    )
    subject_values = batch.stored.get(subject.pk, {})
    context = check_context(
        batch.plan, batch.places, batch.today, subject_values, item.visit_id, form, values
    )
    findings = list(run_edit_checks(store.protocol, form.id, values, context))
    findings += batch.strata.findings(  # the save's stratification warning, shown before it
        batch._subject_pks, subject.pk, item.visit_id, item.form_id, instance, values
    )
    missing = batch.plan.missing(form, values, hidden)
    derived: dict[str, dict[str, Any]] = {}
    if not missing and not problems and all(f.severity != "error" for f in findings):
        derived = derive_scores(
            store.protocol, item.form_id,
            lab_context(store.protocol, subject_values, item.visit_id, form, values), where,
            batch.plan.derived(item.form_id),
        )  # fmt: skip
    return RecordPreview(dict(values), list(problems), findings, list(missing), derived)


def save_batch(
    store: Store,
    session: Session,
    items: Sequence[RecordInput],
    actor: str,
    reason: str | None,
    kind: type[_Batch] = _Batch,
    scope: SubjectScope | None = None,
    *,
    states: bool = True,
) -> list[RecordState]:
    """Save ``items`` in ``session``'s transaction (see the module docstring); ``kind`` is the
    batch class (an import's trusts the values it checked: :mod:`clestudy.store._import_batch`);
    ``scope`` limits the subjects it sees (:class:`~clestudy.store._rows.SubjectScope`).

    Returns each record's new state, in ``items`` order; with ``states=False`` none is built
    (an empty list), for a caller that does not read them (an import of thousands of records).
    """
    batch = kind(store, session, actor, reason, scope)
    batch.read(items)
    if states:
        saved = [batch.save(item) for item in items]
    else:
        saved = []
        decide = batch.decide
        for item in items:
            decide(item)
    batch.refuse_deleted()
    batch.write()
    return saved
