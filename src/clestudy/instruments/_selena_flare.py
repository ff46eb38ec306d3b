"""SELENA-SLEDAI Flare Index (SFI; Petri 2005, Buyon 2005) between two consecutive assessments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_number,
    exact,
    join_allowed,
)
from clestudy.instruments._criteria import check_pga, check_sledai_total

__all__ = [
    "SFI_MILD_MANIFESTATIONS",
    "SFI_MILD_MEDICATIONS",
    "SFI_SEVERE_MANIFESTATIONS",
    "SFI_SEVERE_MEDICATIONS",
    "NewMedication",
    "SelenaFlare",
    "SelenaVisit",
    "selena_flare",
]

SFI_MILD_MANIFESTATIONS: tuple[str, ...] = (
    "discoid",
    "photosensitive",
    "profundus",
    "cutaneous_vasculitis",
    "bullous_lupus",
    "nasopharyngeal_ulcers",
    "pleuritis",
    "pericarditis",
    "arthritis",
    "fever",
)
"""New or worse manifestations that make a mild/moderate flare."""

SFI_SEVERE_MANIFESTATIONS: tuple[str, ...] = (
    "cns_sle",
    "vasculitis",
    "nephritis",
    "myositis",
    "platelets_below_60000",
    "hemolytic_anemia",
)
"""New or worse organ involvement that makes a severe flare when it requires a doubling of
prednisone, prednisone > 0.5 mg/kg/day or hospitalisation. ``hemolytic_anemia`` is Hb < 7 g/dL
or a decrease in Hb of more than 3 g/dL."""

SFI_MILD_MEDICATIONS: tuple[str, ...] = ("nsaid", "hydroxychloroquine")
SFI_SEVERE_MEDICATIONS: tuple[str, ...] = (
    "cyclophosphamide",
    "azathioprine",
    "methotrexate",
    "mycophenolate",
)
"""New drugs that make a severe flare when started for SLE activity (mycophenolate was added in
later versions of the index; ``include_mycophenolate`` turns it off)."""


@dataclass(frozen=True)
class SelenaVisit:
    """One SFI assessment.

    Attributes
    ----------
    selena_sledai : int
        SELENA-SLEDAI total, 0-105.
    pga : float
        Physician global assessment, 0-3.
    prednisone_mg_day : float
        Daily prednisone-equivalent dose (see :func:`clestudy.instruments.steroid_exposure`).
    """

    selena_sledai: int
    pga: float
    prednisone_mg_day: float


@dataclass(frozen=True)
class NewMedication:
    """A drug started since the previous assessment, and whether it was for SLE activity."""

    drug: str
    for_sle_activity: bool


@dataclass(frozen=True)
class SelenaFlare:
    """The SFI classification and the criteria that fired.

    Attributes
    ----------
    category : str
        ``"none"``, ``"mild/moderate"`` or ``"severe"``.
    criteria : tuple of str
        Every criterion that fired, mild/moderate ones prefixed ``mild:``, severe ones ``severe:``.
    """

    category: str
    criteria: tuple[str, ...]


def _names(item: str, values: Iterable[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(values)
    for name in names:
        if name not in allowed:
            raise InstrumentInputError(
                f"selena_flare: {item}: got {name!r}; allowed: {join_allowed(allowed)}"
            )
    return names


def selena_flare(
    previous: SelenaVisit,
    current: SelenaVisit,
    *,
    weight_kg: float,
    new_or_worse: Iterable[str] = (),
    new_medications: Iterable[NewMedication] = (),
    hospitalized_for_sle: bool = False,
    include_mycophenolate: bool = True,
) -> SelenaFlare:
    """Classify a flare by the SELENA-SLEDAI Flare Index.

    Mild/moderate (any): SELENA-SLEDAI increase >= 3 but not to > 12; a new/worse manifestation
    of :data:`SFI_MILD_MANIFESTATIONS`; prednisone increased but not to > 0.5 mg/kg/day; NSAID or
    hydroxychloroquine added for SLE activity; PGA increase >= 1.0 but not to > 2.5.

    Severe (any): SELENA-SLEDAI increased to > 12; a new/worse manifestation of
    :data:`SFI_SEVERE_MANIFESTATIONS` requiring a doubling of prednisone (current >= 2 x previous,
    and higher; starting from 0 counts), prednisone > 0.5 mg/kg/day or hospitalisation;
    prednisone increased to > 0.5 mg/kg/day; a new cyclophosphamide, azathioprine, methotrexate
    or mycophenolate for SLE activity; hospitalisation for SLE; PGA increased to > 2.5.

    Parameters
    ----------
    previous, current : SelenaVisit
        Two consecutive assessments.
    weight_kg : float
        Body weight for the mg/kg/day thresholds, > 0.
    new_or_worse : iterable of str
        Manifestations new or worse since ``previous`` (names from the two lists above).
    new_medications : iterable of NewMedication
        Drugs started since ``previous`` with their reason. Names are compared case-insensitively
        with :data:`SFI_MILD_MEDICATIONS` (``"nsaid"`` stands for any NSAID) and
        :data:`SFI_SEVERE_MEDICATIONS`; other drugs do not enter the index.
    hospitalized_for_sle : bool
    include_mycophenolate : bool
        Count a new mycophenolate as a severe-flare drug (later versions of the index).

    Returns
    -------
    SelenaFlare
        ``severe`` when any severe criterion fired, else ``mild/moderate`` when any mild one did.

    Notes
    -----
    Sources: Petri M, Kim MY, Kalunian KC, et al. Combined oral contraceptives in women with
    systemic lupus erythematosus. N Engl J Med 2005;353:2550-2558. doi:10.1056/NEJMoa051135;
    Buyon JP, Petri MA, Kim MY, et al. Ann Intern Med 2005;142:953-962. The haemolytic-anaemia
    criterion is a *decrease of more than 3 g/dL* (medicalalgorithms.com's "<= 3 g/dL" is a
    transcription error). reference/instruments.md 2.3.
    Validated against: each criterion at its boundary (60 kg: 0.5 mg/kg/day = 30 mg) in
    tests/instruments/test_selena_flare.py.

    Examples
    --------
    >>> flare = selena_flare(SelenaVisit(4, 1.0, 5), SelenaVisit(8, 1.5, 10), weight_kg=60)
    >>> flare.category, flare.criteria
    ('mild/moderate', ('mild: SELENA-SLEDAI increase >= 3, not to > 12', 'mild: prednisone increased, not to > 0.5 mg/kg/day'))
    """
    weight = exact(
        check_number(
            "selena_flare", "weight_kg", weight_kg, minimum=0, strict_minimum=True, unit="kg"
        )
    )
    (s0, pga0, pred0), (s1, pga1, pred1) = (
        _checked_visit("previous", previous),
        _checked_visit("current", current),
    )
    worse = _names(
        "new_or_worse", new_or_worse, SFI_MILD_MANIFESTATIONS + SFI_SEVERE_MANIFESTATIONS
    )
    hospital = check_bool("selena_flare", "hospitalized_for_sle", hospitalized_for_sle)
    severe_drugs = tuple(
        d for d in SFI_SEVERE_MEDICATIONS if include_mycophenolate or d != "mycophenolate"
    )
    started = _started_for_sle(new_medications)
    high_dose = pred1 > Fraction(1, 2) * weight  # > 0.5 mg/kg/day
    increased = pred1 > pred0
    fired: list[str] = []
    if s1 - s0 >= 3 and s1 <= 12:
        fired.append("mild: SELENA-SLEDAI increase >= 3, not to > 12")
    fired += [f"mild: new or worse {name}" for name in worse if name in SFI_MILD_MANIFESTATIONS]
    if increased and not high_dose:
        fired.append("mild: prednisone increased, not to > 0.5 mg/kg/day")
    fired += [
        f"mild: {drug} added for SLE activity" for drug in started if drug in SFI_MILD_MEDICATIONS
    ]
    if pga1 - pga0 >= 1 and pga1 <= Fraction(5, 2):
        fired.append("mild: PGA increase >= 1.0, not to > 2.5")

    if s1 > 12 and s1 > s0:
        fired.append("severe: SELENA-SLEDAI increased to > 12")
    requiring = (increased and pred1 >= 2 * pred0) or high_dose or hospital
    if requiring:
        fired += [
            f"severe: new or worse {name}" for name in worse if name in SFI_SEVERE_MANIFESTATIONS
        ]
    if increased and high_dose:
        fired.append("severe: prednisone increased to > 0.5 mg/kg/day")
    fired += [f"severe: new {drug} for SLE activity" for drug in started if drug in severe_drugs]
    if hospital:
        fired.append("severe: hospitalisation for SLE")
    if pga1 > Fraction(5, 2) and pga1 > pga0:
        fired.append("severe: PGA increased to > 2.5")
    return SelenaFlare(_category(fired), tuple(fired))


def _checked_visit(label: str, visit: SelenaVisit) -> tuple[int, Fraction, Fraction]:
    """A visit's SELENA-SLEDAI, PGA and prednisone dose, checked in that order, named by visit."""
    sledai = check_sledai_total("selena_flare", f"{label}.selena_sledai", visit.selena_sledai)
    pga = check_pga("selena_flare", f"{label}.pga", visit.pga)
    prednisone = check_number(
        "selena_flare", f"{label}.prednisone_mg_day", visit.prednisone_mg_day, minimum=0, unit="mg"
    )
    return sledai, pga, exact(prednisone)


def _started_for_sle(new_medications: Iterable[NewMedication]) -> list[str]:
    """The drugs started for SLE activity (lower case); others do not count."""
    started: list[str] = []
    for index, med in enumerate(new_medications):
        if not isinstance(med.drug, str):
            raise InstrumentInputError(
                f"selena_flare: new_medications[{index}].drug: got {med.drug!r}; allowed: a drug name"
            )
        if check_bool(
            "selena_flare", f"new_medications[{index}].for_sle_activity", med.for_sle_activity
        ):
            started.append(med.drug.strip().lower())
    return started


def _category(fired: list[str]) -> str:
    if any(c.startswith("severe:") for c in fired):
        return "severe"
    return "mild/moderate" if fired else "none"
