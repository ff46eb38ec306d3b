"""Synthetic data for the pediatric chart review (shape of Wu et al., the seed 003 abstract).

Five girls, four of them African-American; lenalidomide 5-15 mg daily, one first on thalidomide
100 mg; every skin manifestation resolved by 6 months; prednisone tapered; all lymphopenic; one
pyelonephritis. Prednisone and ESR come from ``clestudy/demo_data/seed003_pediatric.csv``, a
dataset constructed so that its means, SDs and paired t-test p-values reproduce the abstract's
printed summary (its header says how). All values are invented; none is a real patient's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from importlib import resources
from typing import Any

import numpy as np

from clestudy.store import RecordInput, Store

__all__ = ["SEED003_CSV", "populate_chart_review", "read_seed003"]

ACTOR = "demo-generator"
SEED003_CSV = "seed003_pediatric.csv"

# age at diagnosis, age at start, race, drug, dose, weight kg, skin findings at initiation.
# Ages are chosen to match the abstract: diagnosis 12.4 (SD 3.5) years, start 16.4 (SD 4.7) years.
_CHILDREN = (
    ("P01", 9.0, 11.0, "BLACK OR AFRICAN AMERICAN", "LENALIDOMIDE", 5, 41.0,
     ["malar_rash", "oral_ulcers", "alopecia"]),
    ("P02", 11.0, 14.0, "BLACK OR AFRICAN AMERICAN", "LENALIDOMIDE", 10, 48.5,
     ["discoid", "alopecia"]),
    ("P03", 17.5, 23.0, "WHITE", "THALIDOMIDE", 100, 61.0,
     ["maculopapular", "bullous", "nasal_ulcers"]),
    ("P04", 10.0, 15.0, "BLACK OR AFRICAN AMERICAN", "LENALIDOMIDE", 10, 55.0,
     ["panniculitis", "discoid"]),
    ("P05", 14.5, 19.0, "BLACK OR AFRICAN AMERICAN", "LENALIDOMIDE", 15, 63.5,
     ["raynaud_digital_ulcers", "malar_rash"]),
)  # fmt: skip


def read_seed003() -> dict[tuple[str, str], dict[str, str]]:
    """The seed-003 demo values keyed by (subject, visit); ``#`` lines are provenance notes."""
    text = resources.files("clestudy").joinpath("demo_data", SEED003_CSV).read_text("utf-8")
    lines = [line for line in io.StringIO(text) if not line.startswith("#")]
    return {(row["subject"], row["visit"]): row for row in csv.DictReader(lines)}


def populate_chart_review(store: Store, rng: np.random.Generator) -> None:
    """Enrol the five children and write both visits' forms through the store."""
    seed = read_seed003()
    start = dt.date(2010, 1, 11)
    for index, (subject, dx_age, age, race, drug, dose, weight, skin) in enumerate(_CHILDREN):
        store.add_subject(subject, arm="lenalidomide", site="site01", actor=ACTOR,
                          reason="synthetic demo subject")  # fmt: skip
        day0 = start + dt.timedelta(days=37 * index)
        day6 = day0 + dt.timedelta(days=182 + int(rng.integers(-10, 11)))
        batch = [
            RecordInput(subject, "initiation", "dm", {
                "brthdat": (day0 - dt.timedelta(days=int(365.25 * age) + 30)).isoformat(),
                "age": int(age), "sex": "F", "race": race, "ethnic": "NOT HISPANIC OR LATINO",
                "dx_age": f"{dx_age:.1f}"}),
            RecordInput(subject, "initiation", "ex", {
                "extrt": drug, "exdose": dose, "exstdat": day0.isoformat()}),
            RecordInput(subject, "initiation", "skin", {
                "skin_manifestations": skin, "skin_response": "not_applicable"}),
            RecordInput(subject, "month_6", "skin", {
                "skin_manifestations": ["none"], "skin_response": "resolved"}),
        ]  # fmt: skip
        for visit, day in (("initiation", day0), ("month_6", day6)):
            values = seed[(subject, visit)]
            lym = rng.normal(0.85, 0.15)  # lymphopenic throughout, no systematic change
            labs: dict[str, Any] = {
                "lbdat": day.isoformat(), "esr": int(values["esr_mm_hr"]),
                "lym": f"{lym:.2f}", "wbc": f"{lym + rng.normal(3.4, 0.4):.1f}",
                "neut": f"{rng.normal(2.6, 0.3):.1f}", "plat": int(rng.normal(230, 35)),
                "hgb": f"{rng.normal(11.6, 0.6):.1f}", "creat": f"{rng.normal(0.6, 0.05):.2f}",
                "pregnancy_test": "negative",
            }  # fmt: skip
            batch += [
                RecordInput(subject, visit, "labs", labs),
                RecordInput(subject, visit, "steroids", {
                    "cmdat": day.isoformat(), "prednisone_mg_day": values["prednisone_mg_day"]}),
                RecordInput(subject, visit, "vs", {
                    "vsdat": day.isoformat(),
                    "weight": f"{weight + (1.5 if visit == 'month_6' else 0):.1f}"}),
            ]  # fmt: skip
        if subject == "P04":
            batch.append(RecordInput(subject, "month_6", "ae", {
                "aeterm": "Pyelonephritis", "aestdat": (day6 - dt.timedelta(days=60)).isoformat(),
                "aeendat": (day6 - dt.timedelta(days=46)).isoformat(), "aetoxgr": 3,
                "aeser": True, "aerel": "UNLIKELY RELATED", "aeout": "RECOVERED/RESOLVED",
                "aeacn": "DRUG INTERRUPTED"}))  # fmt: skip
        store.save_records(batch, actor=ACTOR, reason="synthetic demo data")
