"""``clestudy score ctcae``: one instrument over the CTCAE lab terms and clinical terms.

A lab term takes ``value`` and ``unit`` (with ``lln``, ``uln``, ``baseline`` as the term needs,
see :func:`~clestudy.instruments.ctcae_lab_grade`); a clinical term takes ``anchors`` (see
:func:`~clestudy.instruments.ctcae_clinical_grade`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from clestudy.instruments._checks import InstrumentInputError
from clestudy.instruments._ctcae_clinical import CTCAE_CLINICAL_TERMS, ctcae_clinical_grade
from clestudy.instruments._ctcae_lab import (
    ABNORMAL_BASELINE_ARMS,
    CTCAE_LAB_TERMS,
    CTCAE_VERSIONS,
    DEFAULT_ABNORMAL_BASELINE_ARM,
    DEFAULT_CTCAE_VERSION,
    ctcae_lab_grade,
)
from clestudy.instruments._spec import InputSpec, Instrument, as_object, take_payload

__all__ = ["CTCAE"]

_TERM = InputSpec("text", allowed=(*CTCAE_LAB_TERMS, *CTCAE_CLINICAL_TERMS), required=True)
_VERSION = InputSpec("text", allowed=CTCAE_VERSIONS, default=DEFAULT_CTCAE_VERSION)
_LIMIT = InputSpec("decimal", minimum=0, exclusive_minimum=True)
_LAB_INPUTS = MappingProxyType(
    {
        "term": _TERM,
        "value": InputSpec("decimal", minimum=0, required=True),
        "unit": InputSpec("text", required=True),
        "lln": _LIMIT,
        "uln": _LIMIT,
        "baseline": _LIMIT,
        "version": _VERSION,
        "transfusion_indicated": InputSpec("boolean", default=False),
        "abnormal_baseline_arm": InputSpec(
            "text", allowed=ABNORMAL_BASELINE_ARMS, default=DEFAULT_ABNORMAL_BASELINE_ARM
        ),
    }
)
_CLINICAL_INPUTS = MappingProxyType(
    {"term": _TERM, "anchors": InputSpec("object", required=True), "version": _VERSION}
)


def _clinical(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = take_payload("ctcae", payload, _CLINICAL_INPUTS)
    if args["version"] not in (None, "5.0"):
        raise InstrumentInputError(
            f"ctcae: version: got {args['version']!r} for clinical term {args['term']!r}; "
            "allowed: 5.0 (clinical terms are graded by CTCAE v5.0 only)"
        )
    anchors = as_object("ctcae", "anchors", args["anchors"])
    result = ctcae_clinical_grade(args["term"], **{str(k): v for k, v in anchors.items()})
    return {
        "grade": result.grade,
        "gradable": result.gradable,
        "term": result.term,
        "version": "5.0",
        "reason": ", ".join(result.anchors) or "no anchor reaches a grade of this term",
    }


def _score_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    term = payload.get("term")
    if term in CTCAE_CLINICAL_TERMS:
        return _clinical(payload)
    if "term" in payload and term not in CTCAE_LAB_TERMS:
        raise InstrumentInputError(f"ctcae: term: got {term!r}; allowed: {_TERM.describe()}")
    args = take_payload("ctcae", payload, _LAB_INPUTS)
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


CTCAE = Instrument(
    name="ctcae",
    title=f"CTCAE grading: {len(CTCAE_LAB_TERMS)} lab terms, {len(CTCAE_CLINICAL_TERMS)} clinical "
    "terms",
    version="ctcae-2017/3",
    source="National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) "
    "v5.0, 27 Nov 2017; v6.0 neutrophils from pharmaverse/admiral ncictcaev6.json",
    reference="https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm",
    inputs=MappingProxyType({**_LAB_INPUTS, "anchors": InputSpec("object")}),
    score_inputs=MappingProxyType(
        {
            **{k: v for k, v in _LAB_INPUTS.items() if k not in ("value", "unit")},
            "value": InputSpec("decimal", minimum=0),
            "unit": InputSpec("text"),
            "anchors": InputSpec("object"),
        }
    ),
    score_outputs=MappingProxyType(
        {
            "grade": "integer|null",
            "gradable": "boolean",
            "term": "string",
            "version": "string",
            "reason": "string",
        }
    ),
    score=_score_json,
)
"""``clestudy score ctcae``'s registry entry: a lab term takes ``value`` and ``unit`` (required
for a lab term), a clinical term ``anchors`` (required for a clinical term)."""
