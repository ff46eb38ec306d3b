"""CLASI: Cutaneous Lupus Erythematosus Disease Area and Severity Index (Albrecht 2005).

Only the scoring arithmetic is implemented here; the form layout, body diagram and anchor text are
not reproduced (their licence status is unknown, see ``docs/instruments.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from clestudy.instruments._checks import InstrumentInputError, check_bool, check_int, join_allowed
from clestudy.instruments._spec import DerivedValue, InputSpec, Instrument, as_object, take_payload

__all__ = [
    "CLASI",
    "CLASI_AREAS",
    "CLASI_FIELDS",
    "ClasiScore",
    "clasi_activity_severity",
    "clasi_from_fields",
    "clasi_score",
]

CLASI_AREAS: tuple[str, ...] = (
    "scalp",
    "ears",
    "nose",
    "rest_of_face",
    "v_neck",
    "posterior_neck_shoulders",
    "chest",
    "abdomen",
    "back_buttocks",
    "arms",
    "hands",
    "legs",
    "feet",
)
"""The 13 anatomical areas of the CLASI form, in form order (Albrecht 2005)."""

# Allowed values per area item (Albrecht 2005; reference/instruments.md section 1.2).
_AREA_ITEMS: dict[str, tuple[int, ...]] = {
    "erythema": (0, 1, 2, 3),
    "scale": (0, 1, 2),
    "dyspigmentation": (0, 1),
    "scarring": (0, 1, 2),
}
_GLOBAL_ITEMS: dict[str, tuple[int, ...]] = {
    "mucous_membrane": (0, 1),
    "recent_hair_loss": (0, 1),
    "nonscarring_alopecia": (0, 1, 2, 3),
    # Scalp scarring: 3 one quadrant, 4 two, 5 three, 6 the whole skull; there is no 1 or 2.
    "scalp_scarring": (0, 3, 4, 5, 6),
}
_DOUBLING_FLAG = "dyspigmentation_12_months"


def _clasi_inputs() -> dict[str, InputSpec]:
    specs: dict[str, InputSpec] = {}
    for area in CLASI_AREAS:
        for item, allowed in _AREA_ITEMS.items():
            if not (area == "scalp" and item == "scarring"):
                specs[f"{area}_{item}"] = InputSpec("integer", allowed=allowed)
    specs.update({name: InputSpec("integer", allowed=v) for name, v in _GLOBAL_ITEMS.items()})
    specs[_DOUBLING_FLAG] = InputSpec("boolean")
    return specs


_CLASI_INPUTS = MappingProxyType(_clasi_inputs())

CLASI_FIELDS: tuple[str, ...] = tuple(_CLASI_INPUTS)
"""The flat form-field names the CLASI reads (51 area items, 4 global items, the doubling flag).

``scalp_scarring`` is the separate 0/3/4/5/6 scalp item; there is no per-area scalp scarring.
"""

_SEVERITY_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 9, "mild"),
    (10, 20, "moderate"),
    (21, 70, "severe"),
)


@dataclass(frozen=True)
class ClasiScore:
    """A scored CLASI.

    Attributes
    ----------
    activity : int
        CLASI-A, 0-70.
    damage : int
        CLASI-D, 0-56.
    activity_severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"`` (Klein 2011).
    dyspigmentation_subtotal : int
        The dyspigmentation sub-total as it enters CLASI-D (already doubled when the flag is set).
    dyspigmentation_doubled : bool
        Whether the dyspigmentation usually lasts 12 months or more (sub-total doubled).
    """

    activity: int
    damage: int
    activity_severity: str
    dyspigmentation_subtotal: int
    dyspigmentation_doubled: bool


def clasi_activity_severity(activity: int) -> str:
    """Severity band of a CLASI activity score: mild 0-9, moderate 10-20, severe 21-70.

    Source: Klein R, Moghadam-Kia S, LoMonico J, et al. Development of the CLASI as a tool to
    measure disease severity and responsiveness to therapy in cutaneous lupus erythematosus.
    Arch Dermatol 2011;147(2):203-208. doi:10.1001/archdermatol.2010.435

    Examples
    --------
    >>> [clasi_activity_severity(a) for a in (0, 9, 10, 20, 21, 70)]
    ['mild', 'mild', 'moderate', 'moderate', 'severe', 'severe']
    """
    check_int("clasi", "activity", activity, range(0, 71))
    return next(band for low, high, band in _SEVERITY_BANDS if low <= activity <= high)


def _score(values: Mapping[str, object], label: Mapping[str, str]) -> ClasiScore:
    """Score validated-on-the-fly flat values; ``label`` maps a field to its name in errors."""

    def item(field: str, allowed: tuple[int, ...]) -> int:
        value = values.get(field)
        if value is None:  # an area or item left out scores 0 (docs/instruments.md)
            return 0
        return check_int("clasi", label.get(field, field), value, allowed)

    erythema = scale = dyspigmentation = scarring = 0
    for area in CLASI_AREAS:
        erythema += item(f"{area}_erythema", _AREA_ITEMS["erythema"])
        scale += item(f"{area}_scale", _AREA_ITEMS["scale"])
        dyspigmentation += item(f"{area}_dyspigmentation", _AREA_ITEMS["dyspigmentation"])
        if area != "scalp":
            scarring += item(f"{area}_scarring", _AREA_ITEMS["scarring"])
    mucosa = item("mucous_membrane", _GLOBAL_ITEMS["mucous_membrane"])
    hair_loss = item("recent_hair_loss", _GLOBAL_ITEMS["recent_hair_loss"])
    alopecia = item("nonscarring_alopecia", _GLOBAL_ITEMS["nonscarring_alopecia"])
    scalp_scarring = item("scalp_scarring", _GLOBAL_ITEMS["scalp_scarring"])
    flag = values.get(_DOUBLING_FLAG)
    doubled = False if flag is None else check_bool("clasi", _DOUBLING_FLAG, flag)

    activity = erythema + scale + mucosa + hair_loss + alopecia
    dyspigmentation_subtotal = dyspigmentation * 2 if doubled else dyspigmentation
    damage = dyspigmentation_subtotal + scarring + scalp_scarring
    return ClasiScore(
        activity=activity,
        damage=damage,
        activity_severity=clasi_activity_severity(activity),
        dyspigmentation_subtotal=dyspigmentation_subtotal,
        dyspigmentation_doubled=doubled,
    )


def clasi_score(
    areas: Mapping[str, Mapping[str, object]] | None = None,
    *,
    mucous_membrane: object = None,
    recent_hair_loss: object = None,
    nonscarring_alopecia: object = None,
    scalp_scarring: object = None,
    dyspigmentation_12_months: object = None,
) -> ClasiScore:
    """Score the CLASI from per-area items and the global items.

    .. math::

        A = \\sum_{areas}(erythema + scale) + mucosa + recent\\_hair\\_loss
            + nonscarring\\_alopecia \\quad (0..70)

        D = d \\cdot \\sum_{areas} dyspigmentation + \\sum_{areas \\ne scalp} scarring
            + scalp\\_scarring \\quad (0..56)

    with :math:`d = 2` when the dyspigmentation usually lasts 12 months or more, else 1.

    Parameters
    ----------
    areas : mapping, optional
        ``{area: {"erythema": 0-3, "scale": 0-2, "dyspigmentation": 0-1, "scarring": 0-2}}`` for
        the areas in :data:`CLASI_AREAS`. An area or item left out (or ``None``) scores 0. The scalp
        has no ``scarring`` item (use ``scalp_scarring``).
    mucous_membrane, recent_hair_loss : {0, 1}, optional
    nonscarring_alopecia : {0, 1, 2, 3}, optional
    scalp_scarring : {0, 3, 4, 5, 6}, optional
        3 one quadrant, 4 two, 5 three, 6 the whole skull.
    dyspigmentation_12_months : bool, optional
        The patient reports dyspigmentation usually lasts 12 months or more: the dyspigmentation
        sub-total is doubled (one patient-level flag).

    Returns
    -------
    ClasiScore

    Raises
    ------
    InstrumentInputError
        An unknown area or item, ``scarring`` under ``scalp``, or a value outside its allowed set.

    Notes
    -----
    Source: Albrecht J, Taylor L, Berlin JA, et al. The CLASI (Cutaneous Lupus Erythematosus
    Disease Area and Severity Index): an outcome instrument for cutaneous lupus erythematosus.
    J Invest Dermatol 2005;125(5):889-894. doi:10.1111/j.0022-202X.2005.23889.x.
    Severity bands: Klein 2011 (see :func:`clasi_activity_severity`).
    Validated against: the published maxima 70 and 56 and the hand calculations in
    ``tests/instruments/test_clasi.py``.

    Examples
    --------
    >>> s = clasi_score({"nose": {"erythema": 2, "scale": 1, "dyspigmentation": 1}},
    ...                 mucous_membrane=1, scalp_scarring=3, dyspigmentation_12_months=True)
    >>> (s.activity, s.damage, s.activity_severity)
    (4, 5, 'mild')
    """
    flat: dict[str, object] = {}
    label: dict[str, str] = {}
    for area, items in (areas or {}).items():
        if area not in CLASI_AREAS:
            raise InstrumentInputError(
                f"clasi: areas.{area}: unknown area; allowed: {join_allowed(CLASI_AREAS)}"
            )
        if not isinstance(items, Mapping):
            raise InstrumentInputError(
                f"clasi: areas.{area}: got {items!r}; allowed: an object of item scores"
            )
        for name, value in items.items():
            if area == "scalp" and name == "scarring":
                raise InstrumentInputError(
                    f"clasi: areas.scalp.scarring: got {value!r}; the scalp has no per-area "
                    "scarring item, use scalp_scarring (0, 3, 4, 5 or 6)"
                )
            if name not in _AREA_ITEMS:
                raise InstrumentInputError(
                    f"clasi: areas.{area}.{name}: unknown item; allowed: {join_allowed(_AREA_ITEMS)}"
                )
            flat[f"{area}_{name}"] = value
            label[f"{area}_{name}"] = f"areas.{area}.{name}"
    flat.update(
        mucous_membrane=mucous_membrane,
        recent_hair_loss=recent_hair_loss,
        nonscarring_alopecia=nonscarring_alopecia,
        scalp_scarring=scalp_scarring,
        dyspigmentation_12_months=dyspigmentation_12_months,
    )
    return _score(flat, label)


def clasi_from_fields(values: Mapping[str, object]) -> ClasiScore:
    """Score the CLASI from a flat form record (field names in :data:`CLASI_FIELDS`).

    Fields not in :data:`CLASI_FIELDS` are ignored (a form carries other fields, e.g. a date);
    a missing or ``None`` CLASI field scores 0. Formula and source: :func:`clasi_score`.

    Examples
    --------
    >>> clasi_from_fields({"rsdat": "2026-01-05", "chest_erythema": 3, "chest_scale": 2}).activity
    5
    """
    return _score(values, {})


def _derive(
    values: Mapping[str, object], settings: Mapping[str, object]
) -> dict[str, DerivedValue]:
    score = clasi_from_fields(values)
    return {
        "clasi_activity": score.activity,
        "clasi_damage": score.damage,
        "clasi_activity_severity": score.activity_severity,
    }


_SCORE_INPUTS = MappingProxyType(
    {
        "areas": InputSpec("object"),
        **{name: _CLASI_INPUTS[name] for name in (*_GLOBAL_ITEMS, _DOUBLING_FLAG)},
    }
)


def _score_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    args = take_payload("clasi", payload, _SCORE_INPUTS)
    areas = as_object("clasi", "areas", args.pop("areas"))
    score = clasi_score(areas, **args)
    return {
        "activity": score.activity,
        "damage": score.damage,
        "activity_severity": score.activity_severity,
        "dyspigmentation_subtotal": score.dyspigmentation_subtotal,
        "dyspigmentation_doubled": score.dyspigmentation_doubled,
    }


CLASI = Instrument(
    name="clasi",
    title="CLASI activity (0-70) and damage (0-56)",
    version="clasi-2005/1",
    source="Albrecht J et al. J Invest Dermatol 2005;125:889-894; severity bands Klein R et al. "
    "Arch Dermatol 2011;147:203-208",
    reference="doi:10.1111/j.0022-202X.2005.23889.x",
    inputs=_CLASI_INPUTS,
    score_inputs=_SCORE_INPUTS,
    score_outputs=MappingProxyType(
        {
            "activity": "integer",
            "damage": "integer",
            "activity_severity": "string",
            "dyspigmentation_subtotal": "integer",
            "dyspigmentation_doubled": "boolean",
        }
    ),
    score=_score_json,
    derived_outputs=MappingProxyType(
        {
            "clasi_activity": "integer",
            "clasi_damage": "integer",
            "clasi_activity_severity": "string",
        }
    ),
    derive=_derive,
)
"""The CLASI's registry entry (derived on save from the flat form fields)."""
