"""Derived scores of a flat form record, as the store computes them on save.

The store passes the fields named in :data:`INSTRUMENT_FIELDS` and the protocol's ``settings``;
the result carries the instrument's definition version, which the store records next to the
values. Bump a version whenever the code's output for the same input changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clestudy.instruments._checks import InstrumentInputError, join_allowed
from clestudy.instruments._clasi import CLASI_FIELDS, clasi_from_fields
from clestudy.instruments._sledai import SLEDAI2K_DESCRIPTORS, sledai2k_score, sledai2k_settings

__all__ = ["INSTRUMENT_FIELDS", "INSTRUMENT_VERSIONS", "DerivedScore", "DerivedValue", "derive"]

DerivedValue = int | float | str | bool | None


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


def _derive_clasi(
    values: Mapping[str, object], settings: Mapping[str, object]
) -> dict[str, DerivedValue]:
    score = clasi_from_fields(values)
    return {
        "clasi_activity": score.activity,
        "clasi_damage": score.damage,
        "clasi_activity_severity": score.activity_severity,
    }


def _derive_sledai2k(
    values: Mapping[str, object], settings: Mapping[str, object]
) -> dict[str, DerivedValue]:
    window, rule = sledai2k_settings(settings)
    descriptors = {k: v for k, v in values.items() if k in SLEDAI2K_DESCRIPTORS}
    joints = values.get("arthritis_joint_count")
    score = sledai2k_score(
        descriptors,
        window_days=window,
        arthritis_joint_count=joints,  # type: ignore[arg-type]  # sledai2k_score checks it
        arthritis_rule=rule,
    )
    return {
        "sledai2k_score": score.score,
        "sledai2k_clinical_score": score.clinical_score,
        "sledai2k_window_days": score.window_days,
    }


_Deriver = Callable[[Mapping[str, object], Mapping[str, object]], dict[str, DerivedValue]]

_DERIVERS: dict[str, tuple[str, tuple[str, ...], _Deriver]] = {
    "clasi": ("clasi-2005/1", CLASI_FIELDS, _derive_clasi),
    "sledai2k": (
        "sledai2k-2002/1",
        (*SLEDAI2K_DESCRIPTORS, "arthritis_joint_count"),
        _derive_sledai2k,
    ),
}

INSTRUMENT_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: fields for name, (_, fields, _) in _DERIVERS.items()}
)
"""Instrument name -> the flat form-field names it reads (form-based instruments only)."""

INSTRUMENT_VERSIONS: Mapping[str, str] = MappingProxyType(
    {name: version for name, (version, _, _) in _DERIVERS.items()}
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
        does not allow (the message names the item, value and allowed values).

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
    entry = _DERIVERS.get(instrument)
    if entry is None:
        raise InstrumentInputError(
            f"unknown instrument {instrument!r}; known: {join_allowed(sorted(_DERIVERS))}"
        )
    version, _, compute = entry
    return DerivedScore(instrument, version, compute(values, settings or {}))
