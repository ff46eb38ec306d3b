"""Cockcroft-Gault creatinine clearance and the lenalidomide renal starting-dose check."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_choice,
    check_number,
)
from clestudy.instruments._spec import InputSpec, Instrument, take_payload

__all__ = [
    "CREATININE_CLEARANCE",
    "CREATININE_UNITS",
    "DEFAULT_RENAL_JURISDICTION",
    "RENAL_JURISDICTIONS",
    "SEX_CODES",
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

SEX_CODES: Mapping[str, str] = MappingProxyType(
    {"F": "female", "M": "male", "female": "female", "male": "male"}
)
"""Accepted sex values -> sex: the CDISC SEX codes ``F`` and ``M`` (codelist C66731, as the forms
store them) and the words ``female`` and ``male``. Cockcroft-Gault is defined for the two sexes
only, so ``U`` and ``UNDIFFERENTIATED`` are refused."""

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
    creatinine_unit: str,
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
    sex : {"F", "M", "female", "male"}
        The CDISC SEX code or the word (:data:`SEX_CODES`).
    creatinine : float
        Serum creatinine, > 0.
    creatinine_unit : {"mg/dL", "umol/L"}
        Required: the two units differ 88.4-fold, so none is assumed.
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
    >>> round(cockcroft_gault(40, 60, "F", 1.0, "mg/dL").crcl_ml_min, 4)  # 100*60*0.85/72
    70.8333
    >>> round(cockcroft_gault(60, 80, "male", 88.4, "umol/L").crcl_ml_min, 4)  # 80*80/72
    88.8889
    """
    age = check_number(  # (140 - age) must stay positive
        "crcl", "age_years", age_years, minimum=18, maximum=140, strict_maximum=True, unit="years"
    )
    weight = check_number("crcl", "weight_kg", weight_kg, minimum=0, strict_minimum=True, unit="kg")
    checked_sex = SEX_CODES[check_choice("crcl", "sex", sex, tuple(SEX_CODES))]
    unit = check_choice("crcl", "creatinine_unit", creatinine_unit, CREATININE_UNITS)
    scr = check_number("crcl", "creatinine", creatinine, minimum=0, strict_minimum=True, unit=unit)
    basis = check_choice("crcl", "weight_basis", weight_basis, WEIGHT_BASES)
    scr_mg_dl = scr / _UMOL_PER_MG_DL if unit == "umol/L" else scr
    crcl = (140 - age) * weight * (0.85 if checked_sex == "female" else 1.0) / (72 * scr_mg_dl)
    if not math.isfinite(crcl):  # e.g. a weight of 1e308 kg
        raise InstrumentInputError(
            f"crcl: weight_kg, creatinine: got {weight_kg!r} kg and {creatinine!r} {unit}; the "
            "clearance is too large for a number; allowed: values whose clearance is finite"
        )
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


_SCORE_INPUTS = MappingProxyType(
    {
        "age_years": InputSpec(
            "decimal", minimum=18, maximum=140, exclusive_maximum=True, required=True, unit="years"
        ),
        "weight_kg": InputSpec(
            "decimal", minimum=0, exclusive_minimum=True, required=True, unit="kg"
        ),
        "sex": InputSpec("text", allowed=tuple(SEX_CODES), required=True),
        "creatinine": InputSpec("decimal", minimum=0, exclusive_minimum=True, required=True),
        "creatinine_unit": InputSpec("text", allowed=CREATININE_UNITS, required=True),
        "weight_basis": InputSpec("text", allowed=WEIGHT_BASES, default="actual"),
        "on_dialysis": InputSpec("boolean", default=False),
        "jurisdiction": InputSpec(
            "text", allowed=tuple(RENAL_JURISDICTIONS), default=DEFAULT_RENAL_JURISDICTION
        ),
    }
)


def _score_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = take_payload("crcl", payload, _SCORE_INPUTS)
    on_dialysis, jurisdiction = args.pop("on_dialysis"), args.pop("jurisdiction")
    result = cockcroft_gault(**args)
    check = lenalidomide_renal_check(
        result.crcl_ml_min, on_dialysis=on_dialysis, jurisdiction=jurisdiction
    )
    return {
        "crcl_ml_min": result.crcl_ml_min,
        "weight_kg": result.weight_kg,
        "weight_basis": result.weight_basis,
        "creatinine_mg_dl": result.creatinine_mg_dl,
        "lenalidomide_renal_band": check.band,
        "lenalidomide_adjustment_recommended": check.adjustment_recommended,
        "lenalidomide_threshold_ml_min": check.threshold_ml_min,
        "lenalidomide_jurisdiction": check.jurisdiction,
        "lenalidomide_label_regimen": check.label_regimen,
        "lenalidomide_not_studied": check.not_studied,
    }


CREATININE_CLEARANCE = Instrument(
    name="crcl",
    title="Cockcroft-Gault creatinine clearance with the lenalidomide renal starting-dose check",
    version="crcl-1976/2",
    source="Cockcroft DW, Gault MH. Nephron 1976;16:31-41; REVLIMID US Prescribing Information "
    "(renal impairment) and EU SmPC",
    reference="doi:10.1159/000180580",
    inputs=_SCORE_INPUTS,
    score_inputs=_SCORE_INPUTS,
    score_outputs=MappingProxyType(
        {
            "crcl_ml_min": "number",
            "weight_kg": "number",
            "weight_basis": "string",
            "creatinine_mg_dl": "number",
            "lenalidomide_renal_band": "string",
            "lenalidomide_adjustment_recommended": "boolean",
            "lenalidomide_threshold_ml_min": "number",
            "lenalidomide_jurisdiction": "string",
            "lenalidomide_label_regimen": "string",
            "lenalidomide_not_studied": "boolean",
        }
    ),
    score=_score_json,
)
"""``clestudy score crcl``'s registry entry (version 2: the unit is required, the label's
regimen and not-studied flag are reported)."""
