"""The result shape shared by the rule-based indices (SRI-4, LLDAS, DORIS) and shared checks."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from clestudy.instruments._checks import check_int, check_number, exact

__all__ = ["CriteriaResult", "check_pga", "check_sledai_total"]


@dataclass(frozen=True)
class CriteriaResult:
    """Whether an index is met, with each criterion's result.

    Attributes
    ----------
    instrument : str
        E.g. ``"sri4"``, ``"lldas"``, ``"doris"``.
    met : bool
        All criteria met.
    criteria : dict of str to bool
        Criterion name -> met, in the order of the definition.
    notes : tuple of str
        Details behind the criteria (e.g. which BILAG domains are new A/B).
    """

    instrument: str
    met: bool
    criteria: dict[str, bool]
    notes: tuple[str, ...] = ()


def check_pga(instrument: str, item: str, value: object) -> Fraction:
    """A physician global assessment on the SELENA 0-3 scale, as an exact decimal.

    Examples
    --------
    >>> check_pga("sri4", "pga_baseline", 1.3)
    Fraction(13, 10)
    """
    return exact(check_number(instrument, item, value, minimum=0, maximum=3))


def check_sledai_total(instrument: str, item: str, value: object) -> int:
    """A SLEDAI-2K (or SELENA-SLEDAI) total, 0-105.

    Examples
    --------
    >>> check_sledai_total("sri4", "sledai_baseline", 8)
    8
    """
    return check_int(instrument, item, value, range(0, 106))
