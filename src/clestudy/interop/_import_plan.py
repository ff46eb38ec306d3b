"""What an import does: creates, updates and unchanged records, shared by the REDCap and ODM
importers.

An import compares what its file holds with the database: a record not yet stored is a *create*,
one whose values differ is an *update* (the file's record replaces the stored one: every field
named, a blank one as ``None``), one with the same values is *unchanged* and is not written.
A subject already enrolled must keep its arm and site.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from typing import Protocol as TypingProtocol

from clestudy.errors import InputError, NotFoundError
from clestudy.protocol import FormSpec, Protocol, check_values
from clestudy.protocol._missing_codes import RESERVED_KEYS
from clestudy.store import (
    CheckedValues,
    RecordInput,
    RecordState,
    Store,
    list_studies,
    open_store,
)

__all__ = ["ImportPlan", "existing_store", "first_difference", "plan_records", "record_label"]


class _Subject(TypingProtocol):
    @property
    def subject_id(self) -> str: ...
    @property
    def arm(self) -> str: ...
    @property
    def site(self) -> str: ...


@dataclass
class ImportPlan:
    """What an import does (or, in a dry run, would do)."""

    study: str
    new_study: bool
    new_subjects: list[str] = field(default_factory=list)
    creates: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dry_run: bool = False
    reason: str = ""
    #: entries of the source's own audit trail kept as imported history (new ones only)
    history: int = 0
    #: what the source holds that the import keeps but does not enforce (e.g. REDCap branching
    #: logic with no show-if translation), one line each naming file, line and field
    flagged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "study": self.study,
            "new_study": self.new_study,
            "dry_run": self.dry_run,
            "new_subjects": self.new_subjects,
            "creates": self.creates,
            "updates": self.updates,
            "unchanged": self.unchanged,
            "history": self.history,
            "flagged": self.flagged,
            "reason": self.reason,
        }


def record_label(item: RecordInput | RecordState) -> str:
    """``SUBJECT/VISIT/FORM[#N]``."""
    suffix = f"#{item.instance}" if item.instance != 1 else ""
    return f"{item.subject_id}/{item.visit_id}/{item.form_id}{suffix}"


def existing_store(url: str, study: str) -> Store | None:
    """The study's store when the database exists and holds it, else ``None`` (nothing created)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    try:
        studies = list_studies(url)
    except NotFoundError:
        return None
    return open_store(url, study) if study in studies else None


def first_difference(stored: Protocol, new: Protocol) -> str:
    """The first top-level part of two protocols that differs (for an error message)."""
    old, now = stored.model_dump(), new.model_dump()
    for key in ("forms", "visits", "arms", "sites", "annotations", "missing_codes", *now):
        if old.get(key) != now.get(key):
            return key
    return "?"


def _stored_form(
    form: FormSpec, values: dict[str, Any], where: str, codes: Sequence[str]
) -> dict[str, Any]:
    """The values as the store would keep them (values an importer checked already are)."""
    if isinstance(values, CheckedValues) and values.form is form:
        return values
    return check_values(form, values, where=where, require=False, missing_codes=codes)[0]


def plan_records(protocol: Protocol, subjects: Iterable[_Subject], records: Sequence[RecordInput],
                 store: Store | None, plan: ImportPlan) -> list[RecordInput]:  # fmt: skip
    """Fill ``plan`` and return the records to save (creates, and updates as replacements).

    Raises
    ------
    InputError
        When a subject already enrolled has another arm or site in the file.
    """
    enrolled = {s.subject_id: s for s in store.subjects()} if store else {}
    current = {record_label(r): r for r in store.records()} if store else {}
    for subject in subjects:
        known = enrolled.get(subject.subject_id)
        if known is None:
            plan.new_subjects.append(subject.subject_id)
        elif (known.arm, known.site) != (subject.arm, subject.site):
            raise InputError(
                f"record '{subject.subject_id}': arm/site {subject.arm}/{subject.site} differ "
                f"from the enrolled {known.arm}/{known.site}"
            )
    batch = []
    codes = [c.code for c in protocol.missing_codes]
    for item in records:
        key = record_label(item)
        form = protocol.form(item.form_id)
        assert form is not None  # built from the same protocol
        existing = current.get(key)
        if existing is None:
            plan.creates.append(key)
            batch.append(item)
        elif _stored_form(form, item.values, key, codes) == existing.values:
            plan.unchanged.append(key)
        else:
            plan.updates.append(key)
            values = {spec.id: item.values.get(spec.id) for spec in form.fields}
            values.update({k: item.values.get(k) for k in RESERVED_KEYS})  # codes, marks
            batch.append(
                RecordInput(
                    item.subject_id,
                    item.visit_id,
                    item.form_id,
                    values,
                    item.instance,
                    expected_version=existing.version,
                )
            )
    return batch
