"""What a save means before it touches the database: schedule, edit semantics, derived scores.

A save states its intent (``mode``):

* ``"patch"`` (the default): fields absent from the input keep their stored values; a field is
  cleared only explicitly, by ``None`` (JSON ``null``) or an empty string;
* ``"replace"``: the input is the whole record; every stored field absent from it is cleared, and
  the audit event lists the cleared fields in ``after["cleared"]``.

Required fields do not refuse a save: a record that lacks one is saved as ``incomplete``
(:mod:`clestudy.store._status`) and gets no derived score.

Show-if (:mod:`clestudy.protocol._show_if`): a hidden field holds no value. When a save's values
hide a field that holds a *stored* value, the save clears it and lists it in ``cleared`` (like a
replacing save; editing a saved record needs a reason anyway); a value *sent* for a hidden field
is refused by validation, naming the field and its show-if. A hidden field is never needed for a
record to be complete.

Missing-data codes (``values["_missing"]``, :mod:`clestudy.protocol._missing_codes`) and another
system's marks (``values["_imported"]``) are not fields but each one value of the record: an
input that names one replaces it whole (``None`` clears it); one that does not keeps it, in either
mode (a web form, which replaces, shows a code but does not post it). A code goes when its field
gets a value or is hidden by show-if. A required field holding a code is answered; a
derived score's input is not (the score needs a value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from clestudy.errors import InputError, NotFoundError, RecordValidationError
from clestudy.instruments import INSTRUMENT_FIELDS, derive
from clestudy.protocol import (
    DerivedScoreSpec,
    FormSpec,
    Protocol,
    StoredValue,
    Visit,
    hidden_fields,
)
from clestudy.protocol._builtin_checks import builtin_checks_apply
from clestudy.protocol._missing_codes import (
    MISSING_KEY,
    RESERVED_KEYS,
    coded_fields,
    score_inputs,
)

__all__ = [
    "RecordInput",
    "SaveMode",
    "SavePlan",
    "check_schedule",
    "derive_scores",
    "merge_for_save",
    "merged_input",
]

SaveMode = Literal["patch", "replace"]
Instance = int | Literal["next"]


@dataclass(frozen=True)
class RecordInput:
    """One record to save.

    ``expected_version`` is ``None`` to create, the loaded version to edit. ``instance`` is the
    instance of a repeating form, or ``"next"`` for one more than the highest saved instance.
    ``mode`` is ``"patch"`` (absent fields keep their values) or ``"replace"`` (absent fields are
    cleared).
    """

    subject_id: str
    visit_id: str
    form_id: str
    values: dict[str, Any]
    instance: Instance = 1
    expected_version: int | None = None
    mode: SaveMode = "patch"

    @classmethod
    def new(
        cls, subject_id: str, visit_id: str, form_id: str, values: dict[str, Any],
        instance: Instance = 1,
    ) -> RecordInput:  # fmt: skip
        """``RecordInput(subject_id, visit_id, form_id, values, instance)`` (a create, patch
        mode), equal to it and as frozen, made without the frozen dataclass's ``__init__``,
        which sets each of its seven fields through ``object.__setattr__``: an importer makes
        one per record.

        >>> RecordInput.new("P01", "week_0", "vs", {}) == RecordInput("P01", "week_0", "vs", {})
        True
        """
        item = object.__new__(cls)
        item.__dict__.update(
            subject_id=subject_id, visit_id=visit_id, form_id=form_id, values=values,
            instance=instance, expected_version=None, mode="patch",
        )  # fmt: skip
        return item


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def check_schedule(protocol: Protocol, item: RecordInput, where: str) -> FormSpec:
    """The record's form, once its visit, form and instance fit the protocol's schedule."""
    visit = protocol.visit(item.visit_id)
    if visit is None:
        known = [v.id for v in protocol.visits]
        raise NotFoundError(f"{where}: unknown visit '{item.visit_id}' (visits: {known})")
    form = protocol.form(item.form_id)
    if form is None:
        known = [f.id for f in protocol.forms]
        raise NotFoundError(f"{where}: unknown form '{item.form_id}' (forms: {known})")
    if item.form_id not in visit.forms:
        raise RecordValidationError(
            f"{where}: form '{item.form_id}' is not collected at visit '{item.visit_id}' "
            f"(collected: {list(visit.forms)})"
        )
    allowed = "1 or more, or 'next'" if form.repeating else "form does not repeat: only 1"
    if item.instance == "next":
        if not form.repeating:
            raise RecordValidationError(f"{where}: instance 'next' is not allowed ({allowed})")
    elif (
        isinstance(item.instance, bool)
        or not isinstance(item.instance, int)
        or item.instance < 1
        or (item.instance != 1 and not form.repeating)
    ):
        raise RecordValidationError(
            f"{where}: instance {item.instance!r} is not allowed ({allowed})"
        )
    if item.mode not in ("patch", "replace"):
        raise InputError(f"{where}: save mode {item.mode!r} is not 'patch' or 'replace'")
    return form


def merged_input(
    form: FormSpec, stored: Mapping[str, StoredValue], item: RecordInput
) -> tuple[dict[str, Any], list[str]]:
    """The values to validate for this save and the stored fields it clears (in form order).

    A stored field that is no longer in the form (after a forced protocol amendment) is cleared,
    and so is a stored field that the merged values hide (its show-if is false) unless the save
    sends a value for it (which validation then refuses).

    >>> from clestudy.protocol import load_protocol
    >>> form = load_protocol("pediatric-cle-chart-review").form("labs")
    >>> stored = {"lbdat": "2011-03-01", "esr": 26}
    >>> merged_input(form, stored, RecordInput("P01", "initiation", "labs", {"esr": 30}))
    ({'lbdat': '2011-03-01', 'esr': 30}, [])
    >>> merged_input(form, stored, RecordInput("P01", "initiation", "labs", {"esr": None}))
    ({'lbdat': '2011-03-01', 'esr': None}, ['esr'])
    >>> merged_input(form, stored, RecordInput("P01", "initiation", "labs", {"esr": 30},
    ...                                        mode="replace"))
    ({'esr': 30}, ['lbdat'])
    >>> ae = load_protocol("lenalidomide-cle-open-label").form("ae")
    >>> stored = {"aeterm": "Rash", "aeendat": "2024-03-20", "aeout": "RECOVERED/RESOLVED"}
    >>> item = RecordInput("L01", "week_6", "ae", {"aeout": "RECOVERING/RESOLVING"})
    >>> merged_input(ae, stored, item)
    ({'aeterm': 'Rash', 'aeendat': None, 'aeout': 'RECOVERING/RESOLVING'}, ['aeendat'])
    """
    raw, cleared, _ = merge_for_save(form, stored, item)
    return raw, cleared


def merge_for_save(
    form: FormSpec, stored: Mapping[str, StoredValue], item: RecordInput
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """:func:`merged_input`, and the fields the merged values hide (:func:`hidden_fields` of
    them, which validation and the completeness rule need too: computed once per save).

    Clearing a hidden stored field does not change what is hidden: a hidden field reads as
    empty in every show-if.
    """
    if not stored:  # a new record: nothing to keep or clear
        raw: dict[str, Any] = dict(item.values)
        return raw, [], hidden_fields(form, raw)
    if item.mode == "replace":  # every field; the codes and marks are not fields (kept below)
        raw = dict(item.values)
        raw.update({k: stored[k] for k in RESERVED_KEYS if k in stored and k not in item.values})
    else:
        raw = {k: v for k, v in stored.items() if form.field(k) is not None or k in RESERVED_KEYS}
        raw.update(item.values)
    hidden = hidden_fields(form, raw)
    for name in hidden:
        if name in stored and _is_empty(item.values.get(name)):
            raw[name] = None
    if MISSING_KEY in stored and MISSING_KEY not in item.values:  # a kept code goes when its
        raw[MISSING_KEY] = {  # field gets a value or is hidden
            k: v for k, v in coded_fields(stored).items()
            if _is_empty(raw.get(k)) and k not in hidden
        }  # fmt: skip
    gone = [k for k in stored if k not in RESERVED_KEYS and _is_empty(raw.get(k))]
    if not gone:
        return raw, [], hidden
    order = {f.id: i for i, f in enumerate(form.fields)}
    return raw, sorted(gone, key=lambda k: (order.get(k, len(order)), k)), hidden


def derive_scores(
    protocol: Protocol,
    form_id: str,
    values: Mapping[str, StoredValue],
    where: str,
    specs: tuple[DerivedScoreSpec, ...] | None = None,
) -> dict[str, Any]:
    """The protocol's derived scores of a complete record, ``{score_id: {instrument, ...}}``.

    ``specs`` are the form's derived scores when already looked up (:meth:`SavePlan.derived`).
    """
    derived: dict[str, Any] = {}
    for spec in protocol.derived_for_form(form_id) if specs is None else specs:
        inputs = {k: values[k] for k in INSTRUMENT_FIELDS[spec.instrument] if k in values}
        try:
            score = derive(spec.instrument, inputs, protocol.settings)
        except InputError as exc:
            raise RecordValidationError(f"{where}: {exc} (derived score {spec.id})") from None
        derived[spec.id] = {
            "instrument": score.instrument,
            "version": score.version,
            "values": dict(score.values),
        }
    return derived


@dataclass
class SavePlan:
    """The protocol lookups a batch of saves needs, each made once per batch, not once per record.

    A record's schedule check (:func:`check_schedule`) is remembered per visit, form, instance and
    mode; a form's derived-score specs and the fields that keep it incomplete per form.
    """

    protocol: Protocol
    _schedule: dict[tuple[str, str, object, str], FormSpec] = field(default_factory=dict)
    _derived: dict[str, tuple[DerivedScoreSpec, ...]] = field(default_factory=dict)
    _needed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _visits: dict[str, Visit] = field(default_factory=dict)
    _inputs: dict[str, frozenset[str]] = field(default_factory=dict)
    _checked: dict[str, bool] = field(default_factory=dict)
    _codes: tuple[str, ...] | None = None

    def form_of(self, item: RecordInput, where: str) -> FormSpec:
        """:func:`check_schedule` of ``item`` (its errors name ``where``)."""
        instance = item.instance
        key = (item.visit_id, item.form_id, (type(instance), instance), item.mode)
        form = self._schedule.get(key)
        if form is None:
            form = self._schedule[key] = check_schedule(self.protocol, item, where)
        return form

    def has_checks(self, form: FormSpec) -> bool:
        """Whether any edit check can find something on a record of ``form``: a built-in
        check that applies to it, or one of the protocol's checks of the form."""
        found = self._checked.get(form.id)
        if found is None:
            found = self._checked[form.id] = builtin_checks_apply(form) or bool(
                self.protocol.checks_for_form(form.id)
            )
        return found

    def visit(self, visit_id: str) -> Visit | None:
        """The protocol's visit ``visit_id``."""
        if not self._visits:
            self._visits = {v.id: v for v in self.protocol.visits}
        return self._visits.get(visit_id)

    def derived(self, form_id: str) -> tuple[DerivedScoreSpec, ...]:
        """The derived scores computed when a record of ``form_id`` is saved."""
        specs = self._derived.get(form_id)
        if specs is None:
            specs = self._derived[form_id] = self.protocol.derived_for_form(form_id)
        return specs

    def needed(self, form: FormSpec) -> tuple[str, ...]:
        """The fields a record of ``form`` needs to be complete, in form order (see
        :func:`clestudy.store._status.missing_required`)."""
        needed = self._needed.get(form.id)
        if needed is None:
            from clestudy.store._status import needed_fields

            needed = self._needed[form.id] = needed_fields(self.protocol, form)
        return needed

    def missing(
        self,
        form: FormSpec,
        values: Mapping[str, object],
        hidden: Mapping[str, str] | None = None,
    ) -> list[str]:
        """The needed fields of ``form`` that ``values`` leaves empty, in form order; a field
        that ``values`` hide (show-if; ``hidden`` when already known) is not needed, and a
        required field holding a missing-data code is answered unless a derived score needs
        its value."""
        if hidden is None:
            hidden = hidden_fields(form, values)
        coded = coded_fields(values) if MISSING_KEY in values else {}  # most records: none
        answered = {k for k in coded if k not in self.inputs(form)} if coded else set()
        return [
            name
            for name in self.needed(form)
            if values.get(name) in (None, "", []) and name not in hidden and name not in answered
        ]

    def inputs(self, form: FormSpec) -> frozenset[str]:
        """The fields of ``form`` that its derived scores read (a code does not answer them)."""
        found = self._inputs.get(form.id)
        if found is None:
            found = self._inputs[form.id] = score_inputs(self.protocol, form)
        return found

    def codes(self) -> tuple[str, ...]:
        """The protocol's missing-data codes."""
        if self._codes is None:
            self._codes = tuple(c.code for c in self.protocol.missing_codes)
        return self._codes
