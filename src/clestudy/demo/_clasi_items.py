"""Spread a target CLASI activity/damage over item-level entries, as a rater would record them.

Used only to synthesise demo data: the store then scores the items with the real instrument, so
the demo exercises the same path as a real CLASI form.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AREAS", "clasi_items"]

AREAS = (
    "scalp", "ears", "nose", "rest_of_face", "v_neck", "posterior_neck_shoulders", "chest",
    "abdomen", "back_buttocks", "arms", "hands", "legs", "feet",
)  # fmt: skip


def clasi_items(
    rng: np.random.Generator,
    activity: int,
    *,
    involved: tuple[str, ...],
    dyspigmented: tuple[str, ...],
    scarred: tuple[str, ...],
    dyspigmentation_12_months: bool,
) -> dict[str, int | bool]:
    """Item-level CLASI entries whose activity total is ``activity``.

    Activity points go first to erythema and scale of the ``involved`` areas (up to their maxima,
    3 and 2), then to mucosa and alopecia. Damage is fixed by the areas given. Every other item
    is entered as 0, so that the record is complete and scored.
    """
    capacity = {f"{a}_erythema": 3 for a in involved} | {f"{a}_scale": 2 for a in involved}
    capacity |= {"mucous_membrane": 1, "nonscarring_alopecia": 3, "recent_hair_loss": 1}
    if activity > sum(capacity.values()):
        raise ValueError(f"activity {activity} does not fit the involved areas")
    # every item is entered, 0 where nothing is seen: a CLASI with a blank item is incomplete
    items: dict[str, int | bool] = {
        f"{area}_{item}": 0
        for area in AREAS
        for item in ("erythema", "scale", "dyspigmentation", "scarring")
    }
    items |= dict.fromkeys(capacity, 0)
    keys = sorted(capacity)
    remaining = activity
    while remaining:
        open_keys = [k for k in keys if items[k] < capacity[k]]
        weights = np.array([3.0 if k.endswith("_erythema") else 1.0 for k in open_keys])
        key = open_keys[rng.choice(len(open_keys), p=weights / weights.sum())]
        items[key] = int(items[key]) + 1
        remaining -= 1
    for area in dyspigmented:
        items[f"{area}_dyspigmentation"] = 1
    for area in scarred:
        if area == "scalp":
            items["scalp_scarring"] = 3
        else:
            items[f"{area}_scarring"] = 1
    items["dyspigmentation_12_months"] = dyspigmentation_12_months
    return items
