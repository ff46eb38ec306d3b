"""Form records as rows and as states: naming, loading, derived-score rows, edit preconditions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from clestudy.errors import NotFoundError, RecordLockedError, StaleVersionError
from clestudy.protocol import StoredValue
from clestudy.store._edits import RecordInput
from clestudy.store._schema import DerivedRow, DiscrepancyRow, RecordRow

__all__ = [
    "RecordSlot",
    "RecordState",
    "SubjectScope",
    "SubjectState",
    "check_edit",
    "derived_of",
    "find_record_row",
    "full_state",
    "record_entity_key",
    "record_key",
    "record_state",
    "refuse_if_locked",
]


@dataclass(frozen=True)
class RecordState:
    """A record as stored: values, derived scores (``{score_id: {...}}``), version and status.

    ``protocol_version`` is the version of the protocol the record was last saved under.
    """

    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    values: dict[str, StoredValue]
    derived: dict[str, dict[str, Any]]
    version: int
    status: str
    updated_at: str
    updated_by: str
    protocol_version: str | None = None

    @property
    def key(self) -> str:
        """``SUBJECT/VISIT/FORM[#INSTANCE]``, the record's name in messages and the audit trail."""
        return record_key(self.subject_id, self.visit_id, self.form_id, self.instance)


@dataclass(frozen=True)
class SubjectScope:
    """The subjects a save may write to on behalf of a site-scoped user (a web request).

    A subject outside the scope -- deleted, or of a site not in ``sites`` (``None``: every site,
    an admin's) -- is refused by the save exactly as a subject never enrolled
    (:class:`~clestudy.errors.NotFoundError`), before anything else about it is checked or
    written, so the answer does not tell another site's subject from an unknown id.

    >>> SubjectScope(frozenset({"site01"})).sees("site01", deleted=False)
    True
    >>> SubjectScope(None).sees("site02", deleted=True)
    False
    """

    sites: frozenset[str] | None

    def sees(self, site: str, *, deleted: bool) -> bool:
        """Whether a subject of ``site`` (``deleted`` or not) is in the scope."""
        return not deleted and (self.sites is None or site in self.sites)


@dataclass(frozen=True)
class SubjectState:
    """An enrolled subject."""

    subject_id: str
    arm: str
    site: str
    status: str


def record_key(subject: str, visit: str, form: str, instance: int) -> str:
    """``SUBJECT/VISIT/FORM[#INSTANCE]`` (the instance only when it is not 1).

    >>> record_key("P01", "week_0", "adverse_event", 2)
    'P01/week_0/adverse_event#2'
    """
    suffix = f"#{instance}" if instance != 1 else ""
    return f"{subject}/{visit}/{form}{suffix}"


def record_entity_key(study: str, subject: str, visit: str, form: str, instance: int) -> str:
    """The audit trail's entity key of a form record, e.g. ``study/P01/week_0/clasi``."""
    return f"{study}/{record_key(subject, visit, form, instance)}"


def find_record_row(
    session: Session, subject_pk: int, visit_id: str, form_id: str, instance: int
) -> RecordRow | None:
    """The stored row of one record, or ``None``."""
    return session.scalars(
        select(RecordRow).where(
            RecordRow.subject_id == subject_pk,
            RecordRow.visit_key == visit_id,
            RecordRow.form_key == form_id,
            RecordRow.instance == instance,
        )
    ).first()


@dataclass
class RecordSlot:
    """A form record as a batch save holds it in memory: its stored state, then each save's.

    ``stored_version`` is the version in the database (``None`` until the record is inserted);
    ``derived_pks`` the ids of its stored derived-score rows; ``derived`` and ``discrepancies``
    are ``None`` until read.
    """

    pk: int | None
    subject_pk: int
    subject_key: str
    visit_key: str
    form_key: str
    instance: int
    values_json: str
    status: str
    version: int
    deleted: bool
    updated_at: str
    updated_by: str
    protocol_version: str | None
    stored_version: int | None
    derived: dict[str, Any] | None = None
    derived_pks: dict[str, int] = field(default_factory=dict)
    discrepancies: dict[str, DiscrepancyRow] | None = None
    dirty: bool = False

    def full_state(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """The record's whole state as its audit events hold it (see :func:`full_state`).

        ``values`` are the values of ``values_json`` when the caller holds them already (a
        save, which has just encoded them): not decoded again.
        """
        return {
            "version": self.version,
            "status": self.status,
            "values": json.loads(self.values_json) if values is None else values,
            "derived": self.derived or {},
        }

    def full_state_json(self, values_json: str) -> str | None:
        """``plain_json(self.full_state(values))`` for a record without derived scores whose
        status is ASCII, given ``values_json``, the canonical text of values that need no
        conversion (:func:`~clestudy.store._audit.canonical_text` said so): put together
        directly, in key order. ``None`` for any other record (encode its state)."""
        status = self.status
        if self.derived or type(status) is not str or not status.isascii():
            return None
        return (
            f'{{"derived":{{}},"status":{encode_basestring(status)},"values":{values_json},'
            f'"version":{int.__repr__(self.version)}}}'
        )

    def state(self, values: dict[str, Any] | None = None) -> RecordState:
        """The record's :class:`RecordState` now (``values`` as for :meth:`full_state`).

        Made without the frozen dataclass's ``__init__``, which sets each of its eleven fields
        through ``object.__setattr__`` (a batch makes one state per record): the same fields,
        set at once, and as frozen as one made by ``__init__`` (``tests/store/test_batch_save``
        compares the two).
        """
        state = object.__new__(RecordState)
        state.__dict__.update(
            subject_id=self.subject_key,
            visit_id=self.visit_key,
            form_id=self.form_key,
            instance=self.instance,
            values=json.loads(self.values_json) if values is None else values,
            derived=self.derived or {},
            version=self.version,
            status=self.status,
            updated_at=self.updated_at,
            updated_by=self.updated_by,
            protocol_version=self.protocol_version,
        )
        return state


def refuse_if_locked(row: RecordRow | RecordSlot, where: str, what: str) -> None:
    """Raise :class:`~clestudy.errors.RecordLockedError` when ``row`` is locked.

    ``what`` names the refused write (``"an edit"``, ``"a delete"``, ...); every write path to a
    record calls this before it changes the record.
    """
    if row.status == "locked":
        raise RecordLockedError(
            f"record {where} is locked: {what} is refused until it is unlocked (with a reason)"
        )


def check_edit(row: RecordRow | RecordSlot | None, item: RecordInput, where: str) -> dict[str, Any]:
    """The stored values a save applies to (``{}`` to create), once the save is allowed.

    Raises
    ------
    NotFoundError
        An edit (``expected_version`` given) of a record that does not exist.
    RecordLockedError
        The record is locked.
    StaleVersionError
        A create over an existing record, or an edit made on another version.
    """
    if row is None:
        if item.expected_version is not None:
            raise NotFoundError(
                f"record {where} does not exist (the edit expected version {item.expected_version})"
            )
        return {}
    refuse_if_locked(row, where, "an edit")
    if item.expected_version is None:
        raise StaleVersionError(
            f"record {where} already exists at version {row.version}; an edit must give "
            "the version it was made on"
        )
    if item.expected_version != row.version:
        raise StaleVersionError(
            f"record {where}: the edit was made on version {item.expected_version} but "
            f"the record is now at version {row.version}; reload it and re-apply the edit"
        )
    stored: dict[str, Any] = json.loads(row.values_json)
    return stored


def _derived_entry(row: DerivedRow) -> dict[str, Any]:
    return {
        "instrument": row.instrument,
        "version": row.instrument_version,
        "values": json.loads(row.values_json),
    }


def derived_of(session: Session, record_pk: int) -> dict[str, Any]:
    """The stored derived scores of a record, ``{score_id: {instrument, version, values}}``."""
    rows = session.scalars(select(DerivedRow).where(DerivedRow.record_id == record_pk))
    return {r.score_key: _derived_entry(r) for r in rows}


def derived_by_record(session: Session, records: Select[Any]) -> dict[int, dict[str, Any]]:
    """The derived scores of every record ``records`` selects, in one query.

    ``records`` is a select of record primary keys; the result maps each key that has derived
    rows to ``{score_id: {instrument, version, values}}`` (:func:`derived_of` for one record).
    """
    found: dict[int, dict[str, Any]] = {}
    query = select(DerivedRow).where(DerivedRow.record_id.in_(records.scalar_subquery()))
    for r in session.scalars(query):
        found.setdefault(r.record_id, {})[r.score_key] = _derived_entry(r)
    return found


def full_state(session: Session, row: RecordRow) -> dict[str, Any]:
    """A record's whole state as its audit events hold it (docs/architecture.md, agreed shapes)."""
    return {
        "version": row.version,
        "status": row.status,
        "values": json.loads(row.values_json),
        "derived": derived_of(session, row.id),
    }


def record_state(
    session: Session, row: RecordRow, subject_id: str, derived: dict[str, Any] | None = None
) -> RecordState:
    """The :class:`RecordState` of a stored row (``derived`` when already read, else queried)."""
    return RecordState(
        subject_id=subject_id,
        visit_id=row.visit_key,
        form_id=row.form_key,
        instance=row.instance,
        values=json.loads(row.values_json),
        derived=derived_of(session, row.id) if derived is None else derived,
        version=row.version,
        status=row.status,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        protocol_version=row.protocol_version,
    )
