"""Units accepted by CTCAE lab grading, and their exact conversion factors.

Cell counts are converted to 10^9/L (1 /uL = 1 /mm3 = 10^-3 x 10^9/L; 10^3/uL = 10^9/L).
Haemoglobin is not converted: CTCAE prints separate thresholds for g/dL, g/L and mmol/L (10.0 g/dL
~ 6.2 mmol/L is a rounded pair, not an exact conversion), so each unit uses its own printed numbers.
Ratio-graded terms (ALT, AST, alkaline phosphatase, GGT, bilirubin, creatinine) compare value, ULN and baseline in the same
unit, so the unit only has to be a known unit of that analyte. An unknown unit is an error, never
grade 0 (the PharmaForest SAS macros silently grade an unrecognised unit 0).
"""

from __future__ import annotations

from fractions import Fraction

from clestudy.instruments._checks import InstrumentInputError, join_allowed

__all__ = ["CELL_UNITS", "UNIT_FAMILIES", "normalise_unit", "to_family_unit"]

CELL_UNITS: dict[str, Fraction] = {
    "10^9/L": Fraction(1),
    "10^3/uL": Fraction(1),
    "/uL": Fraction(1, 1000),
    "/mm3": Fraction(1, 1000),
}
"""Cell-count units -> factor to 10^9/L."""

# Spellings accepted for each canonical unit (compared after normalise_unit).
_ALIASES: dict[str, str] = {
    "10^9/l": "10^9/L",
    "x10^9/l": "10^9/L",
    "10e9/l": "10^9/L",
    "x10e9/l": "10^9/L",
    "10^3/ul": "10^3/uL",
    "x10^3/ul": "10^3/uL",
    "10e3/ul": "10^3/uL",
    "x10e3/ul": "10^3/uL",
    "/ul": "/uL",
    "cells/ul": "/uL",
    "/mm3": "/mm3",
    "cells/mm3": "/mm3",
    "g/dl": "g/dL",
    "g/l": "g/L",
    "mmol/l": "mmol/L",
    "mg/dl": "mg/dL",
    "umol/l": "umol/L",
    "u/l": "U/L",
    "iu/l": "U/L",
    "ukat/l": "ukat/L",
}

UNIT_FAMILIES: dict[str, tuple[str, ...]] = {
    "cells": tuple(CELL_UNITS),
    "hemoglobin": ("g/dL", "g/L", "mmol/L"),
    "creatinine": ("mg/dL", "umol/L"),
    "bilirubin": ("mg/dL", "umol/L"),
    "aminotransferase": ("U/L", "ukat/L"),
    "alkaline_phosphatase": ("U/L", "ukat/L"),
    "ggt": ("U/L", "ukat/L"),
}
"""Analyte family -> the canonical units accepted."""


def normalise_unit(unit: str) -> str | None:
    """The canonical spelling of ``unit``, or ``None`` when it is not a known spelling.

    Spaces are dropped, micro signs become ``u``, superscript 3 becomes ``3``, case is ignored.

    Examples
    --------
    >>> normalise_unit("x10^9/L"), normalise_unit("cells/µL"), normalise_unit("mm/h")
    ('10^9/L', '/uL', None)
    """
    key = unit.replace(" ", "").replace("µ", "u").replace("μ", "u").replace("³", "3").lower()
    return _ALIASES.get(key)


def to_family_unit(term: str, family: str, unit: object) -> str:
    """Check ``unit`` against the analyte family of ``term``; return its canonical spelling.

    Raises
    ------
    InstrumentInputError
        The unit is not a string or not a unit of this analyte.

    Examples
    --------
    >>> to_family_unit("Neutrophil count decreased", "cells", "/mm3")
    '/mm3'
    >>> to_family_unit("Anemia", "hemoglobin", "mg/dL")
    Traceback (most recent call last):
    ...
    clestudy.instruments._checks.InstrumentInputError: ctcae: unit: got 'mg/dL' for 'Anemia'; allowed: g/dL, g/L or mmol/L
    """
    allowed = UNIT_FAMILIES[family]
    canonical = normalise_unit(unit) if isinstance(unit, str) else None
    if canonical is None or canonical not in allowed:
        raise InstrumentInputError(
            f"ctcae: unit: got {unit!r} for {term!r}; allowed: {join_allowed(allowed)}"
        )
    return canonical
