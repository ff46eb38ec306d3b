"""Strata of a randomized study: every combination of the stratification fields' codes.

A stratum is named by a key such as ``sex=F;cle_subtype=dle`` (fields in protocol order, then
their codes), or :data:`NO_STRATA` when the study is not stratified. Only categorical fields
stratify: single choice (its codes) and yes/no (``true``/``false``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from clestudy.errors import InputError
from clestudy.protocol import FieldSpec, Protocol, RandomizationSpec

__all__ = [
    "NO_STRATA",
    "field_codes",
    "missing_strata_fields",
    "strata_fields",
    "strata_of",
    "stratum_key",
]

#: The key of the one stratum of a study randomized without stratification.
NO_STRATA = "all"


def _spec(protocol: Protocol) -> RandomizationSpec:
    if protocol.randomization is None:
        raise InputError(
            f"study {protocol.id} is not randomized (its protocol has no randomization section)"
        )
    return protocol.randomization


def strata_fields(protocol: Protocol) -> list[FieldSpec]:
    """The stratification fields of ``protocol``, in the order the protocol lists them."""
    spec = _spec(protocol)
    form = protocol.form(spec.form)
    if form is None:  # the protocol's cross-reference checks refuse this
        raise InputError(f"randomization.form: unknown form '{spec.form}'")
    fields = []
    for field_id in spec.strata:
        field = form.field(field_id)
        if field is None:
            raise InputError(f"randomization.strata: '{field_id}' is not a field of '{form.id}'")
        fields.append(field)
    return fields


def field_codes(field: FieldSpec) -> list[str]:
    """The values a stratification field takes, as they appear in a stratum key."""
    if field.type == "boolean":
        return ["false", "true"]
    if field.type == "single_choice":
        return [c.code for c in field.choices]
    raise InputError(
        f"randomization.strata: field '{field.id}' is {field.type}; only single choice and "
        "yes/no fields stratify"
    )


def strata_of(protocol: Protocol) -> list[str]:
    """Every stratum key of ``protocol``'s randomization: the product of the fields' codes, in
    protocol order (e.g. ``["sex=F", "sex=M"]``), or ``[NO_STRATA]`` without strata."""
    fields = strata_fields(protocol)
    if not fields:
        return [NO_STRATA]
    combos = itertools.product(*(field_codes(f) for f in fields))
    return [
        ";".join(f"{f.id}={code}" for f, code in zip(fields, combo, strict=True))
        for combo in combos
    ]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def missing_strata_fields(protocol: Protocol, values: Mapping[str, Any] | None) -> list[str]:
    """The stratification fields with no value in the baseline form's ``values``."""
    return [f.id for f in strata_fields(protocol) if values is None or values.get(f.id) is None]


def stratum_key(protocol: Protocol, values: Mapping[str, Any] | None) -> str:
    """The stratum of a subject whose baseline form holds ``values``.

    Raises
    ------
    InputError
        Naming every stratification field without a value.
    """
    fields = strata_fields(protocol)
    missing = missing_strata_fields(protocol, values)
    if missing:
        spec = _spec(protocol)
        raise InputError(
            f"stratification incomplete: {', '.join(missing)} of form {spec.form} at visit "
            f"{spec.visit} must hold a value before randomization"
        )
    if not fields or values is None:
        return NO_STRATA
    return ";".join(f"{f.id}={_text(values[f.id])}" for f in fields)
