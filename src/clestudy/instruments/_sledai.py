"""SLEDAI-2K: Systemic Lupus Erythematosus Disease Activity Index 2000 (Gladman 2002)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from clestudy.instruments._checks import (
    InstrumentInputError,
    check_bool,
    check_choice,
    check_count,
    check_int,
    join_allowed,
)
from clestudy.instruments._spec import DerivedValue, InputSpec, Instrument, as_object, take_payload

__all__ = [
    "DEFAULT_SLEDAI2K_ARTHRITIS_RULE",
    "DEFAULT_SLEDAI2K_WINDOW_DAYS",
    "SLEDAI2K",
    "SLEDAI2K_DESCRIPTORS",
    "SLEDAI2K_SEROLOGY",
    "Sledai2kScore",
    "sledai2k_score",
    "sledai2k_settings",
]

SLEDAI2K_DESCRIPTORS: Mapping[str, int] = MappingProxyType(
    {
        "seizure": 8,
        "psychosis": 8,
        "organic_brain_syndrome": 8,
        "visual_disturbance": 8,
        "cranial_nerve_disorder": 8,
        "lupus_headache": 8,
        "cva": 8,
        "vasculitis": 8,
        "arthritis": 4,
        "myositis": 4,
        "urinary_casts": 4,
        "hematuria": 4,
        "proteinuria": 4,
        "pyuria": 4,
        "rash": 2,
        "alopecia": 2,
        "mucosal_ulcers": 2,
        "pleurisy": 2,
        "pericarditis": 2,
        "low_complement": 2,
        "increased_dna_binding": 2,
        "fever": 1,
        "thrombocytopenia": 1,
        "leukopenia": 1,
    }
)
"""The 24 descriptors and their weights, in form order (Gladman 2002); they sum to 105."""

SLEDAI2K_SEROLOGY: tuple[str, ...] = ("low_complement", "increased_dna_binding")
"""The serology descriptors left out of the clinical SLEDAI-2K (used by DORIS 2021)."""

DEFAULT_SLEDAI2K_WINDOW_DAYS = 10
"""Default look-back window: 10 days (Gladman 2002); 30 days is validated (Touma 2010)."""

DEFAULT_SLEDAI2K_ARTHRITIS_RULE = ">=2"
"""Default arthritis joint-count rule: ">= 2 joints", the SLEDAI-2K wording.

The original SLEDAI (Bombardier 1992) says "more than 2 joints" (``">2"``); SLEDAI-2K as
reproduced in its glossary (and the openEHR archetype) says ">= 2 joints".
"""

_WINDOWS = (10, 30)
_ARTHRITIS_RULES = (">=2", ">2")


@dataclass(frozen=True)
class Sledai2kScore:
    """A scored SLEDAI-2K.

    Attributes
    ----------
    score : int
        Total 0-105.
    clinical_score : int
        Total without the serology descriptors (low complement, increased DNA binding), 0-101.
    window_days : int
        The look-back window the descriptors were scored over (10 or 30).
    present : tuple of str
        The descriptors scored present, in form order.
    """

    score: int
    clinical_score: int
    window_days: int
    present: tuple[str, ...]


def sledai2k_settings(settings: Mapping[str, object]) -> tuple[int, str]:
    """Read ``sledai2k_window_days`` and ``sledai2k_arthritis_rule`` from study settings.

    Missing keys take the defaults (10 days, ``">=2"``); other keys are ignored.

    Examples
    --------
    >>> sledai2k_settings({"sledai2k_window_days": 30})
    (30, '>=2')
    """
    window = settings.get("sledai2k_window_days", DEFAULT_SLEDAI2K_WINDOW_DAYS)
    rule = settings.get("sledai2k_arthritis_rule", DEFAULT_SLEDAI2K_ARTHRITIS_RULE)
    return (
        check_int("sledai2k", "sledai2k_window_days", window, _WINDOWS),
        check_choice("sledai2k", "sledai2k_arthritis_rule", rule, _ARTHRITIS_RULES),
    )


def sledai2k_score(
    descriptors: Mapping[str, object],
    *,
    arthritis_joint_count: int | None = None,
    window_days: int = DEFAULT_SLEDAI2K_WINDOW_DAYS,
    arthritis_rule: str = DEFAULT_SLEDAI2K_ARTHRITIS_RULE,
) -> Sledai2kScore:
    """Score the SLEDAI-2K: the sum of the weights of the descriptors present.

    .. math:: SLEDAI\\text{-}2K = \\sum_{d\\ present} w_d \\quad (0..105), \\qquad
              clinical = SLEDAI\\text{-}2K - w_{low\\ complement} - w_{DNA\\ binding}

    Weights: 8 for the eight neurological/vascular descriptors, 4 for arthritis, myositis and the
    four renal descriptors, 2 for the seven mucocutaneous/serosal/serology descriptors, 1 for fever
    and the two cytopenias (8x8 + 6x4 + 7x2 + 3x1 = 105).

    Parameters
    ----------
    descriptors : mapping
        Descriptor name (see :data:`SLEDAI2K_DESCRIPTORS`) -> ``True``/``False``. A name left out
        (or ``None``) is false.
    arthritis_joint_count : int, optional
        Joints with pain and signs of inflammation. When given, arthritis is decided by
        ``arthritis_rule``; if ``descriptors`` also records ``arthritis`` the two must agree.
    window_days : {10, 30}
        Look-back window, recorded in the result (Touma 2010 validated 30 days).
    arthritis_rule : {">=2", ">2"}
        Joint-count rule; default ``">=2"`` (SLEDAI-2K wording; original SLEDAI ``">2"``).

    Returns
    -------
    Sledai2kScore

    Raises
    ------
    InstrumentInputError
        An unknown descriptor, a non-boolean value, a bad window/rule, or a joint count that
        contradicts the recorded arthritis descriptor.

    Notes
    -----
    Sources: Gladman DD, Ibanez D, Urowitz MB. Systemic lupus erythematosus disease activity index
    2000. J Rheumatol 2002;29(2):288-291 (PMID 11838846). Touma Z, Urowitz MB, Gladman DD.
    SLEDAI-2K for a 30-day window. Lupus 2010;19(1):49-51. doi:10.1177/0961203309346505.
    Validated against: the weight table of reference/instruments.md 2.2 (maximum 105), and the
    openEHR pyuria bug (weight 2 instead of 4) as a regression test.

    Examples
    --------
    >>> s = sledai2k_score({"rash": True, "low_complement": True, "pyuria": True})
    >>> (s.score, s.clinical_score, s.window_days)
    (8, 6, 10)
    """
    window = check_int("sledai2k", "window_days", window_days, _WINDOWS)
    rule = check_choice("sledai2k", "arthritis_rule", arthritis_rule, _ARTHRITIS_RULES)
    present: dict[str, bool] = {}
    for name, value in descriptors.items():
        if name not in SLEDAI2K_DESCRIPTORS:
            raise InstrumentInputError(
                f"sledai2k: descriptors.{name}: unknown descriptor; allowed: "
                f"{join_allowed(SLEDAI2K_DESCRIPTORS)}"
            )
        present[name] = False if value is None else check_bool("sledai2k", name, value)
    if arthritis_joint_count is not None:
        count = check_count("sledai2k", "arthritis_joint_count", arthritis_joint_count)
        by_count = count >= 2 if rule == ">=2" else count > 2
        recorded = descriptors.get("arthritis")
        if recorded is not None and recorded != by_count:
            raise InstrumentInputError(
                f"sledai2k: arthritis: got {recorded!r} but arthritis_joint_count {count} gives "
                f"{by_count!r} under the rule '{rule} joints'; allowed: agreeing values"
            )
        present["arthritis"] = by_count
    names = tuple(name for name in SLEDAI2K_DESCRIPTORS if present.get(name, False))
    score = sum(SLEDAI2K_DESCRIPTORS[name] for name in names)
    serology = sum(SLEDAI2K_DESCRIPTORS[name] for name in names if name in SLEDAI2K_SEROLOGY)
    return Sledai2kScore(
        score=score, clinical_score=score - serology, window_days=window, present=names
    )


def _derive(
    values: Mapping[str, object], settings: Mapping[str, object]
) -> dict[str, DerivedValue]:
    window, rule = sledai2k_settings(settings)
    descriptors = {k: v for k, v in values.items() if k in SLEDAI2K_DESCRIPTORS}
    joints = values.get("arthritis_joint_count")
    score = sledai2k_score(
        descriptors,
        window_days=window,
        arthritis_joint_count=joints,  # type: ignore[arg-type]  # sledai2k_score checks it
        arthritis_rule=rule,
    )
    return {
        "sledai2k_score": score.score,
        "sledai2k_clinical_score": score.clinical_score,
        "sledai2k_window_days": score.window_days,
    }


_SCORE_INPUTS = MappingProxyType(
    {
        "descriptors": InputSpec("object"),
        "arthritis_joint_count": InputSpec("integer", minimum=0),
        "window_days": InputSpec("integer", allowed=_WINDOWS, default=DEFAULT_SLEDAI2K_WINDOW_DAYS),
        "arthritis_rule": InputSpec(
            "text", allowed=_ARTHRITIS_RULES, default=DEFAULT_SLEDAI2K_ARTHRITIS_RULE
        ),
    }
)


def _score_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = take_payload("sledai2k", payload, _SCORE_INPUTS)
    descriptors = as_object("sledai2k", "descriptors", args.pop("descriptors"))
    score = sledai2k_score(descriptors, **args)
    return {
        "score": score.score,
        "clinical_score": score.clinical_score,
        "window_days": score.window_days,
        "present": list(score.present),
    }


SLEDAI2K = Instrument(
    name="sledai2k",
    title="SLEDAI-2K (0-105) and clinical SLEDAI-2K",
    version="sledai2k-2002/1",
    source="Gladman DD et al. J Rheumatol 2002;29:288-291; 30-day window Touma Z et al. "
    "Lupus 2010;19:49-51",
    reference="PMID:11838846",
    inputs=MappingProxyType(
        {
            **dict.fromkeys(SLEDAI2K_DESCRIPTORS, InputSpec("boolean")),
            "arthritis_joint_count": _SCORE_INPUTS["arthritis_joint_count"],
        }
    ),
    score_inputs=_SCORE_INPUTS,
    score_outputs=MappingProxyType(
        {
            "score": "integer",
            "clinical_score": "integer",
            "window_days": "integer",
            "present": "array",
        }
    ),
    score=_score_json,
    derived_outputs=MappingProxyType(
        {
            "sledai2k_score": "integer",
            "sledai2k_clinical_score": "integer",
            "sledai2k_window_days": "integer",
        }
    ),
    derive=_derive,
)
"""The SLEDAI-2K's registry entry (derived on save from the descriptors and the joint count)."""
