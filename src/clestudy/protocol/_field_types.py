"""The field types of a protocol, in one place: parsing, validation, storage, rules and export.

Each :class:`FieldTypeSpec` says how an entered value is parsed and checked and what is stored
(JSON scalars that hash canonically in the audit trail: no floats), what an edit-check rule sees,
a sample value for the load-time trial run of rules, and the type an exporter writes:

===============  ================================  =====================  ==============  ========
field type       accepted input                    stored as              REDCap (type,   ODM
                                                                          validation)     DataType
===============  ================================  =====================  ==============  ========
integer          int, integral float, "12"         ``int``                text, integer   integer
decimal          int, float, "12.5"                canonical decimal str  text, number    float
text             str                               ``str`` (NFC)          text            text
date             ``date`` or "YYYY-MM-DD"          ISO ``str``            text, date_ymd  date
boolean          bool, 0/1, "true"/"false"         ``bool``               yesno           boolean
single_choice    a choice code                     ``str``                radio           text
multiple_choice  a list of choice codes            ``list[str]``          checkbox        integer
===============  ================================  =====================  ==============  ========

Decimals are kept as strings so that what the coordinator typed is what the audit trail hashes
(``json.dumps`` writes floats differently from the RFC 8785 canonical JSON form). The
REDCap and ODM names are those of the REDCap data dictionary (``field_type``,
``text_validation_type_or_show_slider_number``) and ODM 1.3.2 ``ItemDef/@DataType``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from types import MappingProxyType

from clestudy.errors import RecordValidationError
from clestudy.protocol._model import FieldSpec, FieldType

__all__ = ["FIELD_TYPES", "MAX_DECIMAL_DIGITS", "FieldTypeSpec", "StoredValue", "stored_date"]

#: a field value, or the map of a reserved key (``_missing``, ``_imported``: protocol._missing_codes)
StoredValue = str | int | bool | list[str] | dict[str, str]

#: ASCII digits with an optional sign: ``str.isdigit`` would accept "²" and int() then fail.
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")

#: Decimals are stored as the exact fixed-point text entered; this bounds its length (``1e-999999``
#: is in a 0-200 range but would be a million characters long).
MAX_DECIMAL_DIGITS = 40


def stored_date(value: object) -> dt.date | None:
    """A stored ``date`` value (ISO ``YYYY-MM-DD`` text) as a date; ``None`` for anything else.

    >>> stored_date("2025-01-06"), stored_date(""), stored_date(None)
    (datetime.date(2025, 1, 6), None, None)
    """
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


Parser = Callable[[FieldSpec, object, str], StoredValue]


@dataclass(frozen=True)
class FieldTypeSpec:
    """Everything clestudy does with one field type (see the module docstring)."""

    name: FieldType
    parse: Parser
    """Entered value -> stored value; raises :class:`RecordValidationError` naming the field."""
    typed: Callable[[object], object]
    """Stored value -> what an edit-check rule sees."""
    sample: Callable[[FieldSpec], object]
    """A value of this type (as a rule sees it) for the load-time trial run of rules."""
    redcap: tuple[str, str]
    odm: str
    numeric: bool = False


def _bad(field: FieldSpec, raw: object, where: str, expected: str) -> RecordValidationError:
    return RecordValidationError(f"{where}: field '{field.id}': {raw!r} is not {expected}")


def _fmt_bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@functools.lru_cache(maxsize=1024)
def _bound(limit: float) -> Decimal:
    """A field's ``min``/``max`` as the decimal it reads as (``0.1`` is 0.1, not the binary float).

    Made once per distinct limit: a CLASI form checks 55 values against the same few limits.
    """
    return Decimal(str(limit))


@functools.lru_cache(maxsize=1024)
def _integer_limits(limit: float) -> tuple[int, int] | None:
    """(ceiling, floor) of :func:`_bound` of ``limit``; ``None`` when it is not finite.

    An integer ``n`` is below the limit exactly when ``n < ceiling`` and above it exactly when
    ``n > floor``: an integer value's range check needs no decimal arithmetic.
    """
    bound = _bound(limit)
    if not bound.is_finite():
        return None
    return int(bound.to_integral_value(ROUND_CEILING)), int(bound.to_integral_value(ROUND_FLOOR))


def _integer_in_range(field: FieldSpec, value: int) -> bool:
    """Whether ``value`` is surely within the field's limits (``False``: ask :func:`_check_range`)."""
    if field.min is not None:
        low = _integer_limits(field.min)
        if low is None or value < low[0]:
            return False
    if field.max is not None:
        high = _integer_limits(field.max)
        if high is None or value > high[1]:
            return False
    return True


def _check_range(field: FieldSpec, number: Decimal | int, raw: object, where: str) -> None:
    # Decimal compares exactly with Decimal and int, so an integer needs no conversion.
    too_low = field.min is not None and number < _bound(field.min)
    too_high = field.max is not None and number > _bound(field.max)
    if too_low or too_high:
        lo = "-inf" if field.min is None else _fmt_bound(field.min)
        hi = "inf" if field.max is None else _fmt_bound(field.max)
        unit = f" {field.unit}" if field.unit else ""
        raise RecordValidationError(
            f"{where}: field '{field.id}': {raw!r} is out of range; allowed {lo} to {hi}{unit}"
        )


def _fixed_point_length(number: Decimal) -> int:
    """Digits in ``format(number, "f")``, computed without building the string."""
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # NaN and infinities have no fixed-point form
        return 0
    if exponent >= 0:
        return len(digits) + exponent
    return max(len(digits), -exponent + 1)


def _parse_integer(field: FieldSpec, raw: object, where: str) -> StoredValue:
    text = raw.strip() if isinstance(raw, str) else ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif _INTEGER_TEXT.fullmatch(text) and len(text) <= MAX_DECIMAL_DIGITS:
        value = int(text)
    else:
        raise _bad(field, raw, where, "an integer")
    if not _integer_in_range(field, value):
        _check_range(field, value, raw, where)
    if field.allowed and value not in field.allowed:
        allowed = ", ".join(map(str, field.allowed))
        raise RecordValidationError(
            f"{where}: field '{field.id}': {raw!r} is not one of the allowed values {allowed}"
        )
    return value


def _parse_decimal(field: FieldSpec, raw: object, where: str) -> StoredValue:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _bad(field, raw, where, "a decimal number")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _bad(field, raw, where, "a decimal number") from None
    if not number.is_finite():
        raise _bad(field, raw, where, "a finite decimal number")
    if _fixed_point_length(number) > MAX_DECIMAL_DIGITS:
        raise _bad(field, raw, where, f"a decimal number of at most {MAX_DECIMAL_DIGITS} digits")
    _check_range(field, number, raw, where)
    return format(number, "f")


def _parse_text(field: FieldSpec, raw: object, where: str) -> StoredValue:
    if not isinstance(raw, str):
        raise _bad(field, raw, where, "text")
    return unicodedata.normalize("NFC", raw)


def _parse_date(field: FieldSpec, raw: object, where: str) -> StoredValue:
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw.isoformat()
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            pass
    raise _bad(field, raw, where, "a date (YYYY-MM-DD)")


def _parse_boolean(field: FieldSpec, raw: object, where: str) -> StoredValue:
    if isinstance(raw, bool):
        return raw
    if raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no"):
        return raw.strip().lower() in ("true", "yes")
    raise _bad(field, raw, where, "a boolean (true/false)")


def _parse_single(field: FieldSpec, raw: object, where: str) -> StoredValue:
    codes = [c.code for c in field.choices]
    code = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
    if code not in codes:
        raise RecordValidationError(
            f"{where}: field '{field.id}': {raw!r} is not one of the allowed codes {codes}"
        )
    return code


def _parse_multiple(field: FieldSpec, raw: object, where: str) -> StoredValue:
    if isinstance(raw, str) or not isinstance(raw, list | tuple | set | frozenset):
        raise _bad(field, raw, where, "a list of choice codes")
    codes = [c.code for c in field.choices]
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


def _sample_number(field: FieldSpec) -> object:
    lo = field.min if field.min is not None else 0.0
    hi = field.max if field.max is not None else lo + 2.0
    middle = (lo + hi) / 2
    return int(middle) if field.type == "integer" else Decimal(repr(middle))


def _typed_integer(value: object) -> object:
    return int(value.strip()) if isinstance(value, str) else value


def _typed_decimal(value: object) -> object:
    return value if isinstance(value, Decimal | bool) else Decimal(str(value).strip())


def _typed_date(value: object) -> object:
    return dt.date.fromisoformat(value.strip()) if isinstance(value, str) else value


def _typed_multiple(value: object) -> object:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else value


def _same(value: object) -> object:
    return value


FIELD_TYPES: Mapping[FieldType, FieldTypeSpec] = MappingProxyType(
    {
        "integer": FieldTypeSpec(
            "integer", _parse_integer, _typed_integer, _sample_number, ("text", "integer"),
            "integer", numeric=True,
        ),
        "decimal": FieldTypeSpec(
            "decimal", _parse_decimal, _typed_decimal, _sample_number, ("text", "number"),
            "float", numeric=True,
        ),
        "text": FieldTypeSpec("text", _parse_text, _same, lambda f: "text", ("text", ""), "text"),
        "date": FieldTypeSpec(
            "date", _parse_date, _typed_date, lambda f: dt.date(2000, 1, 1),
            ("text", "date_ymd"), "date",
        ),
        "boolean": FieldTypeSpec(
            "boolean", _parse_boolean, _same, lambda f: True, ("yesno", ""), "boolean"
        ),
        "single_choice": FieldTypeSpec(
            "single_choice", _parse_single, _same, lambda f: f.choices[0].code, ("radio", ""),
            "text",
        ),
        "multiple_choice": FieldTypeSpec(
            "multiple_choice", _parse_multiple, _typed_multiple, lambda f: (f.choices[0].code,),
            ("checkbox", ""), "integer",
        ),
    }
)  # fmt: skip
"""Field type name -> its :class:`FieldTypeSpec`; every :data:`FieldType` has one."""
