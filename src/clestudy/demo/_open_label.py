"""Synthetic data for the open-label adult study (shape of Braunstein et al. 2012).

Five adults with treatment-refractory CLE: four respond (CLASI activity falls), one does not; one
responder develops systemic lupus (an adverse event, with rising anti-dsDNA and falling complement)
and stops the drug after week 24. Blood HLA-DR rises and the interferon score falls with treatment
regardless of response, as the paper reports. All values are invented; none is a real patient's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from clestudy.demo._clasi_items import clasi_items
from clestudy.store import RecordInput, Store

__all__ = ["populate_open_label"]

ACTOR = "demo-generator"
START = dt.date(2009, 3, 2)


@dataclass(frozen=True)
class _Adult:
    subject: str
    age: int
    sex: str
    race: str
    subtype: str
    weight: float
    height: float
    dose_mg: float
    clasi: tuple[int, ...]  # activity at weeks 0, 6, 12, 24, 52 (None-free: stops at last visit)
    involved: tuple[str, ...]
    dyspigmented: tuple[str, ...]
    scarred: tuple[str, ...]
    new_damage: tuple[str, ...] = ()  # areas that gain dyspigmentation from week 12 on


SUBJECTS = (
    _Adult("L01", 46, "F", "WHITE", "dle", 71.0, 165.0, 10, (18, 12, 6, 4, 3),
           ("scalp", "ears", "nose", "rest_of_face", "arms"), ("ears", "nose"), ("ears",),
           ("rest_of_face",)),
    _Adult("L02", 38, "F", "BLACK OR AFRICAN AMERICAN", "scle", 64.5, 160.0, 10, (24, 15, 7, 9),
           ("nose", "rest_of_face", "v_neck", "chest", "back_buttocks", "arms"), ("v_neck",), (),
           ("chest",)),
    _Adult("L03", 57, "F", "WHITE", "dle", 80.2, 170.0, 5, (14, 10, 5, 3, 2),
           ("scalp", "ears", "rest_of_face", "hands"), ("ears", "rest_of_face"), ("scalp", "ears")),
    _Adult("L04", 42, "M", "WHITE", "mixed", 88.0, 181.0, 10, (20, 21, 19, 22, 20),
           ("scalp", "ears", "nose", "rest_of_face", "v_neck", "arms", "hands"),
           ("nose", "arms"), ("scalp", "nose"), ("ears", "hands")),
    _Adult("L05", 51, "F", "ASIAN", "scle", 58.3, 158.0, 5, (12, 8, 4, 2, 1),
           ("v_neck", "chest", "posterior_neck_shoulders", "arms"), ("chest",), ()),
)  # fmt: skip
VISITS = ("week_0", "week_6", "week_12", "week_24", "week_52")
DAYS = (0, 42, 84, 168, 364)
FLARE_SUBJECT = "L02"
#: Planted on purpose: L04's week-24 visit took place 3 weeks late, outside its 14-day window, so
#: the visit-window edit check opens a discrepancy that the report lists.
LATE_VISIT = ("L04", "week_24", 21)


def _labs(
    rng: np.random.Generator, adult: _Adult, visit_index: int, day: dt.date
) -> dict[str, Any]:
    flare = adult.subject == FLARE_SUBJECT and visit_index >= 3
    on_drug = visit_index > 0
    neut = rng.normal(3.6, 0.4) - (0.9 if on_drug else 0.0)
    values: dict[str, Any] = {
        "lbdat": day.isoformat(),
        "wbc": f"{neut + rng.normal(1.9, 0.2) + 0.5:.1f}",
        "neut": f"{neut:.1f}",
        "lym": f"{rng.normal(1.5, 0.2) - (0.4 if flare else 0):.1f}",
        "plat": int(rng.normal(245, 30) - (25 if on_drug else 0)),
        "hgb": f"{rng.normal(13.2 if adult.sex == 'F' else 14.6, 0.5):.1f}",
        "creat": f"{rng.normal(0.8 if adult.sex == 'F' else 1.0, 0.06):.2f}",
        "alt": int(rng.normal(22, 4)),
        "ast": int(rng.normal(24, 4)),
        "esr": int(rng.normal(38 if flare else 18, 3)),
        "c3": int(rng.normal(62 if flare else 105, 6)),
        "c4": int(rng.normal(8 if flare else 22, 2)),
        "dsdna": int(rng.normal(180 if flare else 12, 5 if not flare else 20)),
    }
    if adult.sex == "F" and adult.age < 55:
        values["pregnancy_test"] = "negative"
    else:
        values["pregnancy_test"] = "not_applicable"
    return values


def _immune(rng: np.random.Generator, responder: bool, after: bool, day: dt.date) -> dict[str, Any]:
    return {
        "sample_date": day.isoformat(),
        "pdc_pct_lin_neg": f"{rng.normal(0.35 if after and responder else 0.22, 0.03):.3f}",
        "treg_pct_cd4": f"{rng.normal(6.1 if after and responder else 4.8, 0.3):.2f}",
        "hladr_pct_cd3": f"{rng.normal(14.0 if after else 7.5, 1.0):.1f}",
        "hladr_cd38_pct_cd3": f"{rng.normal(4.2 if after else 2.1, 0.4):.1f}",
        "hladr_mfi_monocytes": f"{rng.normal(5200 if after else 3900, 250):.0f}",
        "ifn_score": f"{rng.normal(3.1 if after else 9.8, 0.6):.2f}",
        "skin_cd3_per_mm2": f"{rng.normal(310 if after and responder else 820, 40):.0f}",
        "skin_cd4_per_mm2": f"{rng.normal(180 if after and responder else 470, 30):.0f}",
        "skin_cd8_per_mm2": f"{rng.normal(120 if after and responder else 350, 25):.0f}",
        "skin_cxcl10_per_mm2": f"{rng.normal(90 if after else 410, 20):.0f}",
        "skin_mucin_area_fraction": f"{rng.uniform(0.02, 0.05) if after else rng.uniform(0.08, 0.14):.3f}",
    }


def populate_open_label(store: Store, rng: np.random.Generator) -> None:
    """Enrol the five adults and write every visit's forms through the store, one batch each."""
    for adult in SUBJECTS:
        store.add_subject(adult.subject, arm="lenalidomide", site="site01", actor=ACTOR,
                          reason="synthetic demo subject")  # fmt: skip
        responder = adult.clasi[2] <= adult.clasi[0] - 4
        batch: list[RecordInput] = []
        for index, activity in enumerate(adult.clasi):
            visit = VISITS[index]
            day = START + dt.timedelta(days=DAYS[index] + int(rng.integers(-2, 3)) * (index > 0))
            if (adult.subject, visit) == LATE_VISIT[:2]:
                day += dt.timedelta(days=LATE_VISIT[2])
            forms: dict[str, dict[str, Any]] = {
                "vs": {"vsdat": day.isoformat(), "weight": f"{adult.weight + rng.normal(0, 0.6):.1f}",
                       "height": f"{adult.height:.0f}"},
                "clasi": {"rsdat": day.isoformat(), **clasi_items(
                    rng, activity, involved=adult.involved,
                    dyspigmented=adult.dyspigmented + (adult.new_damage if index >= 2 else ()),
                    scarred=adult.scarred, dyspigmentation_12_months=adult.subject in ("L01", "L03"))},
                "labs": _labs(rng, adult, index, day),
            }  # fmt: skip
            if index == 0:
                forms["dm"] = {
                    "brthdat": (day - dt.timedelta(days=int(365.25 * adult.age) + 40)).isoformat(),
                    "age": adult.age, "sex": adult.sex, "race": adult.race,
                    "ethnic": "NOT HISPANIC OR LATINO", "cle_subtype": adult.subtype,
                }  # fmt: skip
                forms["ex"] = {"extrt": "LENALIDOMIDE", "exdose": adult.dose_mg,
                               "exstdat": day.isoformat()}  # fmt: skip
            if visit in ("week_0", "week_12"):
                forms["immune_profile"] = _immune(rng, responder, index > 0, day)
            batch += [RecordInput(adult.subject, visit, f, v) for f, v in forms.items()]
            if adult.subject == FLARE_SUBJECT and visit == "week_24":
                batch.append(RecordInput(adult.subject, visit, "ae", {
                    "aeterm": "Systemic lupus erythematosus flare (arthritis, pleurisy, "
                              "rising anti-dsDNA)",
                    "aestdat": (day - dt.timedelta(days=20)).isoformat(), "aetoxgr": 3,
                    "aeser": True, "aerel": "POSSIBLY RELATED", "aeout": "RECOVERING/RESOLVING",
                    "aeacn": "DRUG WITHDRAWN",
                }))  # fmt: skip
            if adult.subject == "L03" and visit == "week_6":
                batch.append(RecordInput(adult.subject, visit, "ae", {
                    "aeterm": "Neutrophil count decreased", "aestdat": day.isoformat(),
                    "aeendat": (day + dt.timedelta(days=14)).isoformat(), "aetoxgr": 2,
                    "aeser": False, "aerel": "RELATED", "aeout": "RECOVERED/RESOLVED",
                    "aeacn": "DOSE NOT CHANGED",
                }))  # fmt: skip
        store.save_records(batch, actor=ACTOR, reason="synthetic demo data")
