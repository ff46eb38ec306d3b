"""Glucocorticoid prednisone-equivalent doses (BNF equivalent anti-inflammatory doses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_number,
    exact,
    join_allowed,
)
from clestudy.instruments._spec import InputSpec, Instrument, take_payload

__all__ = [
    "DEFAULT_BETAMETHASONE_MG",
    "DEFAULT_DEFLAZACORT_MG",
    "PREDNISONE_EQUIVALENT",
    "STEROID_DRUGS",
    "SteroidDose",
    "SteroidExposure",
    "prednisone_equivalent",
    "steroid_exposure",
    "steroid_settings",
]

# mg of each drug equivalent to 5 mg prednisone/prednisolone (BNF "Equivalent anti-inflammatory
# doses of corticosteroids", quoted by the East Lancashire joint formulary section 6.3).
_EQUIVALENT_MG: dict[str, Fraction] = {
    "prednisone": Fraction(5),
    "prednisolone": Fraction(5),
    "methylprednisolone": Fraction(4),
    "hydrocortisone": Fraction(20),
    "cortisone": Fraction(25),
    "triamcinolone": Fraction(4),
    "dexamethasone": exact(0.75),
}
_ALIASES = {"cortisone acetate": "cortisone"}

STEROID_DRUGS: tuple[str, ...] = (*_EQUIVALENT_MG, "betamethasone", "deflazacort")
"""Systemic glucocorticoids with a prednisone equivalent."""

DEFAULT_BETAMETHASONE_MG = 0.75
"""Betamethasone mg equivalent to prednisone 5 mg: 0.75 (BNF; US prednisolone label table);
some US tables give 0.6 (setting ``betamethasone_mg_per_5mg_prednisone``)."""

DEFAULT_DEFLAZACORT_MG = 6.0
"""Deflazacort mg equivalent to prednisone 5 mg: 6 (BNF; the 1.2:1 ratio of an SLE trial, Lupus
2018, doi:10.1177/0961203317751854). Contested (PD ratios 1.14-2.77, Eur J Clin Pharmacol
1996;51:53); setting ``deflazacort_mg_per_5mg_prednisone``."""


def _equivalent_mg(
    drug: object, betamethasone_mg: float, deflazacort_mg: float
) -> tuple[str, Fraction]:
    name = drug.strip().lower() if isinstance(drug, str) else drug
    name = _ALIASES.get(name, name) if isinstance(name, str) else name
    if name == "betamethasone":
        return name, exact(
            check_number(
                "steroids",
                "betamethasone_mg_per_5mg_prednisone",
                betamethasone_mg,
                minimum=0,
                strict_minimum=True,
                unit="mg",
            )
        )
    if name == "deflazacort":
        return name, exact(
            check_number(
                "steroids",
                "deflazacort_mg_per_5mg_prednisone",
                deflazacort_mg,
                minimum=0,
                strict_minimum=True,
                unit="mg",
            )
        )
    if not isinstance(name, str) or name not in _EQUIVALENT_MG:
        raise InstrumentInputError(
            f"steroids: drug: got {drug!r}; allowed: {join_allowed(STEROID_DRUGS)}"
        )
    return name, _EQUIVALENT_MG[name]


def prednisone_equivalent(
    drug: str,
    dose_mg: float,
    *,
    betamethasone_mg: float = DEFAULT_BETAMETHASONE_MG,
    deflazacort_mg: float = DEFAULT_DEFLAZACORT_MG,
) -> float:
    """Prednisone-equivalent dose of a systemic glucocorticoid.

    .. math:: PE = dose \\times 5 / e_{drug}

    where :math:`e_{drug}` is the dose equivalent to 5 mg prednisone: prednisone and
    prednisolone 5, methylprednisolone 4, hydrocortisone 20, cortisone 25, triamcinolone 4,
    dexamethasone 0.75, betamethasone 0.75 (setting; 0.6 in some US tables), deflazacort 6
    (setting). Oral and IV doses convert alike; the ratios ignore mineralocorticoid activity and
    duration of action. Topical, inhaled and intra-articular steroids are not covered.

    Parameters
    ----------
    drug : str
        One of :data:`STEROID_DRUGS` (case-insensitive; "cortisone acetate" is cortisone).
    dose_mg : float
        Dose in mg, >= 0.
    betamethasone_mg, deflazacort_mg : float
        The study's equivalents of 5 mg prednisone for these two drugs.

    Returns
    -------
    float
        Prednisone-equivalent mg.

    Notes
    -----
    Source: BNF, "Equivalent anti-inflammatory doses of corticosteroids", as quoted in the East
    Lancashire Medicines Management Board joint formulary section 6.3 and the Derby formulary;
    consistent with the US prednisolone label table (reference/instruments.md section 5).
    Validated against: the BNF table and the FDA prednisolone label equivalence line
    (15 mg prednisolone = 12 mg methylprednisolone = 2.25 mg dexamethasone ...) in
    tests/instruments/test_steroids.py.

    Examples
    --------
    >>> prednisone_equivalent("methylprednisolone", 16)
    20.0
    >>> round(prednisone_equivalent("dexamethasone", 4), 4)
    26.6667
    """
    name, equivalent = _equivalent_mg(drug, betamethasone_mg, deflazacort_mg)
    dose = exact(check_number("steroids", "dose_mg", dose_mg, minimum=0, unit="mg"))
    try:
        return float(dose * 5 / equivalent)
    except OverflowError:  # e.g. 1e308 mg of dexamethasone (x 5 / 0.75)
        raise InstrumentInputError(
            f"steroids: dose_mg: got {dose_mg!r}; its prednisone equivalent ({name}, {float(equivalent):g} "
            "mg per 5 mg) is too large for a number; allowed: a dose whose equivalent is finite"
        ) from None


@dataclass(frozen=True)
class SteroidDose:
    """One glucocorticoid dose as recorded: drug, mg, and whether it is an IV pulse."""

    drug: str
    dose_mg: float
    pulse: bool = False


@dataclass(frozen=True)
class SteroidExposure:
    """Daily prednisone-equivalent dose, with IV pulses kept apart.

    Attributes
    ----------
    daily_prednisone_equivalent_mg : float
        Sum over the non-pulse doses (what LLDAS, DORIS and the SELENA flare index read).
    pulse_prednisone_equivalent_mg : float
        Sum over the pulse doses, reported separately and never added to the daily dose.
    pulse_count : int
    """

    daily_prednisone_equivalent_mg: float
    pulse_prednisone_equivalent_mg: float
    pulse_count: int


def steroid_exposure(
    doses: Iterable[SteroidDose],
    *,
    betamethasone_mg: float = DEFAULT_BETAMETHASONE_MG,
    deflazacort_mg: float = DEFAULT_DEFLAZACORT_MG,
) -> SteroidExposure:
    """Sum a day's glucocorticoid doses as prednisone equivalents, keeping IV pulses apart.

    Whether a dose is a pulse is recorded on the form (``SteroidDose.pulse``); no dose threshold
    is assumed. Conversion and source: :func:`prednisone_equivalent`.

    Examples
    --------
    >>> e = steroid_exposure([SteroidDose("prednisone", 5), SteroidDose("hydrocortisone", 10),
    ...                       SteroidDose("methylprednisolone", 500, pulse=True)])
    >>> (e.daily_prednisone_equivalent_mg, e.pulse_prednisone_equivalent_mg, e.pulse_count)
    (7.5, 625.0, 1)
    """
    daily = pulse = Fraction(0)
    count = 0
    for index, dose in enumerate(doses):
        _, equivalent = _equivalent_mg(dose.drug, betamethasone_mg, deflazacort_mg)
        mg = exact(
            check_number("steroids", f"doses[{index}].dose_mg", dose.dose_mg, minimum=0, unit="mg")
        )
        if check_bool("steroids", f"doses[{index}].pulse", dose.pulse):
            pulse += mg * 5 / equivalent
            count += 1
        else:
            daily += mg * 5 / equivalent
    return SteroidExposure(float(daily), float(pulse), count)


def steroid_settings(settings: Mapping[str, object]) -> tuple[float, float]:
    """Read ``betamethasone_mg_per_5mg_prednisone`` and ``deflazacort_mg_per_5mg_prednisone``.

    Examples
    --------
    >>> steroid_settings({"betamethasone_mg_per_5mg_prednisone": 0.6})
    (0.6, 6.0)
    """
    beta = settings.get("betamethasone_mg_per_5mg_prednisone", DEFAULT_BETAMETHASONE_MG)
    defl = settings.get("deflazacort_mg_per_5mg_prednisone", DEFAULT_DEFLAZACORT_MG)
    return (
        check_number(
            "steroids",
            "betamethasone_mg_per_5mg_prednisone",
            beta,
            minimum=0,
            strict_minimum=True,
            unit="mg",
        ),
        check_number(
            "steroids",
            "deflazacort_mg_per_5mg_prednisone",
            defl,
            minimum=0,
            strict_minimum=True,
            unit="mg",
        ),
    )


_SCORE_INPUTS = MappingProxyType(
    {
        "drug": InputSpec("text", allowed=STEROID_DRUGS, required=True),
        "dose_mg": InputSpec("decimal", minimum=0, required=True, unit="mg"),
        "betamethasone_mg_per_5mg_prednisone": InputSpec(
            "decimal",
            minimum=0,
            exclusive_minimum=True,
            default=DEFAULT_BETAMETHASONE_MG,
            unit="mg",
        ),
        "deflazacort_mg_per_5mg_prednisone": InputSpec(
            "decimal", minimum=0, exclusive_minimum=True, default=DEFAULT_DEFLAZACORT_MG, unit="mg"
        ),
    }
)


def _score_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = take_payload("steroids", payload, _SCORE_INPUTS)
    mg = prednisone_equivalent(
        args["drug"],
        args["dose_mg"],
        betamethasone_mg=args["betamethasone_mg_per_5mg_prednisone"],
        deflazacort_mg=args["deflazacort_mg_per_5mg_prednisone"],
    )
    return {"prednisone_equivalent_mg": mg}


PREDNISONE_EQUIVALENT = Instrument(
    name="prednisone-equivalent",
    title="Prednisone-equivalent dose of a systemic glucocorticoid",
    version="prednisone-equivalent-bnf/1",
    source='BNF "Equivalent anti-inflammatory doses of corticosteroids" (East Lancashire '
    "formulary 6.3); US prednisolone label table",
    reference="https://www.elmmb.nhs.uk/elmmb-formulary/joint-medicines-formulary/6/6-3/",
    inputs=_SCORE_INPUTS,
    score_inputs=_SCORE_INPUTS,
    score_outputs=MappingProxyType({"prednisone_equivalent_mg": "number"}),
    score=_score_json,
)
"""The prednisone-equivalent calculator's registry entry (``clestudy score`` only)."""
