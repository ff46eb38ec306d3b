"""The instrument registry: one line per instrument, everything else is read from it.

Each instrument module defines its :class:`~clestudy.instruments._spec.Instrument` (input and
output schemas, version, source, calculators) next to its calculator; this module lists them.
:func:`~clestudy.instruments.derive`, :func:`~clestudy.instruments.score_payload`, the CLI's
instrument list and the table in ``docs/instruments.md`` (:func:`instrument_table`) are built
from :data:`INSTRUMENTS`, and the contract tests loop over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from clestudy.instruments._checks import InstrumentInputError, join_allowed
from clestudy.instruments._clasi import CLASI
from clestudy.instruments._ctcae import CTCAE
from clestudy.instruments._ctcae_labs import CTCAE_LABS
from clestudy.instruments._renal import CREATININE_CLEARANCE
from clestudy.instruments._sledai import SLEDAI2K
from clestudy.instruments._spec import InputSpec, Instrument
from clestudy.instruments._steroids import PREDNISONE_EQUIVALENT

__all__ = ["INSTRUMENTS", "get_instrument", "instrument_inputs", "instrument_table"]

INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {
        CLASI.name: CLASI,
        CREATININE_CLEARANCE.name: CREATININE_CLEARANCE,
        CTCAE.name: CTCAE,
        CTCAE_LABS.name: CTCAE_LABS,
        PREDNISONE_EQUIVALENT.name: PREDNISONE_EQUIVALENT,
        SLEDAI2K.name: SLEDAI2K,
    }
)
"""Instrument name -> its registry entry, in name order."""


def get_instrument(name: str, *, item: str = "instrument") -> Instrument:
    """The registry entry of ``name``; an unknown name is an error listing the known ones.

    Examples
    --------
    >>> get_instrument("clasi").version
    'clasi-2005/1'
    """
    entry = INSTRUMENTS.get(name)
    if entry is None:
        raise InstrumentInputError(f"{item}: got {name!r}; allowed: {join_allowed(INSTRUMENTS)}")
    return entry


def instrument_inputs(name: str) -> dict[str, InputSpec]:
    """The inputs an instrument reads, with what its definition allows for each.

    For an instrument derived on save (``clasi``, ``sledai2k``) these are the flat form fields
    :func:`~clestudy.instruments.derive` reads; for the others, the ``clestudy score`` keys. A
    protocol field feeding an instrument input must not allow a value the input refuses (e.g. the
    CLASI ``scalp_scarring`` allows only 0, 3, 4, 5 or 6).

    Parameters
    ----------
    name : str
        A registered instrument (:data:`INSTRUMENTS`).

    Returns
    -------
    dict
        Input name -> :class:`~clestudy.instruments.InputSpec`, in form order.

    Raises
    ------
    InstrumentInputError
        An unknown instrument (the message lists the known ones).

    Examples
    --------
    >>> spec = instrument_inputs("clasi")["scalp_scarring"]
    >>> spec.type, spec.allowed
    ('integer', (0, 3, 4, 5, 6))
    >>> instrument_inputs("sledai2k")["pyuria"].type
    'boolean'
    """
    return dict(get_instrument(name).inputs)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def instrument_table() -> str:
    """The Markdown table of registered instruments printed in ``docs/instruments.md``.

    A test compares the docs with this output, so the table cannot drift from the registry.

    Examples
    --------
    >>> instrument_table().splitlines()[0]
    '| Instrument | Version | Derived on save | `clestudy score` output | Source | Reference |'
    """
    lines = [
        "| Instrument | Version | Derived on save | `clestudy score` output | Source | Reference |",
        "|---|---|---|---|---|---|",
    ]
    for entry in INSTRUMENTS.values():
        derived = ", ".join(f"`{k}`" for k in entry.derived_outputs) or "no"
        outputs = ", ".join(f"`{k}`" for k in entry.score_outputs)
        lines.append(
            f"| `{entry.name}`: {_cell(entry.title)} | `{entry.version}` | {derived} | {outputs} "
            f"| {_cell(entry.source)} | {entry.reference} |"
        )
    return "\n".join(lines) + "\n"
