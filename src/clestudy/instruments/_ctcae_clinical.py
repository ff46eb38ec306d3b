"""CTCAE v5.0 grades of clinical adverse-event terms from the anchors a form records.

Clinical terms cannot be computed from labs: the form captures the anchors (symptom severity, ADL
limitation, anti-infective route, urgency, BSA %), and each anchor maps to the grade whose printed
criterion it matches. Criteria separated by ";" in CTCAE are alternatives, so the grade is the
highest grade any recorded anchor reaches. An anchor the term does not use is an error; when no
anchor reaches a grade the term defines (e.g. an untreated urinary tract infection: CTCAE has no
grade 1), the result is *not gradable*, never a guessed grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_choice,
    check_number,
    exact,
    join_allowed,
)
from clestudy.instruments._ctcae_measured import MEASURED_TERMS, measured_grade

__all__ = ["CTCAE_CLINICAL_TERMS", "ClinicalGrade", "ctcae_clinical_grade"]

# Anchor values are strings (choices) or bools (flags): keys are typed Any for that reason.
_Anchors = Mapping[str, Mapping[Any, int | None]]
_ADL: dict[Any, int | None] = {"none": None, "instrumental": 2, "self-care": 3}
_FLAG4: dict[Any, int | None] = {False: None, True: 4}
_FLAG5: dict[Any, int | None] = {False: None, True: 5}
_INFECTION_ROUTE: dict[Any, int | None] = {
    "none": None,
    "local": None,
    "oral": 2,
    "iv": 3,
    "invasive": 3,
}

# Term -> anchor -> recorded value -> grade (None: the value reaches no grade of this term).
# Transcribed from reference/ctcae_v5_selected_terms.json (CTCAE v5.0).
_TERMS: dict[str, _Anchors] = {
    "Peripheral sensory neuropathy": {
        # 1 asymptomatic; 2 moderate symptoms, instrumental ADL; 3 severe, self-care ADL;
        # 4 life-threatening, urgent intervention; no grade 5.
        "symptoms": {"asymptomatic": 1, "moderate": 2, "severe": 3},
        "adl_limitation": _ADL,
        "life_threatening": _FLAG4,
    },
    "Peripheral motor neuropathy": {
        "symptoms": {"asymptomatic": 1, "moderate": 2, "severe": 3},
        "adl_limitation": _ADL,
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Thromboembolic event": {
        # 1 intervention not indicated; 2 medical intervention; 3 urgent medical intervention;
        # 4 life-threatening with haemodynamic or neurologic instability; 5 death.
        "intervention": {"not indicated": 1, "medical": 2, "urgent": 3},
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Rash maculo-papular": {},  # BSA-based, handled in _rash_grade
    "Urinary tract infection": {
        # no grade 1; 2 oral intervention; 3 IV or invasive intervention; 4; 5.
        "treatment": _INFECTION_ROUTE,
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Kidney infection": {
        "treatment": _INFECTION_ROUTE,
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Lung infection": {
        # no grade 1; 2 moderate symptoms, oral intervention; 3 IV or invasive; 4; 5.
        "treatment": _INFECTION_ROUTE,
        "symptoms": {"mild": None, "moderate": 2},
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Upper respiratory infection": {
        # as lung infection: no grade 1; 2 moderate symptoms, oral intervention; 3 IV or
        # invasive; 4 life-threatening; 5 death.
        "treatment": _INFECTION_ROUTE,
        "symptoms": {"mild": None, "moderate": 2},
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Sepsis": {
        # no grades 1-2; 3 blood culture positive with signs or symptoms, treatment indicated;
        # 4 life-threatening; 5 death.
        "blood_culture_positive_with_symptoms": {False: None, True: 3},
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Acute kidney injury": {
        # no grades 1-2; 3 hospitalisation indicated; 4 life-threatening, dialysis indicated;
        # 5 death.
        "hospitalization_indicated": {False: None, True: 3},
        "dialysis_indicated": _FLAG4,
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Skin infection": {
        # 1 localised, local intervention; 2 oral; 3 IV or invasive; 4; 5.
        "treatment": {**_INFECTION_ROUTE, "local": 1},
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
    "Shingles": {
        # 1 localised, local intervention; 2 moderate symptoms, oral intervention, instrumental
        # ADL; 3 severe, hospitalisation, IV intervention, self-care ADL; 4; 5. No "invasive".
        "treatment": {"none": None, "local": 1, "oral": 2, "iv": 3},
        "symptoms": {"mild": None, "moderate": 2, "severe": 3},
        "adl_limitation": _ADL,
        "hospitalized": {False: None, True: 3},
        "life_threatening": _FLAG4,
        "death": _FLAG5,
    },
}
_RASH_ANCHORS = ("bsa_percent", "symptoms", "adl_limitation")
_RASH_SYMPTOMS = ("none", "mild", "moderate", "severe")

CTCAE_CLINICAL_TERMS: tuple[str, ...] = (*_TERMS, *MEASURED_TERMS)
"""Clinical terms graded from anchors ("Shingles" is CTCAE's term for herpes zoster)."""


@dataclass(frozen=True)
class ClinicalGrade:
    """A CTCAE v5.0 grade of a clinical term.

    Attributes
    ----------
    term : str
    grade : int or None
        1-5, or ``None`` when no recorded anchor reaches a grade of this term.
    gradable : bool
    anchors : tuple of str
        The anchors that set the grade, e.g. ``("treatment=iv",)``.
    """

    term: str
    grade: int | None
    gradable: bool
    anchors: tuple[str, ...]


def _rash_grade(anchors: Mapping[str, object]) -> tuple[int, list[str]]:
    if "bsa_percent" not in anchors:
        raise InstrumentInputError(
            "ctcae: Rash maculo-papular.bsa_percent: missing; it is required"
        )
    bsa = exact(
        check_number(
            "ctcae",
            "Rash maculo-papular.bsa_percent",
            anchors["bsa_percent"],
            minimum=0,
            maximum=100,
            strict_minimum=True,
            unit="%",
        )
    )
    symptoms = check_choice(
        "ctcae", "Rash maculo-papular.symptoms", anchors.get("symptoms", "none"), _RASH_SYMPTOMS
    )
    adl = check_choice(
        "ctcae",
        "Rash maculo-papular.adl_limitation",
        anchors.get("adl_limitation", "none"),
        tuple(_ADL),
    )
    # <10 % BSA: 1. 10-30 %: 2. >30 % with no or mild symptoms: 2; with moderate/severe: 3.
    if bsa < 10:
        grade, why = 1, f"bsa_percent={float(bsa):g} (<10)"
    elif bsa <= 30:
        grade, why = 2, f"bsa_percent={float(bsa):g} (10-30)"
    elif symptoms in ("none", "mild"):
        grade, why = 2, f"bsa_percent={float(bsa):g} (>30) with symptoms={symptoms}"
    else:
        grade, why = 3, f"bsa_percent={float(bsa):g} (>30) with symptoms={symptoms}"
    reasons = [why]
    adl_grade = _ADL[adl]
    if adl_grade is not None and adl_grade > grade:
        grade, reasons = adl_grade, [f"adl_limitation={adl}"]
    elif adl_grade == grade:
        reasons.append(f"adl_limitation={adl}")
    return grade, reasons


def ctcae_clinical_grade(term: str, **anchors: object) -> ClinicalGrade:
    """Grade a clinical CTCAE v5.0 term from the anchors recorded on the form.

    Anchors (only those the term uses are accepted):

    * ``symptoms``: neuropathy ``asymptomatic``/``moderate``/``severe``; lung infection
      ``mild``/``moderate``; shingles ``mild``/``moderate``/``severe``; rash
      ``none``/``mild``/``moderate``/``severe``;
    * ``adl_limitation``: ``none``, ``instrumental`` (grade 2), ``self-care`` (grade 3);
    * ``treatment`` (infections): ``none``, ``local``, ``oral`` (2), ``iv`` (3), ``invasive`` (3);
      ``local`` is grade 1 for skin infection and shingles only;
    * ``intervention`` (thromboembolic event): ``not indicated`` (1), ``medical`` (2), ``urgent`` (3);
    * ``bsa_percent`` (rash, required): body surface area, > 0 to 100;
    * ``hospitalized`` (shingles, grade 3), ``life_threatening`` (4), ``death`` (5) where defined;
    * sepsis: ``blood_culture_positive_with_symptoms`` (3); acute kidney injury:
      ``hospitalization_indicated`` (3), ``dialysis_indicated`` (4);
    * febrile neutropenia: ``anc`` with ``anc_unit`` (default ``10^9/L``), ``max_temperature_c``,
      ``sustained_fever_1h``; chronic kidney disease: ``egfr`` (mL/min/1.73 m2), ``egfr_lln``,
      ``proteinuria_dipstick`` (``negative`` to ``4+``), ``upcr`` (mg/mg),
      ``dialysis_or_transplant_indicated`` (see :mod:`clestudy.instruments._ctcae_measured`).

    Parameters
    ----------
    term : str
        One of :data:`CTCAE_CLINICAL_TERMS`.
    **anchors
        The recorded anchors.

    Returns
    -------
    ClinicalGrade
        The highest grade any anchor reaches, with the anchors that set it.

    Notes
    -----
    Source: NCI CTCAE v5.0 (27 Nov 2017), criteria as transcribed in
    reference/ctcae_v5_selected_terms.json (oncohub/CTCAE5 @ d46f46c).
    Validated against: the criterion text quoted next to each case in
    tests/instruments/test_ctcae_clinical.py.

    Examples
    --------
    >>> ctcae_clinical_grade("Urinary tract infection", treatment="iv").grade
    3
    >>> ctcae_clinical_grade("Rash maculo-papular", bsa_percent=35, symptoms="mild").grade
    2
    >>> ctcae_clinical_grade("Urinary tract infection", treatment="none").gradable
    False
    """
    if term not in CTCAE_CLINICAL_TERMS:
        raise InstrumentInputError(
            f"ctcae: term: got {term!r}; allowed: {join_allowed(CTCAE_CLINICAL_TERMS)}"
        )
    if term in MEASURED_TERMS:
        measured, why = measured_grade(term, anchors)
        return ClinicalGrade(term, measured, measured is not None, why)
    if term == "Rash maculo-papular":
        for name in anchors:
            if name not in _RASH_ANCHORS:
                raise InstrumentInputError(
                    f"ctcae: {term}.{name}: not an anchor of this term; allowed: {join_allowed(_RASH_ANCHORS)}"
                )
        rash_grade, rash_reasons = _rash_grade(anchors)
        return ClinicalGrade(term, rash_grade, True, tuple(rash_reasons))
    table = _TERMS[term]
    best: int | None = None
    reasons: list[str] = []
    for name, value in anchors.items():
        if name not in table:
            raise InstrumentInputError(
                f"ctcae: {term}.{name}: not an anchor of this term; allowed: {join_allowed(table)}"
            )
        mapping = table[name]
        if isinstance(next(iter(mapping)), bool):
            key: object = check_bool("ctcae", f"{term}.{name}", value)
        else:
            key = check_choice("ctcae", f"{term}.{name}", value, tuple(str(k) for k in mapping))
        grade = mapping[key]
        if grade is None:
            continue
        if best is None or grade > best:
            best, reasons = grade, [f"{name}={value}"]
        elif grade == best:
            reasons.append(f"{name}={value}")
    return ClinicalGrade(term, best, best is not None, tuple(reasons))
