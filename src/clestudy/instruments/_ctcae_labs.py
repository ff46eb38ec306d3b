"""``ctcaelabs``: CTCAE grades of a lab form's results, derived on save.

Each gradable lab is keyed by its CDISC ``LBTESTCD`` in lower case (``wbc``, ``neut``, ``lym``,
``plat``, ``hgb``, ``creat``, ``alt``, ``ast``); the form record gives the result and the store adds
its unit, the lab's LLN/ULN and the subject's baseline value (``wbc_unit``, ``wbc_lln``,
``wbc_uln``, ``wbc_baseline``, ...). Every grade comes from
:func:`~clestudy.instruments.ctcae_lab_grade`; a lab with no result, no unit or no range the term
needs is *not graded* (``None``), never grade 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from clestudy.instruments._checks import check_choice, check_number
from clestudy.instruments._ctcae_lab import ctcae_lab_grade, ctcae_settings
from clestudy.instruments._ctcae_units import UNIT_FAMILIES
from clestudy.instruments._spec import DerivedValue, InputSpec, Instrument, take_payload

__all__ = ["CTCAE_LABS", "LAB_TESTCD_TERMS", "PER_LAB_INSTRUMENTS"]

_NAME = "ctcaelabs"
PER_LAB_INSTRUMENTS = frozenset({_NAME})
"""Derived on save from whatever labs a record holds: no input is needed for the record to be
complete (a lab left out is not graded)."""

LAB_TESTCD_TERMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "wbc": ("White blood cell decreased", "cells"),
        "neut": ("Neutrophil count decreased", "cells"),
        "lym": ("Lymphocyte count decreased", "cells"),
        "plat": ("Platelet count decreased", "cells"),
        "hgb": ("Anemia", "hemoglobin"),
        "creat": ("Creatinine increased", "creatinine"),
        "alt": ("Alanine aminotransferase increased", "aminotransferase"),
        "ast": ("Aspartate aminotransferase increased", "aminotransferase"),
    }
)
"""CDISC ``LBTESTCD`` (lower case) -> (CTCAE v5.0 term, unit family).

Source: CDISC SDTM Controlled Terminology, Laboratory Test Code (C65047); the term of each code as
pharmaverse admiral's ``atoxgr_criteria_ctcv5`` metadata maps ``LBTESTCD`` to ``TERM``."""

_LIMIT = InputSpec("decimal", minimum=0, exclusive_minimum=True)


def _lab_inputs(code: str, family: str) -> dict[str, InputSpec]:
    return {
        code: InputSpec("decimal", minimum=0),
        f"{code}_unit": InputSpec("text", allowed=UNIT_FAMILIES[family]),
        f"{code}_lln": _LIMIT,
        f"{code}_uln": _LIMIT,
        f"{code}_baseline": _LIMIT,
    }


_INPUTS: Mapping[str, InputSpec] = MappingProxyType(
    {k: v for code, (_, fam) in LAB_TESTCD_TERMS.items() for k, v in _lab_inputs(code, fam).items()}
)
_OUTPUTS: Mapping[str, str] = MappingProxyType(
    {
        **{f"{code}_grade": "integer|null" for code in LAB_TESTCD_TERMS},
        "worst_grade": "integer|null",
    }
)


def _optional(key: str, values: Mapping[str, object]) -> float | None:
    value = values.get(key)
    if value is None:
        return None
    spec = _INPUTS[key]
    return check_number(
        _NAME, key, value, minimum=spec.minimum, strict_minimum=spec.exclusive_minimum
    )


def _grade(code: str, values: Mapping[str, object], settings: tuple[str, str]) -> int | None:
    term, family = LAB_TESTCD_TERMS[code]
    value = _optional(code, values)
    lln, uln, baseline = (_optional(f"{code}_{k}", values) for k in ("lln", "uln", "baseline"))
    unit = values.get(f"{code}_unit")
    if unit is not None:
        unit = check_choice(_NAME, f"{code}_unit", unit, UNIT_FAMILIES[family])
    if value is None or unit is None:
        return None
    version, arm = settings
    return ctcae_lab_grade(
        term,
        value,
        unit,
        lln=lln,
        uln=uln,
        baseline=baseline,
        version=version,
        abnormal_baseline_arm=arm,
    ).grade


def ctcae_labs_from_fields(
    values: Mapping[str, object], settings: Mapping[str, object]
) -> dict[str, DerivedValue]:
    """One CTCAE grade per gradable lab of a flat lab record, and the worst of them.

    Parameters
    ----------
    values : mapping
        ``CODE`` (the result), ``CODE_unit``, ``CODE_lln``, ``CODE_uln``, ``CODE_baseline`` for
        each code of :data:`LAB_TESTCD_TERMS`; any may be absent or ``None``.
    settings : mapping
        Study settings ``ctcae_version`` and ``ctcae_abnormal_baseline_arm``
        (see :func:`~clestudy.instruments.ctcae_settings`).

    Returns
    -------
    dict
        ``CODE_grade`` (0-4, or ``None`` when not graded) per code, and ``worst_grade`` (the
        highest grade given, ``None`` when no lab was graded).

    References
    ----------
    National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0,
    27 Nov 2017, Investigations and Blood and lymphatic system disorders.

    Examples
    --------
    >>> ctcae_labs_from_fields({"alt": 130, "alt_unit": "U/L", "alt_uln": 40}, {})["alt_grade"]
    2
    """
    chosen = ctcae_settings(settings)
    out: dict[str, DerivedValue] = {}
    for code in LAB_TESTCD_TERMS:
        out[f"{code}_grade"] = _grade(code, values, chosen)
    graded = [g for g in out.values() if isinstance(g, int)]
    out["worst_grade"] = max(graded) if graded else None
    return out


def _score_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = take_payload(_NAME, payload, _INPUTS)
    return dict(ctcae_labs_from_fields(args, {}))


CTCAE_LABS = Instrument(
    name=_NAME,
    title="CTCAE v5.0 grades of a lab form (WBC, neutrophils, lymphocytes, platelets, Hgb, "
    "creatinine, ALT, AST)",
    version="ctcaelabs-2017/1",
    source="National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) "
    "v5.0, 27 Nov 2017; LBTESTCD from CDISC SDTM Controlled Terminology (C65047)",
    reference="https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm",
    inputs=_INPUTS,
    score_inputs=_INPUTS,
    score_outputs=_OUTPUTS,
    score=_score_json,
    derived_outputs=_OUTPUTS,
    derive=ctcae_labs_from_fields,
)
"""The lab grades' registry entry (derived on save; the store adds units, ranges and baselines)."""
