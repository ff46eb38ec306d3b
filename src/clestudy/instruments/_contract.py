"""The JSON contract of ``clestudy score``: one object in, one object out, per instrument.

Pure translation between plain JSON values and the calculators (the CLI and the web API share
it). Unknown keys, missing required keys and wrong types raise :class:`InstrumentInputError`
naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clestudy.instruments._checks import InstrumentInputError, join_allowed
from clestudy.instruments._clasi import clasi_score
from clestudy.instruments._ctcae_clinical import CTCAE_CLINICAL_TERMS, ctcae_clinical_grade
from clestudy.instruments._ctcae_lab import (
    CTCAE_LAB_TERMS,
    DEFAULT_ABNORMAL_BASELINE_ARM,
    DEFAULT_CTCAE_VERSION,
    ctcae_lab_grade,
)
from clestudy.instruments._renal import (
    DEFAULT_RENAL_JURISDICTION,
    cockcroft_gault,
    lenalidomide_renal_check,
)
from clestudy.instruments._sledai import (
    DEFAULT_SLEDAI2K_ARTHRITIS_RULE,
    DEFAULT_SLEDAI2K_WINDOW_DAYS,
    sledai2k_score,
)
from clestudy.instruments._steroids import (
    DEFAULT_BETAMETHASONE_MG,
    DEFAULT_DEFLAZACORT_MG,
    prednisone_equivalent,
)

__all__ = ["SCORE_INSTRUMENTS", "score_payload"]

_MISSING = object()


def _take(
    instrument: str,
    payload: Mapping[str, Any],
    required: tuple[str, ...],
    optional: Mapping[str, Any],
) -> dict[str, Any]:
    """Check the keys of ``payload``; return required + optional values (defaults filled in)."""
    allowed = (*required, *optional)
    for key in payload:
        if key not in allowed:
            raise InstrumentInputError(
                f"{instrument}: {key}: unknown key; allowed: {join_allowed(allowed)}"
            )
    out: dict[str, Any] = {}
    for key in required:
        if key not in payload:
            raise InstrumentInputError(f"{instrument}: {key}: missing; it is required")
        out[key] = payload[key]
    for key, default in optional.items():
        value = payload.get(key, _MISSING)
        out[key] = default if value is _MISSING else value
    return out


def _object(instrument: str, key: str, value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InstrumentInputError(f"{instrument}: {key}: got {value!r}; allowed: an object")
    return value


def _clasi(payload: Mapping[str, Any]) -> dict[str, Any]:
    items = ("mucous_membrane", "recent_hair_loss", "nonscarring_alopecia", "scalp_scarring")
    args = _take(
        "clasi",
        payload,
        (),
        {"areas": None, **dict.fromkeys(items), "dyspigmentation_12_months": None},
    )
    areas = _object("clasi", "areas", args.pop("areas"))
    score = clasi_score(areas, **args)
    return {
        "activity": score.activity,
        "damage": score.damage,
        "activity_severity": score.activity_severity,
        "dyspigmentation_subtotal": score.dyspigmentation_subtotal,
        "dyspigmentation_doubled": score.dyspigmentation_doubled,
    }


def _sledai2k(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = _take(
        "sledai2k",
        payload,
        (),
        {
            "descriptors": None,
            "arthritis_joint_count": None,
            "window_days": DEFAULT_SLEDAI2K_WINDOW_DAYS,
            "arthritis_rule": DEFAULT_SLEDAI2K_ARTHRITIS_RULE,
        },
    )
    descriptors = _object("sledai2k", "descriptors", args.pop("descriptors"))
    score = sledai2k_score(descriptors, **args)
    return {
        "score": score.score,
        "clinical_score": score.clinical_score,
        "window_days": score.window_days,
        "present": list(score.present),
    }


def _ctcae_clinical(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = _take("ctcae", payload, ("term", "anchors"), {"version": DEFAULT_CTCAE_VERSION})
    if args["version"] not in (None, "5.0"):
        raise InstrumentInputError(
            f"ctcae: version: got {args['version']!r} for clinical term {args['term']!r}; "
            "allowed: 5.0 (clinical terms are graded by CTCAE v5.0 only)"
        )
    anchors = _object("ctcae", "anchors", args["anchors"])
    result = ctcae_clinical_grade(args["term"], **{str(k): v for k, v in anchors.items()})
    return {
        "grade": result.grade,
        "gradable": result.gradable,
        "term": result.term,
        "version": "5.0",
        "reason": ", ".join(result.anchors) or "no anchor reaches a grade of this term",
    }


def _ctcae(payload: Mapping[str, Any]) -> dict[str, Any]:
    term = payload.get("term")
    if term in CTCAE_CLINICAL_TERMS:
        return _ctcae_clinical(payload)
    if "term" in payload and term not in CTCAE_LAB_TERMS:
        raise InstrumentInputError(
            f"ctcae: term: got {term!r}; allowed: "
            f"{join_allowed((*CTCAE_LAB_TERMS, *CTCAE_CLINICAL_TERMS))}"
        )
    args = _take(
        "ctcae",
        payload,
        ("term", "value", "unit"),
        {
            "lln": None,
            "uln": None,
            "baseline": None,
            "version": DEFAULT_CTCAE_VERSION,
            "transfusion_indicated": False,
            "abnormal_baseline_arm": DEFAULT_ABNORMAL_BASELINE_ARM,
        },
    )
    if args["version"] is None:
        args["version"] = DEFAULT_CTCAE_VERSION
    result = ctcae_lab_grade(args.pop("term"), args.pop("value"), args.pop("unit"), **args)
    return {
        "grade": result.grade,
        "gradable": result.gradable,
        "term": result.term,
        "version": result.version,
        "reason": result.reason,
    }


def _prednisone_equivalent(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = _take(
        "steroids",
        payload,
        ("drug", "dose_mg"),
        {
            "betamethasone_mg_per_5mg_prednisone": DEFAULT_BETAMETHASONE_MG,
            "deflazacort_mg_per_5mg_prednisone": DEFAULT_DEFLAZACORT_MG,
        },
    )
    mg = prednisone_equivalent(
        args["drug"],
        args["dose_mg"],
        betamethasone_mg=args["betamethasone_mg_per_5mg_prednisone"],
        deflazacort_mg=args["deflazacort_mg_per_5mg_prednisone"],
    )
    return {"prednisone_equivalent_mg": mg}


def _crcl(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = _take(
        "crcl",
        payload,
        ("age_years", "weight_kg", "sex", "creatinine"),
        {
            "creatinine_unit": "mg/dL",
            "weight_basis": "actual",
            "on_dialysis": False,
            "jurisdiction": DEFAULT_RENAL_JURISDICTION,
        },
    )
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
    }


_SCORERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "clasi": _clasi,
    "crcl": _crcl,
    "ctcae": _ctcae,
    "prednisone-equivalent": _prednisone_equivalent,
    "sledai2k": _sledai2k,
}
SCORE_INSTRUMENTS: tuple[str, ...] = tuple(_SCORERS)
"""The instruments ``clestudy score`` accepts."""


def score_payload(instrument: str, payload: object) -> dict[str, Any]:
    """Score one JSON object by the ``clestudy score`` contract of ``instrument``.

    Parameters
    ----------
    instrument : str
        One of :data:`SCORE_INSTRUMENTS`.
    payload : object
        The parsed JSON input; must be an object.

    Returns
    -------
    dict
        The JSON output object (contract keys plus extra detail keys).

    Raises
    ------
    InstrumentInputError
        Unknown instrument, a non-object payload, an unknown or missing key, or a bad value
        (the message names the item).

    Examples
    --------
    >>> score_payload("prednisone-equivalent", {"drug": "methylprednisolone", "dose_mg": 16})
    {'prednisone_equivalent_mg': 20.0}
    >>> score_payload("sledai2k", {"descriptors": {"pyuria": True}})["score"]
    4
    """
    scorer = _SCORERS.get(instrument)
    if scorer is None:
        raise InstrumentInputError(
            f"score: instrument: got {instrument!r}; allowed: {join_allowed(SCORE_INSTRUMENTS)}"
        )
    if not isinstance(payload, Mapping):
        raise InstrumentInputError(
            f"{instrument}: input: got a JSON {type(payload).__name__}; allowed: one JSON object"
        )
    return scorer(payload)
