"""Show-if branching: which fields of a form a record's values hide.

A field may declare ``show_if: "<expression>"``, written in the safe expression language of the
edit checks (:mod:`clestudy.protocol._expressions`) over the form's *other* fields, e.g.
``aeout not in ('RECOVERING/RESOLVING', 'NOT RECOVERED/NOT RESOLVED')`` or ``smoker == True``.
The field is shown when the expression is true and hidden when it is false. One rule holds on
every path that writes a record (web, API, CLI, imports): **a hidden field holds no value**.

* The store clears a stored value that a save's values hide (and lists it in the audit event's
  ``after["cleared"]``); a value *sent* for a hidden field is refused, naming the field and why
  it is hidden (:func:`hidden_fields` gives the reason, :func:`~clestudy.protocol.check_values`
  the message).
* Only a shown field can be required: a hidden required field (or derived-score input) never
  keeps a record incomplete, and edit checks see a hidden field as empty.

How an expression reads the values:

* values are typed as in an edit check (integers as ``int``, decimals as ``Decimal``, dates as
  ``date``, booleans as ``bool``, a single choice as its code, a multiple choice as a tuple of
  codes);
* an empty field reads as ``None``, except an empty multiple choice, which reads as ``()`` (no
  box ticked, so ``'2' in f`` is false and ``'2' not in f`` true, as REDCap reads an unticked
  checkbox);
* a field that is itself hidden reads as empty, so that show-ifs chain;
* an expression that cannot be evaluated on the values (``age >= 12`` with ``age`` blank)
  hides its field: a field is shown only when its condition is known to hold.

A protocol's show-ifs are checked when it loads (:func:`show_if_errors`): the expression parses,
names only the form's fields, is not the field's own, gives true or false on values of the
fields' types, no two fields' show-ifs depend on each other (a cycle), and the field is not an
input of one of the form's derived scores (a score is computed only from complete input, never
from a blank read as 0; a lab graded alone by a per-lab CTCAE grading is not such an input).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from clestudy.errors import RecordValidationError
from clestudy.protocol._expressions import (
    evaluate,
    expression_names,
    expression_problems,
    trial_problem,
    typed_value,
)
from clestudy.protocol._field_types import FIELD_TYPES
from clestudy.protocol._model import FieldSpec, FormSpec, IdentityCache, Protocol

__all__ = ["hidden_fields", "show_if_cycle", "show_if_errors", "show_if_order"]


def _is_empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _empty(field: FieldSpec) -> object:
    return () if field.type == "multiple_choice" else None


def _reads(form: FormSpec, field: FieldSpec) -> list[str]:
    """The fields of ``form`` that ``field``'s show-if reads."""
    if field.show_if is None:
        return []
    return [n for n in expression_names(field.show_if) if form.field(n) is not None]


def show_if_order(form: FormSpec) -> tuple[FieldSpec, ...]:
    """The fields of ``form`` that have a show-if, each after the show-if fields it reads.

    A form whose show-ifs form a cycle (refused when the protocol loads) gives them in form
    order. A show-if that names what is not a field of the form (refused when a protocol loads,
    so only possible in a protocol built in code) is left out: its field is always shown, never
    emptied by a condition that cannot mean anything.
    """
    return _plan(form).ordered


def _order(form: FormSpec) -> tuple[FieldSpec, ...]:
    ids = {f.id for f in form.fields}
    pending = [
        f
        for f in form.fields
        if f.show_if is not None
        and all(n in ids or n in ("True", "False", "None") for n in expression_names(f.show_if))
    ]
    conditional = {f.id for f in pending}
    done: list[FieldSpec] = []
    placed: set[str] = set()
    while pending:
        ready = [
            f for f in pending if all(n in placed or n not in conditional for n in _reads(form, f))
        ]
        if not ready:  # a cycle: checked at load time; keep form order
            ready = pending[:1]
        for f in ready:
            done.append(f)
            placed.add(f.id)
        pending = [f for f in pending if f.id not in placed]
    return tuple(done)


@dataclass(frozen=True)
class _ShowIfPlan:
    """What :func:`hidden_fields` needs of a form, found once per form (not once per record):
    the show-if fields in evaluation order, the fields their show-ifs read, and the form order."""

    form: FormSpec
    ordered: tuple[FieldSpec, ...]
    read: tuple[FieldSpec, ...]
    position: dict[str, int]
    #: ``{typed values of the read fields: hidden fields}``: show-ifs are pure functions of the
    #: fields they read, and a study's records repeat a few combinations (bounded, emptied when
    #: full)
    known: dict[tuple[tuple[type, object], ...], dict[str, str]] = dataclasses.field(
        default_factory=dict
    )

    @classmethod
    def of(cls, form: FormSpec) -> _ShowIfPlan:
        ordered = _order(form)
        names = {n for f in ordered for n in _reads(form, f)}
        read = tuple(f for f in form.fields if f.id in names)
        return cls(form, ordered, read, {f.id: i for i, f in enumerate(form.fields)})


#: Each form's :class:`_ShowIfPlan`, made on its first use.
_PLANS: IdentityCache[FormSpec, _ShowIfPlan] = IdentityCache(_ShowIfPlan.of, 256)
_plan = _PLANS.get


def hidden_fields(form: FormSpec, values: Mapping[str, object]) -> dict[str, str]:
    """The fields of ``form`` that ``values`` hide, each with its show-if, in form order.

    ``values`` may be stored or entered values (entered text is parsed as validation parses it;
    a value that does not fit its field reads as empty: validation reports its own error).
    Only the fields that some show-if reads are parsed.

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> ae = load_protocol("lenalidomide-cle-open-label").form("ae")
    >>> hidden_fields(ae, {"aeout": "RECOVERED/RESOLVED"})
    {}
    >>> list(hidden_fields(ae, {"aeout": "RECOVERING/RESOLVING"}))
    ['aeendat']
    """
    plan = _plan(form)
    if not plan.ordered:
        return {}
    names: dict[str, object] = {}
    for spec in plan.read:
        value = values.get(spec.id)
        if _is_empty(value):
            names[spec.id] = _empty(spec)
            continue
        try:  # parsed first: entered values arrive as text ("true", "12")
            parsed = FIELD_TYPES[spec.type].parse(spec, value, form.id)
            names[spec.id] = typed_value(spec, parsed, form.id)
        except RecordValidationError:
            names[spec.id] = _empty(spec)
    # the type is part of the key: 1 == True == Decimal("1") must not share an answer
    key = tuple((type(v), v) for v in names.values())
    try:
        known = plan.known.get(key)
    except TypeError:  # an unhashable value (not one of the field types'): not remembered
        return _hidden(plan, names)
    if known is None:
        known = _hidden(plan, names)
        if len(plan.known) >= _MAX_KNOWN:
            plan.known.clear()
        plan.known[key] = known
    return dict(known)


_MAX_KNOWN = 1024


def _hidden(plan: _ShowIfPlan, names: dict[str, object]) -> dict[str, str]:
    """Evaluate the show-ifs of ``plan`` in order on the read fields' typed ``names``."""
    hidden: dict[str, str] = {}
    for spec in plan.ordered:
        if spec.show_if is None:  # show_if_order gives only fields that have one
            continue
        try:
            shown = evaluate(spec.show_if, names) is True
        except (ArithmeticError, TypeError, ValueError):
            shown = False
        if not shown:
            hidden[spec.id] = spec.show_if
            names[spec.id] = _empty(spec)
    if len(hidden) < 2:
        return hidden
    position = plan.position
    return dict(sorted(hidden.items(), key=lambda item: position[item[0]]))


def show_if_cycle(form: FormSpec, start: FieldSpec) -> list[str] | None:
    """A chain of show-if reads from ``start`` back to itself, or ``None``."""
    stack: list[tuple[str, list[str]]] = [(n, [start.id, n]) for n in _reads(form, start)]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        if name == start.id:
            return path
        if name in seen:
            continue
        seen.add(name)
        field = form.field(name)
        if field is not None:
            stack.extend((n, [*path, n]) for n in _reads(form, field))
    return None


def show_if_errors(p: Protocol) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield ``(YAML path, message)`` for every show-if that is not a valid condition.

    Each message names the form and the field; see the module docstring for what is checked.
    """
    from clestudy.instruments import INSTRUMENT_FIELDS
    from clestudy.instruments._ctcae_labs import PER_LAB_INSTRUMENTS

    for fi, form in enumerate(p.forms):
        inputs = {
            name: derived.id
            for derived in p.derived_for_form(form.id)
            if derived.instrument not in PER_LAB_INSTRUMENTS  # each lab graded alone
            for name in INSTRUMENT_FIELDS.get(derived.instrument, ())
        }
        allowed = {f.id for f in form.fields}
        for j, field in enumerate(form.fields):
            if field.show_if is None:
                continue
            loc = ("forms", fi, "fields", j, "show_if")
            what = f"form '{form.id}', field '{field.id}': show_if {field.show_if!r}"
            if field.id in expression_names(field.show_if):
                yield loc, f"{what}: a field cannot be shown or hidden by its own value"
                continue
            problems = expression_problems(field.show_if, allowed)
            trial = None if problems else trial_problem(field.show_if, form)
            for problem in [*problems, *([trial] if trial else [])]:
                yield loc, f"{what}: {problem}"
            if problems or trial:
                continue
            cycle = show_if_cycle(form, field)
            if cycle is not None:
                yield loc, f"{what}: show-ifs depend on each other ({' -> '.join(cycle)})"
            if field.id in inputs:
                yield (
                    loc,
                    f"{what}: the field is an input of the derived score '{inputs[field.id]}', "
                    "which is computed only from complete input, so it cannot be hidden",
                )
