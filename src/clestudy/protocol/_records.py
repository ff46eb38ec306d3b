"""Validate and normalise one form record's values against its protocol form.

How each field type is parsed, checked and stored is defined once, in
:mod:`clestudy.protocol._field_types` (:data:`~clestudy.protocol.FIELD_TYPES`). A missing value
(``None`` or ``""``) is dropped; a required field that is missing is an error, unless its
show-if hides it; a value for a field that the values hide is an error
(:mod:`clestudy.protocol._show_if`). The reserved keys ``_missing`` (missing-data codes) and
``_imported`` (another system's marks) are checked by :mod:`clestudy.protocol._missing_codes`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from clestudy.errors import RecordValidationError
from clestudy.protocol._field_types import FIELD_TYPES, Parser, StoredValue
from clestudy.protocol._missing_codes import RESERVED_KEYS, check_reserved
from clestudy.protocol._model import FieldSpec, FormSpec, IdentityCache
from clestudy.protocol._show_if import hidden_fields

__all__ = ["StoredValue", "check_values", "validate_values"]

#: The raw values whose parse is remembered: immutable and compared by type and value.
_MEMO_TYPES = (str, int, float, bool)
#: The parsed values remembered (immutable: a memo never hands out a list to be changed).
_MEMO_RESULTS = (str, int, bool)
#: Parsed values remembered per field; past it, values are parsed and not remembered.
MEMO_SIZE = 4096


class _FieldCheck:
    """One field's parser and the values it parsed without a problem (``(type, raw)`` -> parsed:
    ``1``, ``True`` and ``1.0`` are equal as keys but parse differently)."""

    __slots__ = ("field", "memo", "parse")

    def __init__(self, field: FieldSpec) -> None:
        self.field = field
        self.parse: Parser = FIELD_TYPES[field.type].parse
        self.memo: dict[tuple[type, Any], StoredValue] = {}

    def __call__(self, raw: object, where: str) -> StoredValue:
        kind = type(raw)
        if kind not in _MEMO_TYPES:
            return self.parse(self.field, raw, where)
        key = (kind, raw)
        found = self.memo.get(key)
        if found is not None:
            return found
        value = self.parse(self.field, raw, where)  # a problem raises: never remembered
        if type(value) in _MEMO_RESULTS and len(self.memo) < MEMO_SIZE:
            self.memo[key] = value
        return value


class _FormChecks:
    """What :func:`check_values` needs of a form, made once per fields tuple: its field ids (and
    with the reserved keys, the keys a record may hold), whether any field has a show-if, and
    each field's :class:`_FieldCheck` in form order."""

    __slots__ = ("field_ids", "fields", "keys", "plan", "shows")

    def __init__(self, fields: tuple[FieldSpec, ...]) -> None:
        self.field_ids = frozenset(f.id for f in fields)
        self.keys = self.field_ids | frozenset(RESERVED_KEYS)
        #: without a show-if nothing is ever hidden (hidden_fields gives {}: no call needed)
        self.shows = any(f.show_if is not None for f in fields)
        self.fields = tuple(_FieldCheck(f) for f in fields)
        #: per field: (id, required, memo, check), read without attribute lookups
        self.plan = tuple((c.field.id, c.field.required, c.memo, c) for c in self.fields)


#: Per fields tuple (a CLASI save checks 55 keys against its ids); each field's parse memo lives
#: in its entry, so it serves only that form object's fields.
_FORM_CHECKS: IdentityCache[tuple[FieldSpec, ...], _FormChecks] = IdentityCache(_FormChecks, 1024)


def _form_checks(form: FormSpec) -> _FormChecks:
    if type(form.fields) is not tuple:  # a model built without validation: no identity to key on
        return _FormChecks(tuple(form.fields))
    return _FORM_CHECKS.get(form.fields)


def check_values(
    form: FormSpec,
    values: Mapping[str, object],
    *,
    where: str,
    require: bool = True,
    hidden: Mapping[str, str] | None = None,
    missing_codes: Collection[str] = (),
) -> tuple[dict[str, StoredValue], list[str]]:
    """Normalise ``values`` for storage and collect every problem instead of stopping at one.

    Returns the values that are valid and one message per problem (an unknown field, a value that
    does not fit its field, a value for a field that the values hide (its show-if is false), and,
    with ``require``, a required field left empty unless it is hidden), each starting with
    ``where`` and naming the field. :func:`validate_values` raises them together.
    ``missing_codes`` are the protocol's missing-data codes a field may hold in ``_missing``
    instead of a value (a required field holding one is answered).

    ``hidden`` is :func:`~clestudy.protocol.hidden_fields` of ``form`` and ``values`` when the
    caller has it already (the store's save path, which needs it again); else it is computed.

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> form = load_protocol("pediatric-cle-chart-review").form("labs")
    >>> values, problems = check_values(form, {"esr": 400, "lym": "x"}, where="P01/labs")
    >>> print("\\n".join(problems))
    P01/labs: field 'lbdat' is required
    P01/labs: field 'lym': 'x' is not a decimal number
    P01/labs: field 'esr': 400 is out of range; allowed 0 to 200 mm/h
    """
    out: dict[str, StoredValue] = {}
    problems: list[str] = []
    checks = _form_checks(form)
    for key in values if not checks.keys.issuperset(values) else ():  # in order, when needed
        if key not in checks.field_ids and key not in RESERVED_KEYS:
            known = ", ".join(f.id for f in form.fields)
            problems.append(
                f"{where}: '{key}' is not a field of form '{form.id}' (fields: {known})"
            )
    if hidden is None:
        hidden = hidden_fields(form, values) if checks.shows else {}
    reserved, reserved_problems = check_reserved(form, values, missing_codes, hidden, where)
    coded = reserved.get("_missing", {})
    get = values.get
    for name, required, memo, check in checks.plan:
        raw = get(name)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if required and require and name not in hidden and name not in coded:
                problems.append(f"{where}: field '{name}' is required")
            continue
        if hidden and name in hidden:
            if raw in ([], ()):  # an empty multiple choice: no value, nothing to refuse
                continue
            problems.append(
                f"{where}: field '{name}' is hidden because its show-if "
                f"({hidden[name]}) is false; a hidden field holds no value, leave it blank"
            )
            continue
        kind = type(raw)
        if kind is str or kind is int:  # the memo's own lookup, without the call (most values)
            found = memo.get((kind, raw))
            if found is not None:
                out[name] = found
                continue
        try:
            out[name] = check(raw, where)
        except RecordValidationError as exc:
            problems.append(str(exc))
    out.update(reserved)  # maps of text, kept beside the values
    return out, problems + reserved_problems


def validate_values(
    form: FormSpec, values: Mapping[str, object], *, where: str
) -> dict[str, StoredValue]:
    """Validate ``values`` against ``form`` and return them normalised for storage.

    Parameters
    ----------
    form
        The protocol form the record belongs to.
    values
        Field id to entered value.
    where
        The record's location, used to start every error message (e.g. ``P01/week_0/clasi``).

    Raises
    ------
    RecordValidationError
        Naming the record, each field, the value and what is allowed: every problem of the record,
        one per line.

    Examples
    --------
    >>> from clestudy.protocol import load_protocol
    >>> form = load_protocol("pediatric-cle-chart-review").form("labs")
    >>> validate_values(form, {"lbdat": "2011-03-01", "esr": 26}, where="P01/initiation/labs")
    {'lbdat': '2011-03-01', 'esr': 26}
    >>> validate_values(form, {"lbdat": "2011-03-01", "esr": 400}, where="P01/initiation/labs")
    Traceback (most recent call last):
    ...
    clestudy.errors.RecordValidationError: P01/initiation/labs: field 'esr': 400 is out of range; allowed 0 to 200 mm/h
    """
    out, problems = check_values(form, values, where=where)
    if problems:
        raise RecordValidationError("\n".join(problems))
    return out
