"""CTCAE lab grading: v5.0 (default) for eleven terms, v6.0 where clestudy has the v6.0 criteria.

Intervals are half-open exactly as printed: ``<X - Y`` is ``Y <= value < X``; ``>X - Y x ULN`` is
``X*ULN < value <= Y*ULN``; ``1.5 - 3.0 x baseline`` includes 1.5. Comparisons use the exact
decimals the numbers were written as (no float error at a boundary, no integer gaps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_choice,
    check_number,
    exact,
    join_allowed,
)
from clestudy.instruments._ctcae_units import CELL_UNITS, to_family_unit

__all__ = [
    "ABNORMAL_BASELINE_ARMS",
    "CTCAE_LAB_TERMS",
    "CTCAE_VERSIONS",
    "DEFAULT_ABNORMAL_BASELINE_ARM",
    "DEFAULT_CTCAE_VERSION",
    "LabGrade",
    "ctcae_lab_grade",
    "ctcae_settings",
]

CTCAE_VERSIONS: tuple[str, ...] = ("5.0", "6.0")
DEFAULT_CTCAE_VERSION = "5.0"
"""CTCAE v5.0 (NCI, 27 Nov 2017) unless the study selects v6.0 (setting ``ctcae_version``)."""

ABNORMAL_BASELINE_ARMS: tuple[str, ...] = ("baseline-only", "worse-of-both")
DEFAULT_ABNORMAL_BASELINE_ARM = "baseline-only"
"""ALT, AST, alkaline phosphatase, GGT and bilirubin with an abnormal baseline (setting
``ctcae_abnormal_baseline_arm``).

The default, ``"baseline-only"``, grades on the baseline multiples alone, as CTCAE v5.0 prints
the criteria of these terms: "... x ULN if baseline was normal; ... x baseline if baseline was
abnormal" (the baseline arm *instead of* the ULN arm), and as pharmaverse admiral implements them
(``derive_var_atoxgr``). ``"worse-of-both"`` takes the worse of the ULN arm and the baseline arm
(a rise that crosses a ULN multiple is never hidden by a high baseline): a documented, more
conservative study-level choice. Creatinine always takes the worse of its two arms, because its
CTCAE v5.0 definition lists both without a baseline condition.

Source: NCI CTCAE v5.0 (27 Nov 2017), Investigations: Alanine aminotransferase increased,
Aspartate aminotransferase increased, Alkaline phosphatase increased, GGT increased, Blood
bilirubin increased; the alkaline phosphatase and GGT criteria as pharmaverse admiral's
``derive_var_atoxgr`` tests transcribe them (grade 1 from 2.0 x baseline, included)."""

# Decreased counts, v5.0: (grade, value below this many 10^9/L); grade 1 is <LLN down to the last.
_CELLS_V5: dict[str, tuple[tuple[int, Fraction], ...]] = {
    "Lymphocyte count decreased": ((4, exact(0.2)), (3, exact(0.5)), (2, exact(0.8))),
    "Neutrophil count decreased": ((4, exact(0.5)), (3, exact(1.0)), (2, exact(1.5))),
    "Platelet count decreased": ((4, exact(25.0)), (3, exact(50.0)), (2, exact(75.0))),
    "White blood cell decreased": ((4, exact(1.0)), (3, exact(2.0)), (2, exact(3.0))),
}
# v6.0 neutrophils (instruments.md 4.3, admiral ncictcaev6.json): no LLN arm, grade 1 <1.5 - 1.0.
_NEUTROPHILS_V6 = ((4, exact(0.1)), (3, exact(0.5)), (2, exact(1.0)), (1, exact(1.5)))
# Anaemia, v5.0, per unit as printed: grade 3 below the first, grade 2 below the second.
_HEMOGLOBIN: dict[str, tuple[tuple[int, Fraction], ...]] = {
    "g/dL": ((3, exact(8.0)), (2, exact(10.0))),
    "g/L": ((3, Fraction(80)), (2, Fraction(100))),
    "mmol/L": ((3, exact(4.9)), (2, exact(6.2))),
}
# Increased terms: a threshold ladder per reference (ULN or baseline), from the highest grade down:
# (grade, multiple of the reference, whether the multiple itself reaches the grade).
_ThresholdLadder = tuple[tuple[int, Fraction, bool], ...]
_ULN_AMINOTRANSFERASE: _ThresholdLadder = (
    (4, exact(20.0), False),
    (3, exact(5.0), False),
    (2, exact(3.0), False),
    (1, Fraction(1), False),
)
_BASE_AMINOTRANSFERASE: _ThresholdLadder = (
    (4, exact(20.0), False),
    (3, exact(5.0), False),
    (2, exact(3.0), False),
    (1, exact(1.5), True),
)
_ULN_BILIRUBIN: _ThresholdLadder = (
    (4, exact(10.0), False),
    (3, exact(3.0), False),
    (2, exact(1.5), False),
    (1, Fraction(1), False),
)
_BASE_BILIRUBIN: _ThresholdLadder = (
    (4, exact(10.0), False),
    (3, exact(3.0), False),
    (2, exact(1.5), False),
    (1, Fraction(1), False),
)
# Alkaline phosphatase and GGT (v5.0): >ULN - 2.5 x ULN if baseline normal, 2.0 - 2.5 x baseline
# if abnormal (2.0 included); >2.5 - 5.0; >5.0 - 20.0; >20.0 (of ULN or baseline alike).
_ULN_ALP_GGT: _ThresholdLadder = (
    (4, exact(20.0), False),
    (3, exact(5.0), False),
    (2, exact(2.5), False),
    (1, Fraction(1), False),
)
_BASE_ALP_GGT: _ThresholdLadder = (
    (4, exact(20.0), False),
    (3, exact(5.0), False),
    (2, exact(2.5), False),
    (1, exact(2.0), True),
)
_ULN_CREATININE: _ThresholdLadder = (
    (4, exact(6.0), False),
    (3, exact(3.0), False),
    (2, exact(1.5), False),
    (1, Fraction(1), False),
)
_BASE_CREATININE: _ThresholdLadder = ((3, exact(3.0), False), (2, exact(1.5), False))

_FAMILY: dict[str, str] = {
    **dict.fromkeys(_CELLS_V5, "cells"),
    "Anemia": "hemoglobin",
    "Alanine aminotransferase increased": "aminotransferase",
    "Aspartate aminotransferase increased": "aminotransferase",
    "Alkaline phosphatase increased": "alkaline_phosphatase",
    "GGT increased": "ggt",
    "Blood bilirubin increased": "bilirubin",
    "Creatinine increased": "creatinine",
}
# Terms graded against the ULN, or against the baseline instead when the baseline is abnormal.
_BASELINE_RELATIVE: dict[str, tuple[_ThresholdLadder, _ThresholdLadder]] = {
    "Alanine aminotransferase increased": (_ULN_AMINOTRANSFERASE, _BASE_AMINOTRANSFERASE),
    "Aspartate aminotransferase increased": (_ULN_AMINOTRANSFERASE, _BASE_AMINOTRANSFERASE),
    "Alkaline phosphatase increased": (_ULN_ALP_GGT, _BASE_ALP_GGT),
    "GGT increased": (_ULN_ALP_GGT, _BASE_ALP_GGT),
    "Blood bilirubin increased": (_ULN_BILIRUBIN, _BASE_BILIRUBIN),
}
CTCAE_LAB_TERMS: tuple[str, ...] = tuple(_FAMILY)
"""The lab terms clestudy grades, spelled as in CTCAE v5.0."""

_V6_UNAVAILABLE: dict[str, str] = {
    "Lymphocyte count decreased": "was removed in CTCAE v6.0",
    "Platelet count decreased": (
        "is 'Thrombocytopenia' in CTCAE v6.0 and clestudy's reference gives only its grade 3-4 "
        "criteria"
    ),
}


@dataclass(frozen=True)
class LabGrade:
    """A CTCAE grade of one lab value.

    Attributes
    ----------
    term, version : str
    grade : int or None
        0-4, or ``None`` when the value cannot be graded (``gradable`` is then ``False``).
    gradable : bool
    reason : str
        How the grade was reached or why it could not be (e.g. ``"LLN missing"``).
    """

    term: str
    version: str
    grade: int | None
    gradable: bool
    reason: str


def _ladder_grade(value: Fraction, reference: Fraction, ladder: _ThresholdLadder) -> int:
    for grade, multiple, inclusive in ladder:
        limit = multiple * reference
        if value > limit or (inclusive and value == limit):
            return grade
    return 0


def _optional(name: str, value: object, unit: str) -> Fraction | None:
    if value is None:
        return None
    return exact(check_number("ctcae", name, value, minimum=0, strict_minimum=True, unit=unit))


def _grade_decreased(
    term: str,
    version: str,
    value: Fraction,
    lln: Fraction | None,
    cuts: tuple[tuple[int, Fraction], ...],
    needs_lln: bool,
) -> LabGrade:
    for grade, below in cuts:
        if value < below:
            return LabGrade(term, version, grade, True, f"value < {float(below):g}")
    if not needs_lln:
        return LabGrade(term, version, 0, True, "above every grade threshold")
    if lln is None:
        return LabGrade(term, version, None, False, "LLN missing: grade 0 or 1 needs the lab's LLN")
    if value < lln:
        return LabGrade(term, version, 1, True, "value < LLN")
    return LabGrade(term, version, 0, True, "value >= LLN")


def _grade_increased(
    term: str,
    version: str,
    value: Fraction,
    uln: Fraction | None,
    baseline: Fraction | None,
    abnormal_arm: str,
) -> LabGrade:
    if uln is None:
        return LabGrade(term, version, None, False, "ULN missing: grading needs the lab's ULN")
    if term == "Creatinine increased":
        by_uln = _ladder_grade(value, uln, _ULN_CREATININE)
        if baseline is None:
            return LabGrade(term, version, by_uln, True, "x ULN (no baseline)")
        by_base = _ladder_grade(value, baseline, _BASE_CREATININE)
        return LabGrade(term, version, max(by_uln, by_base), True, "worse of x ULN and x baseline")
    uln_arm, base_arm = _BASELINE_RELATIVE[term]
    by_uln = _ladder_grade(value, uln, uln_arm)
    if baseline is None or baseline <= uln:
        return LabGrade(term, version, by_uln, True, "x ULN (baseline normal or not given)")
    by_base = _ladder_grade(value, baseline, base_arm)
    if abnormal_arm == "worse-of-both":
        return LabGrade(
            term,
            version,
            max(by_uln, by_base),
            True,
            "worse of x ULN and x baseline (baseline > ULN)",
        )
    return LabGrade(term, version, by_base, True, "x baseline (baseline > ULN)")


def ctcae_lab_grade(
    term: str,
    value: float,
    unit: str,
    *,
    lln: float | None = None,
    uln: float | None = None,
    baseline: float | None = None,
    version: str = DEFAULT_CTCAE_VERSION,
    transfusion_indicated: bool = False,
    abnormal_baseline_arm: str = DEFAULT_ABNORMAL_BASELINE_ARM,
) -> LabGrade:
    """Grade a lab value by CTCAE.

    Decreased counts (v5.0): grade 4 below the lowest threshold, 3 and 2 in the printed half-open
    bands, grade 1 from the grade-2 threshold up to (not including) the lab's LLN, 0 at or above
    the LLN. Without an LLN a value at or above the grade-2 threshold is *not gradable*, never 0.
    Anaemia: grade 3 at Hgb < 8.0 g/dL (80 g/L, 4.9 mmol/L) or when a transfusion is indicated;
    grade 4 is clinical only (no Hgb number defines it). ALT, AST, alkaline phosphatase, GGT and
    bilirubin: multiples of ULN when the baseline is normal (or not given), of the baseline
    instead when the baseline is above the ULN (by default; see ``abnormal_baseline_arm``).
    Creatinine: the worse of the ULN arm and the baseline arm (grades 2-3).

    Parameters
    ----------
    term : str
        One of :data:`CTCAE_LAB_TERMS`, spelled as in CTCAE.
    value : float
        The result, in ``unit``.
    unit : str
        Cells ``10^9/L``, ``10^3/uL``, ``/uL``, ``/mm3``; haemoglobin ``g/dL``, ``g/L``,
        ``mmol/L``; creatinine and bilirubin ``mg/dL``, ``umol/L``; ALT, AST, alkaline phosphatase
        and GGT ``U/L``, ``ukat/L``.
    lln, uln, baseline : float, optional
        The lab's normal limits and the subject's baseline value, in the same unit as ``value``.
        Decreased counts and anaemia use only ``lln``; the increased terms use
        ``uln`` and ``baseline``; a value a term does not use is not read.
        Grade the baseline visit itself with ``baseline=None`` (admiral graded the baseline
        record against itself, giving grade 0 to an abnormal baseline: docs/references.md).
    version : {"5.0", "6.0"}
        v6.0 is graded only where clestudy has its criteria (neutrophils); otherwise an error says
        v6.0 for the term is not available.
    transfusion_indicated : bool
        Anaemia only: a transfusion is indicated (grade 3 criterion).
    abnormal_baseline_arm : {"baseline-only", "worse-of-both"}
        See :data:`DEFAULT_ABNORMAL_BASELINE_ARM`.

    Returns
    -------
    LabGrade

    Raises
    ------
    InstrumentInputError
        An unknown term, version or unit, a value that is not a positive number (0 allowed for
        the value), or a v6.0 term clestudy has no criteria for.

    Notes
    -----
    Source: National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE)
    v5.0, 27 Nov 2017 (ctep.cancer.gov), as transcribed in reference/ctcae_v5_selected_terms.json
    (oncohub/CTCAE5 @ d46f46c) and cross-checked with pharmaverse/admiral ``ncictcaev5.json``;
    v6.0 neutrophil criteria from admiral ``ncictcaev6.json`` (reference/instruments.md 4.3).
    Validated against: the boundary and regression cases of reference/instruments.md sections 4
    and 8 (nobra_calculator, PharmaForest, clinPK bugs) in ``tests/instruments/test_ctcae_lab.py``.

    Examples
    --------
    >>> ctcae_lab_grade("Neutrophil count decreased", 1200, "/uL", lln=2000).grade
    2
    >>> ctcae_lab_grade("Neutrophil count decreased", 1.8, "10^9/L").gradable
    False
    """
    checked_version = check_choice("ctcae", "version", version, CTCAE_VERSIONS)
    if term not in _FAMILY:
        raise InstrumentInputError(
            f"ctcae: term: got {term!r}; allowed: {join_allowed(CTCAE_LAB_TERMS)}"
        )
    if checked_version == "6.0" and term != "Neutrophil count decreased":
        why = _V6_UNAVAILABLE.get(term, "has no v6.0 criteria in clestudy's reference")
        raise InstrumentInputError(
            f"ctcae: version: CTCAE v6.0 grading of {term!r} is not available ({term!r} {why}); "
            "allowed: version 5.0 for this term"
        )
    arm = check_choice(
        "ctcae", "abnormal_baseline_arm", abnormal_baseline_arm, ABNORMAL_BASELINE_ARMS
    )
    family = _FAMILY[term]
    transfusion = check_bool("ctcae", "transfusion_indicated", transfusion_indicated)
    if transfusion and family != "hemoglobin":
        raise InstrumentInputError(
            f"ctcae: transfusion_indicated: got True for {term!r}; allowed: false (it is an "
            "'Anemia' criterion)"
        )
    canonical = to_family_unit(term, family, unit)
    number = exact(check_number("ctcae", "value", value, minimum=0, unit=canonical))
    low, high, base = (
        _optional(n, v, canonical) for n, v in (("lln", lln), ("uln", uln), ("baseline", baseline))
    )
    if family == "cells":
        factor = CELL_UNITS[canonical]
        low = None if low is None else low * factor
        if checked_version == "6.0":
            return _grade_decreased(
                term, checked_version, number * factor, None, _NEUTROPHILS_V6, False
            )
        return _grade_decreased(term, checked_version, number * factor, low, _CELLS_V5[term], True)
    if family == "hemoglobin":
        if transfusion:
            return LabGrade(term, checked_version, 3, True, "transfusion indicated")
        return _grade_decreased(term, checked_version, number, low, _HEMOGLOBIN[canonical], True)
    return _grade_increased(term, checked_version, number, high, base, arm)


def ctcae_settings(settings: Mapping[str, object]) -> tuple[str, str]:
    """Read ``ctcae_version`` and ``ctcae_abnormal_baseline_arm`` from study settings (defaults
    ``"5.0"`` and ``"baseline-only"``).

    Examples
    --------
    >>> ctcae_settings({"ctcae_version": "6.0"})
    ('6.0', 'baseline-only')
    """
    version = settings.get("ctcae_version", DEFAULT_CTCAE_VERSION)
    arm = settings.get("ctcae_abnormal_baseline_arm", DEFAULT_ABNORMAL_BASELINE_ARM)
    return (
        check_choice("ctcae", "ctcae_version", version, CTCAE_VERSIONS),
        check_choice("ctcae", "ctcae_abnormal_baseline_arm", arm, ABNORMAL_BASELINE_ARMS),
    )
