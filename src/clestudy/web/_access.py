"""The web layer's view of the store: studies, site-scoped subjects and records, previews.

Every read the pages and the API make goes through here, so site scoping is applied in one place:
:func:`subject_for` gives the same :class:`SubjectNotFoundError` for an unknown subject and for one of
a site the user does not see. Writes are the store's (``Store.save_record``, ``add_subject``);
this module only names the actor, which is always the authenticated user.

:func:`preview` runs the store's own validation, edit checks and derivation on a form's values
inside a read-only session that is rolled back, so the live score and the field messages of the
data-entry page come from the same code as a save, and a preview writes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clestudy.errors import ClestudyError, NotFoundError
from clestudy.protocol import FormSpec, StoredValue
from clestudy.store import RecordInput, RecordState, Store, SubjectState, list_studies, open_store
from clestudy.store._rows import record_key
from clestudy.store._subject_read import read_subject
from clestudy.web._auth import Principal
from clestudy.web._blinding import blind_subject

__all__ = [
    "FieldMessage",
    "Preview",
    "Studies",
    "StudyNotFoundError",
    "SubjectNotFoundError",
    "field_messages",
    "preview",
    "subject_for",
    "visible_subjects",
]


class SubjectNotFoundError(Exception):
    """An unknown subject, visit, form or record, or one of a site the user does not see."""


class StudyNotFoundError(Exception):
    """An unknown study id."""


class Studies:
    """The studies of one database, each opened once and kept for the app's life."""

    def __init__(self, db_url: str, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.db_url = db_url
        self.clock = clock
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        """The study ids in the database."""
        return list_studies(self.db_url)

    def store(self, study_id: str) -> Store:
        """The open store of a study in the database (opened on first use)."""
        with self._lock:
            found = self._stores.get(study_id)
            if found is not None:
                return found
            if study_id not in self.ids():
                raise StudyNotFoundError(study_id)
            store = open_store(self.db_url, study_id)
            if self.clock is not None:
                store.clock = self.clock
            self._stores[study_id] = store
            return store

    def close(self) -> None:
        """Dispose of every open store's connections."""
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()


def visible_subjects(store: Store, principal: Principal) -> list[SubjectState]:
    """The subjects of the user's sites (admins: all), in enrolment order (arms blinded for a
    blinded role)."""
    return [
        blind_subject(store, principal, s) for s in store.subjects() if principal.sees_site(s.site)
    ]


def subject_for(store: Store, principal: Principal, subject_id: str) -> SubjectState:
    """The subject, if the user may see it; else :class:`SubjectNotFoundError` (unknown or not theirs).

    One read-only query (:func:`clestudy.store._subject_read.read_subject`): every request that
    names a subject makes it.
    """
    subject = read_subject(store.engine, store.study_pk, subject_id)
    if subject is None or not principal.sees_site(subject.site):
        raise SubjectNotFoundError(subject_id)
    return blind_subject(store, principal, subject)


def form_at(store: Store, visit_id: str, form_id: str, instance: int) -> FormSpec:
    """The form, if the protocol collects it at the visit with this instance; else 404."""
    visit = store.protocol.visit(visit_id)
    form = store.protocol.form(form_id)
    if visit is None or form is None or form_id not in visit.forms:
        raise SubjectNotFoundError(f"{visit_id}/{form_id}")
    if instance < 1 or (instance != 1 and not form.repeating):
        raise SubjectNotFoundError(f"{visit_id}/{form_id}#{instance}")
    return form


def subject_records(store: Store, subject_id: str) -> list[RecordState]:
    """The subject's current records."""
    return store.records(subject_id=subject_id)


def find_record(
    store: Store, subject_id: str, visit_id: str, form_id: str, instance: int
) -> RecordState | None:
    """One current record, or ``None`` when it was never saved."""
    for record in store.records(form_id=form_id, visit_id=visit_id, subject_id=subject_id):
        if record.instance == instance:
            return record
    return None


@dataclass(frozen=True)
class FieldMessage:
    """A problem or edit-check finding shown beside a field (``field`` empty: the whole form)."""

    field: str
    severity: str  # "error" or "warning"
    message: str
    check_id: str = ""


@dataclass
class Preview:
    """What a save of these values would give, computed without writing."""

    values: dict[str, StoredValue]
    messages: list[FieldMessage] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[FieldMessage]:
        """The messages that would refuse the save."""
        return [m for m in self.messages if m.severity == "error"]

    def for_field(self, field_id: str) -> list[FieldMessage]:
        """The messages beside one field."""
        return [m for m in self.messages if m.field == field_id]


_FIELD_IN_MESSAGE = re.compile(r"field '([a-z][a-z0-9_]*)'|'([a-z][a-z0-9_]*)' is not a field")
_CHECK_LINE = re.compile(r"^([a-z][a-z0-9_]*(?:, [a-z][a-z0-9_]*)*): (.*) \[([a-z0-9_.]+)\]$")


def field_messages(text: str, where: str) -> list[FieldMessage]:
    """Split a store validation message (one problem a line) into per-field messages.

    A field problem names its field (``field 'esr': ...``); a failed edit check names its fields
    and ends with its id (``wbc, neut: message [labs.check]``) and gives one message per field.

    >>> field_messages("P1/v/f: field 'esr': 400 is out of range", "P1/v/f")
    [FieldMessage(field='esr', severity='error', message='400 is out of range', check_id='')]
    >>> [m.field for m in field_messages("P1/v/f: wbc, neut: too low [labs.x]", "P1/v/f")]
    ['wbc', 'neut']
    """
    out = []
    for line in text.splitlines():
        body = line.removeprefix(f"{where}: ")
        check = _CHECK_LINE.match(body)
        if check:
            for name in check.group(1).split(", "):
                out.append(FieldMessage(name, "error", check.group(2), check.group(3)))
            continue
        found = _FIELD_IN_MESSAGE.search(body)
        name = (found.group(1) or found.group(2)) if found else ""
        message = body
        if found and found.group(1) and body.startswith(f"field '{name}': "):
            message = body.removeprefix(f"field '{name}': ")
        out.append(FieldMessage(name, "error", message))
    return out


def preview(
    store: Store, subject_id: str, visit_id: str, form: FormSpec, raw: dict[str, Any], instance: int
) -> Preview:
    """Validate ``raw`` (a whole form's values) as a save would, and derive its scores; no write.

    The store's :meth:`~clestudy.store.Store.preview_record` decides the save; here its field
    problems and edit-check errors become errors beside their fields, and its warnings warnings.
    Derived scores are computed only when no required field or score input is missing (as on save).
    """
    where = record_key(subject_id, visit_id, form.id, instance)
    item = RecordInput(subject_id, visit_id, form.id, dict(raw), instance=instance, mode="replace")
    decided = store.preview_record(item)
    result = Preview(decided.values, field_messages("\n".join(decided.problems), where))
    result.missing = decided.missing
    for finding in decided.findings:
        for name in finding.fields or ("",):
            result.messages.append(
                FieldMessage(name, finding.severity, finding.message, finding.check_id)
            )
    if not result.missing and not result.errors:
        result.derived = decided.derived
    return result


def is_not_found(exc: ClestudyError) -> bool:
    """Whether a store error means "no such subject/record" (shown as the uniform 404)."""
    return isinstance(exc, NotFoundError)
