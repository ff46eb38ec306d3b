"""The instruments' input error and the checks every calculator uses on its inputs.

Every check raises :class:`InstrumentInputError` with one line that names the instrument, the
item, the value received and the values allowed. Nothing is clamped, rounded or coerced: a bool is
not accepted where an integer score is expected, and a string is never parsed as a number.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from fractions import Fraction

from clestudy.errors import InputError

__all__ = [
    "InstrumentInputError",
    "check_bool",
    "check_choice",
    "check_count",
    "check_int",
    "check_number",
    "exact",
    "join_allowed",
]


class InstrumentInputError(InputError):
    """An instrument item with a value its definition does not allow (exit code 2).

    The message names the instrument, the item, the value and the allowed values.

    Examples
    --------
    >>> err = InstrumentInputError("clasi: scalp_scarring: got 2; allowed: 0, 3, 4, 5 or 6")
    >>> err.exit_code
    2
    """


def join_allowed(values: Iterable[object]) -> str:
    """Render allowed values as ``'a, b or c'``.

    Examples
    --------
    >>> join_allowed([0, 3, 4, 5, 6])
    '0, 3, 4, 5 or 6'
    >>> join_allowed(["4-point"])
    '4-point'
    """
    items = [str(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def _fail(instrument: str, item: str, value: object, allowed: str) -> InstrumentInputError:
    shown = (
        _shown(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else repr(value)
    )
    return InstrumentInputError(f"{instrument}: {item}: got {shown}; allowed: {allowed}")


def check_int(instrument: str, item: str, value: object, allowed: Sequence[int]) -> int:
    """Return ``value`` if it is an integer (not a bool) in ``allowed``; raise otherwise.

    Examples
    --------
    >>> check_int("clasi", "scalp_scarring", 3, (0, 3, 4, 5, 6))
    3
    >>> check_int("clasi", "scalp_scarring", 2, (0, 3, 4, 5, 6))
    Traceback (most recent call last):
    ...
    clestudy.instruments._checks.InstrumentInputError: clasi: scalp_scarring: got 2; allowed: 0, 3, 4, 5 or 6
    """
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        if isinstance(allowed, range) and len(allowed) > 4 and allowed.step == 1:
            raise _fail(instrument, item, value, f"an integer {allowed.start}-{allowed.stop - 1}")
        raise _fail(instrument, item, value, join_allowed(allowed))
    return value


def check_count(instrument: str, item: str, value: object) -> int:
    """Return ``value`` if it is a non-negative integer (not a bool); raise otherwise.

    Examples
    --------
    >>> check_count("sledai2k", "arthritis_joint_count", 3)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(instrument, item, value, "an integer >= 0")
    return value


def check_bool(instrument: str, item: str, value: object) -> bool:
    """Return ``value`` if it is a bool (``true``/``false``); raise otherwise.

    Examples
    --------
    >>> check_bool("sledai2k", "fever", True)
    True
    """
    if not isinstance(value, bool):
        raise _fail(instrument, item, value, "true or false")
    return value


def check_choice(instrument: str, item: str, value: object, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings in ``allowed``; raise otherwise.

    Examples
    --------
    >>> check_choice("clasi", "rule", "4-point", ("4-point", "20-percent"))
    '4-point'
    """
    if not isinstance(value, str) or value not in allowed:
        raise _fail(instrument, item, value, join_allowed(allowed))
    return value


def check_number(
    instrument: str,
    item: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
    unit: str = "",
) -> float:
    """Return ``value`` as a float if it is a finite real number within the bounds; raise otherwise.

    An integer too large for a float, ``inf``/``nan`` and a non-zero number below the smallest
    normal float (``1e-320``) are refused: a calculator never sees an overflowing input.

    ``strict_minimum`` makes the lower bound exclusive (e.g. a body weight must be > 0), and
    ``strict_maximum`` the upper one.

    Examples
    --------
    >>> check_number("crcl", "weight_kg", 60, minimum=0, strict_minimum=True)
    60.0
    >>> check_number("crcl", "weight_kg", 0, minimum=0, strict_minimum=True, unit="kg")
    Traceback (most recent call last):
    ...
    clestudy.instruments._checks.InstrumentInputError: crcl: weight_kg: got 0; allowed: a number > 0 kg
    """
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if strict_minimum else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"{'<' if strict_maximum else '<='} {maximum:g}")
    allowed = (
        "a number" + (" " + " and ".join(bounds) if bounds else "") + (f" {unit}" if unit else "")
    )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(instrument, item, value, allowed)
    number = _finite_float(instrument, item, value, allowed)
    if (
        not math.isfinite(number)
        or (minimum is not None and (number < minimum or (strict_minimum and number == minimum)))
        or (maximum is not None and (number > maximum or (strict_maximum and number == maximum)))
    ):
        raise _fail(instrument, item, value, allowed)
    return number


def _shown(value: int | float) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"


def _finite_float(instrument: str, item: str, value: int | float, allowed: str) -> float:
    """``value`` as a float, refusing what a float cannot hold: an integer beyond the float range
    (overflow) and a non-zero number below the smallest normal float (underflow: ``1e-320`` keeps
    few significant digits and its reciprocal overflows)."""
    try:
        number = float(value)
    except OverflowError:
        raise InstrumentInputError(
            f"{instrument}: {item}: got {_shown(value)}; it is too large for a number "
            f"(overflow); allowed: {allowed}"
        ) from None
    if number != 0 and abs(number) < sys.float_info.min:
        raise InstrumentInputError(
            f"{instrument}: {item}: got {value!r}; it is too close to 0 for a number "
            f"(underflow, below {sys.float_info.min:.3g}); allowed: {allowed}"
        )
    return number


def exact(value: float | int) -> Fraction:
    """The exact decimal a number was written as, for boundary comparisons without float error.

    ``Fraction(repr(x))`` turns the float ``0.1`` into exactly 1/10, so ``3 * 0.1 > 0.3`` is
    decided on the printed decimals, as CTCAE intervals are printed (admiral uses ``signif`` for
    the same purpose).

    Examples
    --------
    >>> exact(0.1) * 3 == exact(0.3)
    True
    >>> exact(7)
    Fraction(7, 1)
    """
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(value))
