"""SLE Responder Index (SRI-4, Furie 2009) from SLEDAI-2K, entered BILAG-2004 grades and PGA.

clestudy does not grade BILAG-2004 (97 items, a licensed algorithm): the domain grades A-E are
taken as entered by a trained assessor.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_choice,
    check_int,
    join_allowed,
)
from clestudy.instruments._criteria import CriteriaResult, check_pga, check_sledai_total

__all__ = ["BILAG_DOMAINS", "BILAG_GRADES", "sri_response"]

BILAG_DOMAINS: tuple[str, ...] = (
    "constitutional",
    "mucocutaneous",
    "neuropsychiatric",
    "musculoskeletal",
    "cardiorespiratory",
    "gastrointestinal",
    "ophthalmic",
    "renal",
    "haematological",
)
"""The nine BILAG-2004 organ domains."""

BILAG_GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")


def _grades(item: str, grades: Mapping[str, object]) -> dict[str, str]:
    if not isinstance(grades, Mapping):
        raise InstrumentInputError(
            f"sri4: {item}: got {grades!r}; allowed: an object of domain grades"
        )
    for domain in grades:
        if domain not in BILAG_DOMAINS:
            raise InstrumentInputError(
                f"sri4: {item}.{domain}: unknown BILAG-2004 domain; allowed: {join_allowed(BILAG_DOMAINS)}"
            )
    checked: dict[str, str] = {}
    for domain in BILAG_DOMAINS:
        if domain not in grades:
            raise InstrumentInputError(
                f"sri4: {item}.{domain}: missing; every BILAG-2004 domain needs a grade A-E"
            )
        checked[domain] = check_choice("sri4", f"{item}.{domain}", grades[domain], BILAG_GRADES)
    return checked


def sri_response(
    sledai_baseline: int,
    sledai_followup: int,
    bilag_baseline: Mapping[str, object],
    bilag_followup: Mapping[str, object],
    pga_baseline: float,
    pga_followup: float,
    *,
    treatment_failure: bool = False,
    sledai_reduction: int = 4,
) -> CriteriaResult:
    """SLE Responder Index: responder when every criterion is met.

    1. ``sledai_reduction``: SLEDAI-2K reduced by >= 4 points from baseline (SRI-5 to SRI-8 use
       5 to 8);
    2. ``no_new_bilag_a_or_2_b``: no new BILAG A domain (A at follow-up, not A at baseline) and at
       most one new BILAG B domain (B at follow-up, C/D/E at baseline);
    3. ``no_pga_worsening``: PGA (0-3) not worse than baseline by >= 0.3;
    4. ``no_treatment_failure``: no protocol-defined treatment failure (restricted medication
       beyond protocol thresholds, discontinuation).

    Parameters
    ----------
    sledai_baseline, sledai_followup : int
        SLEDAI-2K totals (trials since TULIP; the original used SELENA-SLEDAI), 0-105.
    bilag_baseline, bilag_followup : mapping
        Domain (all nine of :data:`BILAG_DOMAINS`) -> grade ``"A"``-``"E"``, as entered.
    pga_baseline, pga_followup : float
        Physician global assessment, 0-3.
    treatment_failure : bool
    sledai_reduction : {4, 5, 6, 7, 8}

    Notes
    -----
    Source: Furie RA, Petri MA, Wallace DJ, et al. Novel evidence-based systemic lupus
    erythematosus responder index. Arthritis Rheum 2009;61(9):1143-1151. doi:10.1002/art.24698.
    New A/B definitions and treatment failure as in reference/instruments.md 2.4.
    Validated against: boundary cases (4-point reduction, one vs two new B, PGA +0.3) in
    tests/instruments/test_response_indices.py.

    Examples
    --------
    >>> base = dict.fromkeys(BILAG_DOMAINS, "D") | {"mucocutaneous": "B"}
    >>> follow = dict.fromkeys(BILAG_DOMAINS, "D") | {"mucocutaneous": "C"}
    >>> r = sri_response(10, 6, base, follow, 1.5, 1.2)
    >>> r.met, r.criteria["sledai_reduction"]
    (True, True)
    """
    reduction = check_int("sri4", "sledai_reduction", sledai_reduction, (4, 5, 6, 7, 8))
    s0 = check_sledai_total("sri4", "sledai_baseline", sledai_baseline)
    s1 = check_sledai_total("sri4", "sledai_followup", sledai_followup)
    before = _grades("bilag_baseline", bilag_baseline)
    after = _grades("bilag_followup", bilag_followup)
    pga0 = check_pga("sri4", "pga_baseline", pga_baseline)
    pga1 = check_pga("sri4", "pga_followup", pga_followup)
    failure = check_bool("sri4", "treatment_failure", treatment_failure)

    new_a = [d for d in BILAG_DOMAINS if after[d] == "A" and before[d] != "A"]
    new_b = [d for d in BILAG_DOMAINS if after[d] == "B" and before[d] in ("C", "D", "E")]
    criteria = {
        "sledai_reduction": s0 - s1 >= reduction,
        "no_new_bilag_a_or_2_b": not new_a and len(new_b) <= 1,
        "no_pga_worsening": pga1 - pga0 < Fraction(3, 10),
        "no_treatment_failure": not failure,
    }
    notes = (
        f"SLEDAI-2K change {s1 - s0} (needs <= -{reduction})",
        f"new BILAG A: {', '.join(new_a) or 'none'}",
        f"new BILAG B: {', '.join(new_b) or 'none'}",
        f"PGA change {float(pga1 - pga0):g} (needs < 0.3)",
    )
    return CriteriaResult(f"sri{reduction}", all(criteria.values()), criteria, notes)
