"""Cockcroft-Gault creatinine clearance and the lenalidomide renal starting-dose check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clestudy.instruments._checks import (
    check_bool,
    check_choice,
    check_number,
)

__all__ = [
    "CREATININE_UNITS",
    "DEFAULT_RENAL_JURISDICTION",
    "RENAL_JURISDICTIONS",
    "WEIGHT_BASES",
    "CreatinineClearance",
    "RenalDoseCheck",
    "cockcroft_gault",
    "lenalidomide_renal_check",
    "renal_jurisdiction_setting",
]

CREATININE_UNITS: tuple[str, ...] = ("mg/dL", "umol/L")
_UMOL_PER_MG_DL = 88.4  # serum creatinine: umol/L / 88.4 = mg/dL (reference/instruments.md 6.2)
WEIGHT_BASES: tuple[str, ...] = ("actual", "ideal", "adjusted")

RENAL_JURISDICTIONS: dict[str, float] = {"US": 60.0, "EU": 50.0}
"""Upper CLcr limit (mL/min) of the moderate-impairment band: US PI 60, EU SmPC 50."""

DEFAULT_RENAL_JURISDICTION = "US"
"""Default ``lenalidomide_renal_jurisdiction``: US (REVLIMID US PI: adjust the starting dose for
CLcr < 60 mL/min); ``"EU"`` uses the SmPC band 30 <= CLcr < 50."""


@dataclass(frozen=True)
class CreatinineClearance:
    """A Cockcroft-Gault estimate with what it was computed from.

    Attributes
    ----------
    crcl_ml_min : float
    weight_kg : float
        The weight used in the formula.
    weight_basis : str
        ``"actual"``, ``"ideal"`` or ``"adjusted"``: which weight the caller passed (the label
        does not fix the convention, so it is recorded).
    creatinine_mg_dl : float
        Serum creatinine converted to mg/dL.
    """

    crcl_ml_min: float
    weight_kg: float
    weight_basis: str
    creatinine_mg_dl: float


def cockcroft_gault(
    age_years: float,
    weight_kg: float,
    sex: str,
    creatinine: float,
    creatinine_unit: str = "mg/dL",
    *,
    weight_basis: str = "actual",
) -> CreatinineClearance:
    """Creatinine clearance by Cockcroft-Gault.

    .. math:: CrCl = \\frac{(140 - age) \\times weight \\times (0.85 \\text{ if female})}
                          {72 \\times S_{Cr}}

    with :math:`S_{Cr}` in mg/dL (umol/L / 88.4), weight in kg, CrCl in mL/min.

    Parameters
    ----------
    age_years : float
        18 to < 140: the equation was derived in adults (ages 18-92) and is not used in children.
    weight_kg : float
        > 0; the weight used (see ``weight_basis``).
    sex : {"female", "male"}
    creatinine : float
        Serum creatinine, > 0.
    creatinine_unit : {"mg/dL", "umol/L"}
    weight_basis : {"actual", "ideal", "adjusted"}
        Recorded with the result.

    Notes
    -----
    Source: Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine.
    Nephron 1976;16(1):31-41. doi:10.1159/000180580. Lenalidomide labels specify Cockcroft-Gault
    for renal dose adjustment (reference/instruments.md 6.2).
    Validated against: hand calculations (e.g. 100 x 60 x 0.85 / 72 = 70.83 mL/min) in
    tests/instruments/test_renal.py.

    Examples
    --------
    >>> round(cockcroft_gault(40, 60, "female", 1.0).crcl_ml_min, 4)  # 100*60*0.85/72
    70.8333
    >>> round(cockcroft_gault(60, 80, "male", 88.4, "umol/L").crcl_ml_min, 4)  # 80*80/72
    88.8889
    """
    age = check_number(  # (140 - age) must stay positive
        "crcl", "age_years", age_years, minimum=18, maximum=140, strict_maximum=True, unit="years"
    )
    weight = check_number("crcl", "weight_kg", weight_kg, minimum=0, strict_minimum=True, unit="kg")
    checked_sex = check_choice("crcl", "sex", sex, ("female", "male"))
    unit = check_choice("crcl", "creatinine_unit", creatinine_unit, CREATININE_UNITS)
    scr = check_number("crcl", "creatinine", creatinine, minimum=0, strict_minimum=True, unit=unit)
    basis = check_choice("crcl", "weight_basis", weight_basis, WEIGHT_BASES)
    scr_mg_dl = scr / _UMOL_PER_MG_DL if unit == "umol/L" else scr
    crcl = (140 - age) * weight * (0.85 if checked_sex == "female" else 1.0) / (72 * scr_mg_dl)
    return CreatinineClearance(crcl, weight, basis, scr_mg_dl)


@dataclass(frozen=True)
class RenalDoseCheck:
    """The lenalidomide renal starting-dose check.

    Attributes
    ----------
    band : str
        ``"normal"`` (CLcr >= threshold), ``"moderate"`` (30 <= CLcr < threshold), ``"severe"``
        (< 30, not on dialysis) or ``"dialysis"``.
    adjustment_recommended : bool
        A starting-dose adjustment is recommended (any band but ``"normal"``).
    threshold_ml_min : float
        60 (US) or 50 (EU).
    jurisdiction : str
    label_regimen : str
        The label's starting regimen for the band in the multiple myeloma / mantle cell lymphoma
        combination column (oncology; lenalidomide is off-label in CLE).
    not_studied : bool
        CLcr < 11 mL/min without dialysis or < 7 mL/min on dialysis (US PI: not studied).
    """

    band: str
    adjustment_recommended: bool
    threshold_ml_min: float
    jurisdiction: str
    label_regimen: str
    not_studied: bool


_REGIMENS = {
    "normal": "usual starting dose",
    "moderate": "10 mg every 24 hours",
    "severe": "15 mg every 48 hours",
    "dialysis": "5 mg once daily; on dialysis days give after dialysis",
}


def lenalidomide_renal_check(
    crcl_ml_min: float,
    *,
    on_dialysis: bool = False,
    jurisdiction: str = DEFAULT_RENAL_JURISDICTION,
) -> RenalDoseCheck:
    """Classify renal function for the lenalidomide starting dose.

    Bands: dialysis if on dialysis; otherwise severe if CLcr < 30, moderate if
    30 <= CLcr < threshold, normal if CLcr >= threshold, with threshold 60 mL/min (US PI) or
    50 mL/min (EU SmPC).

    Parameters
    ----------
    crcl_ml_min : float
        Cockcroft-Gault CLcr (:func:`cockcroft_gault`), >= 0.
    on_dialysis : bool
    jurisdiction : {"US", "EU"}
        Study setting ``lenalidomide_renal_jurisdiction``; default ``"US"``.

    Notes
    -----
    Sources: REVLIMID (lenalidomide) US Prescribing Information, "Dosage modifications for renal
    impairment" (CLcr < 60 mL/min; CLcr < 11 without and < 7 with dialysis not studied); EU SmPC
    (moderate 30 <= CLcr < 50: 10 mg once daily; severe < 30: 15 mg every other day; ESRD on
    dialysis: 5 mg once daily after dialysis). reference/instruments.md 6.2.
    Validated against: the band boundaries 60/50/30 and the not-studied limits in
    tests/instruments/test_renal.py.

    Examples
    --------
    >>> lenalidomide_renal_check(55).band, lenalidomide_renal_check(55, jurisdiction="EU").band
    ('moderate', 'normal')
    """
    crcl = check_number("lenalidomide", "crcl_ml_min", crcl_ml_min, minimum=0, unit="mL/min")
    dialysis = check_bool("lenalidomide", "on_dialysis", on_dialysis)
    where = check_choice("lenalidomide", "jurisdiction", jurisdiction, tuple(RENAL_JURISDICTIONS))
    threshold = RENAL_JURISDICTIONS[where]
    if dialysis:
        band = "dialysis"
    elif crcl < 30:
        band = "severe"
    elif crcl < threshold:
        band = "moderate"
    else:
        band = "normal"
    not_studied = crcl < 7 if dialysis else crcl < 11
    return RenalDoseCheck(band, band != "normal", threshold, where, _REGIMENS[band], not_studied)


def renal_jurisdiction_setting(settings: Mapping[str, object]) -> str:
    """The study's ``lenalidomide_renal_jurisdiction`` (``"US"`` default, or ``"EU"``).

    Examples
    --------
    >>> renal_jurisdiction_setting({})
    'US'
    """
    value = settings.get("lenalidomide_renal_jurisdiction", DEFAULT_RENAL_JURISDICTION)
    return check_choice(
        "lenalidomide", "lenalidomide_renal_jurisdiction", value, tuple(RENAL_JURISDICTIONS)
    )
