"""Treat-to-target states: LLDAS (Franklyn 2016) and DORIS 2021 remission."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from types import MappingProxyType

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_choice,
    check_int,
    check_number,
    exact,
    join_allowed,
)
from clestudy.instruments._criteria import CriteriaResult, check_pga
from clestudy.instruments._sledai import SLEDAI2K_DESCRIPTORS

__all__ = [
    "DEFAULT_DORIS_PREDNISOLONE_RULE",
    "DORIS_PREDNISOLONE_RULES",
    "LLDAS_MAINTENANCE_CEILINGS_MG",
    "LLDAS_MAJOR_ORGAN_DESCRIPTORS",
    "doris_remission",
    "lldas",
]

LLDAS_MAJOR_ORGAN_DESCRIPTORS: tuple[str, ...] = (
    # CNS
    "seizure",
    "psychosis",
    "organic_brain_syndrome",
    "visual_disturbance",
    "cranial_nerve_disorder",
    "lupus_headache",
    "cva",
    # vasculitis
    "vasculitis",
    # renal
    "urinary_casts",
    "hematuria",
    "proteinuria",
    "pyuria",
    # cardiopulmonary
    "pleurisy",
    "pericarditis",
    # fever
    "fever",
)
"""SLEDAI-2K descriptors of the major organ systems LLDAS excludes (renal, CNS, cardiopulmonary,
vasculitis, fever)."""

LLDAS_MAINTENANCE_CEILINGS_MG: Mapping[str, float] = MappingProxyType(
    {
        "hydroxychloroquine": 400.0,  # mg/day
        "methotrexate": 30.0,  # mg/week
        "azathioprine": 200.0,  # mg/day
        "mycophenolate_mofetil": 3000.0,  # mg/day
        "mycophenolic_acid": 2160.0,  # mg/day
        "leflunomide": 20.0,  # mg/day
    }
)
"""Standard maintenance dose ceilings used by Golder 2016 (Arthritis Res Ther) to operationalise
LLDAS criterion 5 (methotrexate per week, the others per day)."""

DORIS_PREDNISOLONE_RULES: tuple[str, ...] = ("<=5", "<5")
DEFAULT_DORIS_PREDNISOLONE_RULE = "<=5"
"""DORIS 2021 glucocorticoid limit: "5 mg/day or less" (the paper's abstract); its final table
says "< 5 mg/day". Setting ``doris_prednisolone_rule``."""


def _descriptors(instrument: str, present: Iterable[str]) -> tuple[str, ...]:
    names = tuple(present)
    for name in names:
        if name not in SLEDAI2K_DESCRIPTORS:
            raise InstrumentInputError(
                f"{instrument}: sledai2k_present: got {name!r}; allowed: "
                f"{join_allowed(SLEDAI2K_DESCRIPTORS)}"
            )
    return names


def lldas(
    sledai2k_present: Iterable[str],
    *,
    hemolytic_anemia: bool,
    gastrointestinal_activity: bool,
    new_activity_since_previous: bool,
    pga: float,
    prednisolone_mg_day: float,
    maintenance_well_tolerated: bool,
    investigational_drug: bool,
    maintenance_doses_mg: Mapping[str, float] | None = None,
    previous_sledai2k_present: Iterable[str] | None = None,
) -> CriteriaResult:
    """Lupus Low Disease Activity State: met when all five criteria are met.

    1. ``sledai_le_4_no_major_organ``: SLEDAI-2K <= 4 with no descriptor of
       :data:`LLDAS_MAJOR_ORGAN_DESCRIPTORS`, no haemolytic anaemia and no gastrointestinal
       activity (the last two are not SLEDAI items: separate CRF fields);
    2. ``no_new_activity``: no new feature of lupus activity since the previous assessment, as
       entered by the assessor; when ``previous_sledai2k_present`` is given, a SLEDAI-2K descriptor
       present now and absent then also counts as new;
    3. ``pga_le_1``: SELENA-SLEDAI PGA (0-3) <= 1;
    4. ``prednisolone_le_7_5``: prednisolone (or equivalent) <= 7.5 mg/day;
    5. ``standard_maintenance``: well-tolerated standard maintenance immunosuppressants/approved
       biologics, no investigational drug, and every dose in ``maintenance_doses_mg`` within
       :data:`LLDAS_MAINTENANCE_CEILINGS_MG`.

    Serology (low complement, anti-DNA) counts towards the SLEDAI-2K <= 4.

    Notes
    -----
    Source: Franklyn K, Lau CS, Navarra SV, et al. Definition and initial validation of a Lupus
    Low Disease Activity State (LLDAS). Ann Rheum Dis 2016;75(9):1615-1621.
    doi:10.1136/annrheumdis-2015-207726 (Table 1). Dose ceilings: Golder V, et al. Arthritis Res
    Ther 2016 (reference/instruments.md 2.5).
    Validated against: each criterion failing alone at its boundary in
    tests/instruments/test_response_indices.py.

    Examples
    --------
    >>> r = lldas(["rash", "low_complement"], hemolytic_anemia=False,
    ...           gastrointestinal_activity=False, new_activity_since_previous=False, pga=1.0,
    ...           prednisolone_mg_day=7.5, maintenance_well_tolerated=True,
    ...           investigational_drug=False, maintenance_doses_mg={"hydroxychloroquine": 400})
    >>> r.met
    True
    """
    present = _descriptors("lldas", sledai2k_present)
    score = sum(SLEDAI2K_DESCRIPTORS[name] for name in set(present))
    major = [name for name in present if name in LLDAS_MAJOR_ORGAN_DESCRIPTORS]
    hemolysis = check_bool("lldas", "hemolytic_anemia", hemolytic_anemia)
    gi = check_bool("lldas", "gastrointestinal_activity", gastrointestinal_activity)
    new_activity = check_bool("lldas", "new_activity_since_previous", new_activity_since_previous)
    new_items: list[str] = []
    if previous_sledai2k_present is not None:
        before = set(_descriptors("lldas", previous_sledai2k_present))
        new_items = [name for name in present if name not in before]
    pga_value = check_pga("lldas", "pga", pga)
    steroid = exact(
        check_number("lldas", "prednisolone_mg_day", prednisolone_mg_day, minimum=0, unit="mg")
    )
    tolerated = check_bool("lldas", "maintenance_well_tolerated", maintenance_well_tolerated)
    investigational = check_bool("lldas", "investigational_drug", investigational_drug)
    above: list[str] = []
    for drug, dose in (maintenance_doses_mg or {}).items():
        if drug not in LLDAS_MAINTENANCE_CEILINGS_MG:
            raise InstrumentInputError(
                f"lldas: maintenance_doses_mg.{drug}: unknown drug; allowed: "
                f"{join_allowed(LLDAS_MAINTENANCE_CEILINGS_MG)} (approved biologics need no dose)"
            )
        mg = check_number("lldas", f"maintenance_doses_mg.{drug}", dose, minimum=0, unit="mg")
        if exact(mg) > exact(LLDAS_MAINTENANCE_CEILINGS_MG[drug]):
            above.append(drug)
    criteria = {
        "sledai_le_4_no_major_organ": score <= 4 and not major and not hemolysis and not gi,
        "no_new_activity": not new_activity and not new_items,
        "pga_le_1": pga_value <= 1,
        "prednisolone_le_7_5": steroid <= Fraction(15, 2),
        "standard_maintenance": tolerated and not investigational and not above,
    }
    notes = (
        f"SLEDAI-2K {score}; major organ descriptors: {', '.join(major) or 'none'}",
        f"new SLEDAI-2K descriptors: {', '.join(new_items) or 'none'}",
        f"doses above standard maintenance: {', '.join(above) or 'none'}",
    )
    return CriteriaResult("lldas", all(criteria.values()), criteria, notes)


def doris_remission(
    clinical_sledai: int,
    pga: float,
    prednisolone_mg_day: float,
    *,
    immunosuppressives_stable: bool,
    prednisolone_rule: str = DEFAULT_DORIS_PREDNISOLONE_RULE,
) -> CriteriaResult:
    """DORIS 2021 remission in SLE: met when all four criteria are met.

    1. ``clinical_sledai_0``: clinical SLEDAI-2K (serology ignored) = 0;
    2. ``pga_lt_0_5``: physician global assessment (0-3) < 0.5;
    3. ``prednisolone``: prednisolone <= 5 mg/day (``"<=5"``, default) or < 5 (``"<5"``);
    4. ``immunosuppressives_stable``: antimalarials, immunosuppressives and biologics are allowed
       if stable (as entered).

    Notes
    -----
    Source: van Vollenhoven RF, Bertsias G, Doria A, et al. 2021 DORIS definition of remission in
    SLE: final recommendations from an international task force. Lupus Sci Med
    2021;8:e000538. doi:10.1136/lupus-2021-000538. The abstract says "5 mg/day or less"; the
    recommendation table says "< 5 mg/day" (reference/instruments.md 2.6).
    Validated against: the boundary cases (5 vs < 5 mg, PGA 0.5) in
    tests/instruments/test_response_indices.py.

    Examples
    --------
    >>> doris_remission(0, 0.4, 5, immunosuppressives_stable=True).met
    True
    >>> doris_remission(0, 0.4, 5, immunosuppressives_stable=True, prednisolone_rule="<5").met
    False
    """
    clinical = check_int("doris", "clinical_sledai", clinical_sledai, range(0, 102))
    pga_value = check_pga("doris", "pga", pga)
    steroid = exact(
        check_number("doris", "prednisolone_mg_day", prednisolone_mg_day, minimum=0, unit="mg")
    )
    rule = check_choice("doris", "prednisolone_rule", prednisolone_rule, DORIS_PREDNISOLONE_RULES)
    stable = check_bool("doris", "immunosuppressives_stable", immunosuppressives_stable)
    criteria = {
        "clinical_sledai_0": clinical == 0,
        "pga_lt_0_5": pga_value < Fraction(1, 2),
        "prednisolone": steroid <= 5 if rule == "<=5" else steroid < 5,
        "immunosuppressives_stable": stable,
    }
    return CriteriaResult(
        "doris", all(criteria.values()), criteria, (f"prednisolone rule {rule} mg/day",)
    )
