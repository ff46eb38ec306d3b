"""Derived scores of a flat form record, as the store computes them on save.

The store passes the fields named in :data:`INSTRUMENT_FIELDS` and the protocol's ``settings``;
the result carries the instrument's definition version, which the store records next to the
values. Both mappings, and the dispatch, are read from the instrument registry: an instrument is
derived on save when its registry entry has a ``derive`` calculator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clestudy.instruments._checks import InstrumentInputError, join_allowed
from clestudy.instruments._registry import INSTRUMENTS
from clestudy.instruments._spec import DerivedValue, Deriver

__all__ = ["INSTRUMENT_FIELDS", "INSTRUMENT_VERSIONS", "DerivedScore", "DerivedValue", "derive"]


@dataclass(frozen=True)
class DerivedScore:
    """The derived values of one instrument over one record, with the definition version.

    Attributes
    ----------
    instrument : str
        The instrument name, e.g. ``"clasi"``.
    version : str
        The definition version implemented, e.g. ``"clasi-2005/1"``.
    values : dict
        Output name -> value, e.g. ``{"clasi_activity": 12, "clasi_damage": 3,
        "clasi_activity_severity": "moderate"}``.
    """

    instrument: str
    version: str
    values: dict[str, DerivedValue]


_DERIVERS: dict[str, Deriver] = {
    name: entry.derive for name, entry in INSTRUMENTS.items() if entry.derive is not None
}

INSTRUMENT_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: tuple(INSTRUMENTS[name].inputs) for name in _DERIVERS}
)
"""Instrument name -> the flat form-field names it reads (form-based instruments only)."""

INSTRUMENT_VERSIONS: Mapping[str, str] = MappingProxyType(
    {name: INSTRUMENTS[name].version for name in _DERIVERS}
)
"""Instrument name -> the definition version :func:`derive` implements."""


def derive(
    instrument: str,
    values: Mapping[str, object],
    settings: Mapping[str, object] | None = None,
) -> DerivedScore:
    """Compute an instrument's derived scores from a flat form record.

    Parameters
    ----------
    instrument : str
        A name in :data:`INSTRUMENT_FIELDS`.
    values : mapping
        Field name -> value as entered. Fields the instrument does not read are ignored; a missing
        or ``None`` item counts 0 / false where the definition says a left-out item scores 0
        (CLASI, SLEDAI-2K).
    settings : mapping, optional
        The protocol's study-level settings; keys an instrument does not use are ignored.
        SLEDAI-2K reads ``sledai2k_window_days`` (10 or 30, default 10; recorded in the output as
        ``sledai2k_window_days``) and ``sledai2k_arthritis_rule`` (``">=2"`` default, or ``">2"``),
        which decides arthritis from the form's optional ``arthritis_joint_count`` field.

    Returns
    -------
    DerivedScore

    Raises
    ------
    InstrumentInputError
        An unknown instrument (the message lists the known ones), or an item value the definition
        does not allow. The message starts with the item, value and allowed values, not the
        instrument name: the caller names the record and derived score it was computing
        (``L01/week_6/clasi: scalp_scarring: got 2; ... (derived score clasi)``), so no name is
        printed twice.

    Examples
    --------
    >>> derive("clasi", {"nose_erythema": 2, "nose_scale": 1}).values
    {'clasi_activity': 3, 'clasi_damage': 0, 'clasi_activity_severity': 'mild'}

    Two inflamed joints are arthritis under the default ``">=2"`` rule, not under ``">2"``:

    >>> derive("sledai2k", {"arthritis_joint_count": 2}).values["sledai2k_score"]
    4
    >>> derive("sledai2k", {"arthritis_joint_count": 2}, {"sledai2k_arthritis_rule": ">2"}).values[
    ...     "sledai2k_score"
    ... ]
    0
    """
    compute = _DERIVERS.get(instrument)
    if compute is None:
        raise InstrumentInputError(
            f"unknown instrument {instrument!r}; known: {join_allowed(sorted(_DERIVERS))}"
        )
    try:
        derived = compute(values, settings or {})
    except InstrumentInputError as exc:  # the caller names the derived score: no "clasi: clasi:"
        raise InstrumentInputError(str(exc).removeprefix(f"{instrument}: ")) from None
    return DerivedScore(instrument, INSTRUMENTS[instrument].version, derived)
