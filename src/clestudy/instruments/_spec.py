"""What an instrument declares once: its inputs, outputs, version, source and calculators.

:class:`InputSpec` describes one input (its type, allowed values or bounds, unit, default), and
:class:`Instrument` bundles an instrument's input and output schemas, its definition version, its
cited source and the two calculators built on them: ``derive`` (a flat form record, used by the
store on save) and ``score`` (the ``clestudy score`` JSON object). The registry
(``_registry.py``) lists one :class:`Instrument` per line; the derive dispatch, the score JSON
adapter, the CLI's instrument list and the docs table are read from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from clestudy.instruments._checks import InstrumentInputError, join_allowed

__all__ = [
    "DerivedValue",
    "Deriver",
    "InputSpec",
    "InputType",
    "Instrument",
    "Scorer",
    "as_object",
    "take_payload",
]

InputType = Literal["integer", "decimal", "boolean", "text", "object"]
DerivedValue = int | float | str | bool | None
Deriver = Callable[[Mapping[str, object], Mapping[str, object]], dict[str, DerivedValue]]
Scorer = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class InputSpec:
    """One input of an instrument: what the definition allows.

    Attributes
    ----------
    type : {"integer", "decimal", "boolean", "text", "object"}
        ``"integer"`` is an integer (not a bool), ``"decimal"`` any finite real number, ``"text"`` a
        string, ``"object"`` a JSON object (nested items, e.g. the CLASI ``areas``).
    allowed : tuple
        The only values allowed (codes or integer scores); empty when any value of the type within
        the bounds is allowed.
    minimum, maximum : float, optional
        Bounds of a number; ``exclusive_minimum`` / ``exclusive_maximum`` make them strict.
    required : bool
        The input must be given (in the ``clestudy score`` JSON object).
    default : object
        The value used when an optional input is left out (``None``: scores as absent).
    unit : str, optional

    Examples
    --------
    >>> spec = InputSpec("integer", allowed=(0, 3, 4, 5, 6))
    >>> spec.accepts(3), spec.accepts(2), spec.describe()
    (True, False, '0, 3, 4, 5 or 6')
    """

    type: InputType
    allowed: tuple[int | str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    required: bool = False
    default: object = None
    unit: str | None = None

    def describe(self) -> str:
        """The allowed values in words, as error messages and the docs print them."""
        if self.allowed:
            return join_allowed(self.allowed)
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        text = {"integer": "an integer", "decimal": "a number", "boolean": "true or false"}.get(
            self.type, f"a {self.type}"
        )
        text += "".join(f" {b}" for b in (" and ".join(bounds),) if b)
        return text + (f" {self.unit}" if self.unit else "")

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is of the declared type, within the bounds and allowed values.

        A bool is not an integer, and a number must be finite.
        """
        kinds: dict[str, tuple[type, ...]] = {
            "integer": (int,),
            "decimal": (int, float),
            "boolean": (bool,),
            "text": (str,),
            "object": (Mapping,),
        }
        if isinstance(value, bool) != (self.type == "boolean"):
            return False
        if not isinstance(value, kinds[self.type]):
            return False
        if self.allowed:
            return value in self.allowed
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, int | float):
            low, high = self.minimum, self.maximum
            if low is not None and (value < low or (self.exclusive_minimum and value == low)):
                return False
            if high is not None and (value > high or (self.exclusive_maximum and value == high)):
                return False
        return True


@dataclass(frozen=True)
class Instrument:
    """One registered instrument: schemas, version, citation and calculators.

    Attributes
    ----------
    name : str
        The registry name (``clestudy score NAME``, ``derive(NAME, ...)``).
    title : str
    version : str
        The definition version, e.g. ``"clasi-2005/1"``. Bump it whenever the output for the same
        input changes; the golden-output test (``tests/instruments/golden/``) fails otherwise.
    source : str
        The definition's source, as cited in the docstrings.
    reference : str
        A resolvable reference to it: ``doi:...``, ``PMID:...`` or an ``https://`` address.
    inputs : mapping
        Input name -> :class:`InputSpec` of the flat record the instrument reads: the form fields
        for an instrument derived on save, else the ``clestudy score`` keys.
    score_inputs : mapping
        ``clestudy score`` JSON key -> :class:`InputSpec` (nested objects are type ``"object"``).
    score_outputs : mapping
        ``clestudy score`` JSON output key -> JSON type (``"integer"``, ``"number"``, ``"string"``,
        ``"boolean"``, ``"array"``; ``"|null"`` appended when it may be null).
    score : callable
        The ``clestudy score`` adapter: a checked payload -> the JSON output object.
    derived_outputs : mapping
        Derived value name -> JSON type, for an instrument the store derives on save.
    derive : callable, optional
        Flat form record and study settings -> derived values; ``None`` when not derived on save.
    """

    name: str
    title: str
    version: str
    source: str
    reference: str
    inputs: Mapping[str, InputSpec]
    score_inputs: Mapping[str, InputSpec]
    score_outputs: Mapping[str, str]
    score: Scorer
    derived_outputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    derive: Deriver | None = None


_MISSING = object()


def take_payload(instrument: str, payload: Mapping[str, Any], spec: Mapping[str, InputSpec]) -> dict[str, Any]:  # fmt: skip
    """Check the keys of a ``clestudy score`` payload against ``spec``; fill in the defaults.

    Raises
    ------
    InstrumentInputError
        An unknown key (the message lists the allowed keys) or a missing required key.

    Examples
    --------
    >>> take_payload("x", {"a": 1}, {"a": InputSpec("integer", required=True), "b": InputSpec("text", default="u")})
    {'a': 1, 'b': 'u'}
    """
    for key in payload:
        if key not in spec:
            raise InstrumentInputError(
                f"{instrument}: {key}: unknown key; allowed: {join_allowed(spec)}"
            )
    out: dict[str, Any] = {}
    for key, item in spec.items():
        value = payload.get(key, _MISSING)
        if value is _MISSING:
            if item.required:
                raise InstrumentInputError(f"{instrument}: {key}: missing; it is required")
            value = item.default
        out[key] = value
    return out


def as_object(instrument: str, key: str, value: object) -> Mapping[str, Any]:
    """``value`` as a mapping (``None`` -> empty); anything else is an error naming ``key``.

    Examples
    --------
    >>> as_object("clasi", "areas", None)
    {}
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InstrumentInputError(f"{instrument}: {key}: got {value!r}; allowed: an object")
    return value
