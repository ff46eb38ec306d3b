"""CTCAE v5.0 clinical terms whose grades hang on a measurement: febrile neutropenia and chronic
kidney disease.

Both are clinical terms (an investigator records them as adverse events) but their criteria name
numbers, so the anchors are the measurements and the flags CTCAE prints
(reference/instruments.md §4.2, NCI CTCAE v5.0, 27 Nov 2017):

* **Febrile neutropenia** (Blood and lymphatic system disorders): grade 3 "ANC <1000/mm3 with a
  single temperature of >38.3 degrees C (101 degrees F) or a sustained temperature of >=38
  degrees C (100.4 degrees F) for more than one hour"; 4 "life-threatening consequences; urgent
  intervention indicated"; 5 death. No grades 1-2.
* **Chronic kidney disease** (Renal and urinary disorders): 1 "eGFR or CrCl <LLN - 60
  ml/min/1.73 m2 or proteinuria 2+ present; urine protein/creatinine >0.5"; 2 "eGFR or CrCl
  59 - 30"; 3 "29 - 15"; 4 "<15; dialysis or renal transplant indicated"; 5 death. The printed
  integer ranges are read as half-open intervals on a continuous eGFR (``30 <= eGFR < 60`` is
  grade 2), as for every CTCAE interval here; "proteinuria 2+ present" is met by 2+ or more.

As for the other clinical terms, the grade is the highest any recorded anchor reaches, and a
record that reaches none is *not gradable* (``grade=None``), never a guessed 0. Written by hand:
no maintained Python library grades CTCAE (admiral, in R, grades labs only).
"""

from __future__ import annotations

from collections.abc import Mapping
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

__all__ = ["MEASURED_TERMS", "measured_grade"]

_FN = "Febrile neutropenia"
_CKD = "Chronic kidney disease"

MEASURED_TERMS: dict[str, tuple[str, ...]] = {
    _FN: ("anc", "anc_unit", "max_temperature_c", "sustained_fever_1h", "life_threatening", "death"),
    _CKD: (
        "egfr", "egfr_lln", "proteinuria_dipstick", "upcr", "dialysis_or_transplant_indicated",
        "death",
    ),
}  # fmt: skip
"""Term -> the anchors it accepts."""

_DIPSTICK = ("negative", "trace", "1+", "2+", "3+", "4+")


def _anchors(term: str, anchors: Mapping[str, object]) -> None:
    for name in anchors:
        if name not in MEASURED_TERMS[term]:
            raise InstrumentInputError(
                f"ctcae: {term}.{name}: not an anchor of this term; allowed: "
                f"{join_allowed(MEASURED_TERMS[term])}"
            )


def _flags(term: str, anchors: Mapping[str, object], flags: Mapping[str, int]) -> list[tuple[int, str]]:  # fmt: skip
    return [
        (grade, f"{name}=True")
        for name, grade in flags.items()
        if name in anchors and check_bool("ctcae", f"{term}.{name}", anchors[name])
    ]


def _febrile_neutropenia(anchors: Mapping[str, object]) -> list[tuple[int, str]]:
    found = _flags(_FN, anchors, {"life_threatening": 4, "death": 5})
    if "anc" not in anchors:
        return found
    unit = to_family_unit(_FN, "cells", anchors.get("anc_unit", "10^9/L"))
    anc = exact(check_number("ctcae", f"{_FN}.anc", anchors["anc"], minimum=0, unit=unit))
    anc_10e9 = anc * CELL_UNITS[unit]
    fever = []
    if anchors.get("max_temperature_c") is not None:
        temp = check_number("ctcae", f"{_FN}.max_temperature_c", anchors["max_temperature_c"],
                            minimum=25, maximum=45, unit="degrees C")  # fmt: skip
        if exact(temp) > Fraction(383, 10):
            fever.append(f"max_temperature_c={temp:g} (>38.3)")
    if "sustained_fever_1h" in anchors and check_bool("ctcae", f"{_FN}.sustained_fever_1h", anchors["sustained_fever_1h"]):  # fmt: skip
        fever.append("sustained_fever_1h=True (>=38 for >1 h)")
    if anc_10e9 < 1 and fever:
        found.append((3, f"anc={float(anc):g} {unit} (<1.0 10^9/L) with {' and '.join(fever)}"))
    return found


def _ckd(anchors: Mapping[str, object]) -> list[tuple[int, str]]:
    found = _flags(_CKD, anchors, {"dialysis_or_transplant_indicated": 4, "death": 5})
    if anchors.get("egfr") is not None:
        egfr = exact(check_number("ctcae", f"{_CKD}.egfr", anchors["egfr"], minimum=0,
                                  unit="mL/min/1.73 m2"))  # fmt: skip
        text = f"egfr={float(egfr):g}"
        if egfr < 15:
            found.append((4, f"{text} (<15)"))
        elif egfr < 30:
            found.append((3, f"{text} (15 to <30)"))
        elif egfr < 60:
            found.append((2, f"{text} (30 to <60)"))
        elif anchors.get("egfr_lln") is not None:
            lln = exact(check_number("ctcae", f"{_CKD}.egfr_lln", anchors["egfr_lln"],
                                     minimum=0, strict_minimum=True, unit="mL/min/1.73 m2"))  # fmt: skip
            if egfr < lln:
                found.append((1, f"{text} (60 to <LLN {float(lln):g})"))
    if anchors.get("proteinuria_dipstick") is not None:
        dip = check_choice("ctcae", f"{_CKD}.proteinuria_dipstick", anchors["proteinuria_dipstick"], _DIPSTICK)  # fmt: skip
        if _DIPSTICK.index(dip) >= _DIPSTICK.index("2+"):
            found.append((1, f"proteinuria_dipstick={dip} (2+ present)"))
    if anchors.get("upcr") is not None:
        upcr = check_number("ctcae", f"{_CKD}.upcr", anchors["upcr"], minimum=0, unit="mg/mg")
        if exact(upcr) > Fraction(1, 2):
            found.append((1, f"upcr={upcr:g} (>0.5)"))
    return found


def measured_grade(term: str, anchors: Mapping[str, object]) -> tuple[int | None, tuple[str, ...]]:
    """The grade of a measured clinical term and the anchors that set it (see the module).

    Examples
    --------
    >>> measured_grade("Febrile neutropenia", {"anc": 800, "anc_unit": "/mm3", "max_temperature_c": 38.5})
    (3, ('anc=800 /mm3 (<1.0 10^9/L) with max_temperature_c=38.5 (>38.3)',))
    >>> measured_grade("Febrile neutropenia", {"anc": 800, "anc_unit": "/mm3", "max_temperature_c": 38.3})
    (None, ())
    >>> measured_grade("Chronic kidney disease", {"egfr": 45})
    (2, ('egfr=45 (30 to <60)',))
    """
    _anchors(term, anchors)
    found = _febrile_neutropenia(anchors) if term == _FN else _ckd(anchors)
    if not found:
        return None, ()
    best = max(g for g, _ in found)
    return best, tuple(why for g, why in found if g == best)
