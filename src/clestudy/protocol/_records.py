"""Validate and normalise one form record's values against its protocol form.

Values are normalised to JSON scalars that hash canonically in the audit trail (no floats):

===============  ================================  ==========================
field type       accepted input                    stored as
===============  ================================  ==========================
integer          int, integral float, "12"         ``int``
decimal          int, float, "12.5"                canonical decimal ``str``
text             str                               ``str`` (NFC-normalised)
date             ``date`` or "YYYY-MM-DD"          ISO ``str``
boolean          bool, 0/1, "true"/"false"         ``bool``
single_choice    a choice code                     ``str``
multiple_choice  a list of choice codes            ``list[str]`` in choice order
===============  ================================  ==========================

A missing value (``None`` or ``""``) is dropped; a required field that is missing is an error.
Decimals are kept as strings so that what the coordinator typed is what the audit trail hashes
(``json.dumps`` writes floats differently from RFC 8785; see web-and-security.md §5.3).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from clestudy.errors import RecordValidationError
from clestudy.protocol._model import FieldSpec, FormSpec

__all__ = ["StoredValue", "check_values", "validate_values"]

StoredValue = str | int | bool | list[str]


def _fmt_bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range_text(field: FieldSpec) -> str:
    lo = "-inf" if field.min is None else _fmt_bound(field.min)
    hi = "inf" if field.max is None else _fmt_bound(field.max)
    unit = f" {field.unit}" if field.unit else ""
    return f"{lo} to {hi}{unit}"


def _check_range(field: FieldSpec, number: Decimal, raw: object, where: str) -> None:
    too_low = field.min is not None and number < Decimal(str(field.min))
    too_high = field.max is not None and number > Decimal(str(field.max))
    if too_low or too_high:
        raise RecordValidationError(
            f"{where}: field '{field.id}': {raw!r} is out of range; allowed {_range_text(field)}"
        )


#: ASCII digits with an optional sign: ``str.isdigit`` would accept "²" and int() then fail.
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")

#: Decimals are stored as the exact fixed-point text entered; this bounds its length (``1e-999999``
#: is in a 0-200 range but would be a million characters long).
MAX_DECIMAL_DIGITS = 40


def _fixed_point_length(number: Decimal) -> int:
    """Digits in ``format(number, "f")``, computed without building the string."""
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # NaN and infinities have no fixed-point form
        return 0
    if exponent >= 0:
        return len(digits) + exponent
    return max(len(digits), -exponent + 1)


def _normalise(field: FieldSpec, raw: object, where: str) -> StoredValue:
    def bad(expected: str) -> RecordValidationError:
        return RecordValidationError(f"{where}: field '{field.id}': {raw!r} is not {expected}")

    if field.type == "integer":
        if isinstance(raw, bool):
            raise bad("an integer")
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif (
            isinstance(raw, str)
            and _INTEGER_TEXT.fullmatch(raw.strip())
            and len(raw.strip()) <= MAX_DECIMAL_DIGITS
        ):
            value = int(raw.strip())
        else:
            raise bad("an integer")
        _check_range(field, Decimal(value), raw, where)
        if field.allowed and value not in field.allowed:
            allowed = ", ".join(map(str, field.allowed))
            raise RecordValidationError(
                f"{where}: field '{field.id}': {raw!r} is not one of the allowed values {allowed}"
            )
        return value
    if field.type == "decimal":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise bad("a decimal number")
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise bad("a decimal number") from None
        if not number.is_finite():
            raise bad("a finite decimal number")
        if _fixed_point_length(number) > MAX_DECIMAL_DIGITS:
            raise bad(f"a decimal number of at most {MAX_DECIMAL_DIGITS} digits")
        _check_range(field, number, raw, where)
        text = format(number, "f")
        return text
    if field.type == "text":
        if not isinstance(raw, str):
            raise bad("text")
        return unicodedata.normalize("NFC", raw)
    if field.type == "date":
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            return raw.isoformat()
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw.strip()).isoformat()
            except ValueError:
                pass
        raise bad("a date (YYYY-MM-DD)")
    if field.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no"):
            return raw.strip().lower() in ("true", "yes")
        raise bad("a boolean (true/false)")
    codes = [c.code for c in field.choices]
    if field.type == "single_choice":
        code = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
        if code not in codes:
            raise RecordValidationError(
                f"{where}: field '{field.id}': {raw!r} is not one of the allowed codes {codes}"
            )
        return code
    # multiple_choice
    if isinstance(raw, str) or not isinstance(raw, list | tuple | set | frozenset):
        raise bad("a list of choice codes")
    chosen = {str(c) for c in raw}
    unknown = sorted(chosen - set(codes))
    if unknown:
        raise RecordValidationError(
            f"{where}: field '{field.id}': {unknown} not among the allowed codes {codes}"
        )
    exclusive = [c.code for c in field.choices if c.exclusive and c.code in chosen]
    if exclusive and len(chosen) > 1:
        others = [c for c in codes if c in chosen and c != exclusive[0]]
        raise RecordValidationError(
            f"{where}: field '{field.id}': '{exclusive[0]}' cannot be chosen with {others}"
        )
    return [c for c in codes if c in chosen]


def check_values(
    form: FormSpec, values: Mapping[str, object], *, where: str, require: bool = True
) -> tuple[dict[str, StoredValue], list[str]]:
    """Normalise ``values`` for storage and collect every problem instead of stopping at one.

    Returns the values that are valid and one message per problem (an unknown field, a value that
    does not fit its field, and, with ``require``, a required field left empty), each starting
    with ``where`` and naming the field. :func:`validate_values` raises them together.

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
    for key in values:
        if form.field(key) is None:
            known = ", ".join(f.id for f in form.fields)
            problems.append(
                f"{where}: '{key}' is not a field of form '{form.id}' (fields: {known})"
            )
    for field in form.fields:
        raw = values.get(field.id)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if field.required and require:
                problems.append(f"{where}: field '{field.id}' is required")
            continue
        try:
            out[field.id] = _normalise(field, raw, where)
        except RecordValidationError as exc:
            problems.append(str(exc))
    return out, problems


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
