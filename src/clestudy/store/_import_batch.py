"""One import, one transaction: enrol subjects, save records and keep another system's history.

An import (REDCap, CDISC ODM) writes three kinds of things, and :func:`save_import` writes them in
one database transaction, so that a failed or killed import leaves nothing half-written:

1. the subjects it enrols, all at once, by the body of :meth:`Store.add_subject`
   (:func:`clestudy.store._enrol.enrol_subjects`: one ``subject``/``enroll`` event each);
2. its records, exactly as :meth:`Store.save_records` saves them (validated, versioned, one
   ``form_record`` event each), except that a record's values are checked once: an importer
   checks every value of its file with :func:`checked_values` before it writes anything (so that
   it can refuse the whole file with every problem, each named by file, line and field), and the
   transaction stores those checked values instead of parsing them again;
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

import gc
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy.orm.exc import StaleDataError

from clestudy.errors import InputError, StaleVersionError
from clestudy.protocol import FormSpec, StoredValue, check_values
from clestudy.store._batch import _Batch, save_batch
from clestudy.store._chain import lock_subjects
from clestudy.store._edits import RecordInput
from clestudy.store._engine import widen_page_cache
from clestudy.store._enrol import SubjectInput, enrol_subjects
from clestudy.store._rows import RecordState

if TYPE_CHECKING:
    from clestudy.store._service import Store

__all__ = [
    "IMPORTED_HISTORY",
    "CheckedValues",
    "ImportedEvent",
    "SubjectInput",
    "checked_values",
    "collection_paused",
    "save_import",
]

#: ``entity_type`` of an event of another system's audit trail, kept as imported history.
IMPORTED_HISTORY = "imported_history"


class CheckedValues(dict[str, StoredValue]):
    """A record's values as :func:`checked_values` returned them: normalised for ``form``, with
    no problem. Read-only, so that what the check saw is what the store writes."""

    __slots__ = ("form",)

    def __init__(self, form: FormSpec, values: Mapping[str, StoredValue]) -> None:
        super().__init__(values)
        self.form = form

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("checked values are read-only: copy them with dict() to change them")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only


def checked_values(
    form: FormSpec,
    values: Mapping[str, object],
    *,
    where: str,
    require: bool = True,
    missing_codes: Collection[str] = (),
) -> tuple[dict[str, StoredValue], list[str]]:
    """Check a record's values for an import, once (:func:`clestudy.protocol.check_values`:
    every field problem and, with ``require``, every required field left empty, each message
    starting with ``where``; ``missing_codes`` are the protocol's missing-data codes).

    With no problem, the values come back as :class:`CheckedValues`: a :class:`RecordInput` of
    them saved by :func:`save_import` as a new record stores them as they are, without checking
    them again (the store's own check, :meth:`Store.save_records`, would return them unchanged).

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> form = load_protocol("pediatric-cle-chart-review").form("labs")
    >>> values, problems = checked_values(form, {"lbdat": "2011-03-01", "esr": " 26"}, where="x")
    >>> values, type(values).__name__, problems
    ({'lbdat': '2011-03-01', 'esr': 26}, 'CheckedValues', [])
    >>> checked_values(form, {"esr": "400"}, where="x")[1]
    ["x: field 'lbdat' is required", "x: field 'esr': '400' is out of range; allowed 0 to 200 mm/h"]
    """
    out, problems = check_values(
        form, values, where=where, require=require, missing_codes=missing_codes
    )
    return (out, problems) if problems else (CheckedValues(form, out), [])


class _ImportBatch(_Batch):
    """:func:`clestudy.store._batch.save_batch`'s batch, trusting :class:`CheckedValues`."""

    def check(
        self,
        form: FormSpec,
        raw: dict[str, Any],
        item: RecordInput,
        where: str,
        hidden: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, StoredValue], list[str]]:
        values = item.values
        # a new record's values are the item's own (merged with nothing stored), checked by
        # checked_values against this very form: the check would return them unchanged
        if type(values) is CheckedValues and values.form is form and raw == values:
            return dict(values), []
        return super().check(form, raw, item, where, hidden)


@dataclass(frozen=True)
class ImportedEvent:
    """One entry of another system's history: where it belongs and what it said.

    ``path`` is ``""`` for the subject itself, ``VISIT`` for a visit, or ``VISIT/FORM[#N]`` for a
    record (the record's own key).
    """

    subject_id: str
    path: str
    payload: dict[str, Any]


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for an import's bulk work, and resume it after.

    An import holds every record's input, checked values, state and queued audit event alive
    until its one commit: hundreds of thousands of containers that each full collection scans
    again and again without finding garbage (measured: a fifth of a 30,000-record import's CPU
    time). Reference counting still frees what the import drops; the collector runs again when
    the outermost pause ends (a pause inside another, or while collection is off, changes
    nothing).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def save_import(
    store: Store,
    *,
    subjects: Sequence[SubjectInput] = (),
    records: Sequence[RecordInput] = (),
    history: Sequence[ImportedEvent] = (),
    actor: str,
    reason: str,
    states: bool = True,
) -> list[RecordState]:
    """Enrol ``subjects``, save ``records`` and keep ``history``, all in one transaction.

    Returns the records' new states in ``records`` order; ``states=False`` builds none (an
    empty list): an importer that reports its own plan does not pay for 30,000 of them.

    Subjects are enrolled together by the body of :meth:`Store.add_subject`
    (:func:`clestudy.store._enrol.enrol_subjects`), then records are saved by the save path of
    :meth:`Store.save_records` (:func:`clestudy.store._batch.save_batch`; the values of a new
    record given as :class:`CheckedValues` are stored without a second check). Every event
    carries ``actor`` and ``reason`` (the import's source files and their SHA-256).

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
        with collection_paused(), store._write() as session:
            widen_page_cache(session)  # no page spilled mid-transaction, see its docstring
            lock_subjects(session, study, touched)
            enrol_subjects(store, session, subjects, actor=actor, reason=reason, by="by an import")
            saved = (
                save_batch(store, session, records, actor, reason, _ImportBatch, states=states)
                if records
                else []
            )
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
