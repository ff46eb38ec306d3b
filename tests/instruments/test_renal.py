"""Cockcroft-Gault and the lenalidomide renal starting-dose check.

Provenance: formula Cockcroft & Gault 1976 (Nephron 16:31) as written in reference/instruments.md
6.2; thresholds US PI 60 / EU SmPC 50 mL/min, severe < 30, not studied < 11 (no dialysis) and < 7
(dialysis). Expected values are hand calculations shown in the comments.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    InstrumentInputError,
    cockcroft_gault,
    lenalidomide_renal_check,
    renal_jurisdiction_setting,
)


def test_contract_example() -> None:
    # (140 - 40) x 60 x 0.85 / (72 x 1.0) = 5100 / 72 = 70.8333...
    result = cockcroft_gault(40, 60, "female", 1.0, "mg/dL")
    assert result.crcl_ml_min == pytest.approx(5100 / 72)
    assert (result.weight_kg, result.weight_basis) == (60.0, "actual")


def test_male_and_umol() -> None:
    # 132.6 umol/L / 88.4 = 1.5 mg/dL; (140 - 70) x 72 / (72 x 1.5) = 46.666...
    result = cockcroft_gault(70, 72, "male", 132.6, "umol/L", weight_basis="ideal")
    assert result.creatinine_mg_dl == pytest.approx(1.5)
    assert result.crcl_ml_min == pytest.approx(70 / 1.5)
    assert result.weight_basis == "ideal"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"age_years": 12}, r"^crcl: age_years: got 12; allowed: a number >= 18 and < 140 years$"),
        (
            {"age_years": 140},
            r"^crcl: age_years: got 140; allowed: a number >= 18 and < 140 years$",
        ),
        ({"weight_kg": 0}, r"^crcl: weight_kg: got 0; allowed: a number > 0 kg$"),
        ({"sex": "U"}, r"^crcl: sex: got 'U'; allowed: F, M, female or male$"),
        ({"creatinine": 0}, r"^crcl: creatinine: got 0; allowed: a number > 0 mg/dL$"),
        (
            {"creatinine_unit": "mmol/L"},
            r"^crcl: creatinine_unit: got 'mmol/L'; allowed: mg/dL or umol/L$",
        ),
        (
            {"weight_basis": "lean"},
            r"^crcl: weight_basis: got 'lean'; allowed: actual, ideal or adjusted$",
        ),
    ],
)
def test_bad_inputs(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "age_years": 40,
        "weight_kg": 60,
        "sex": "female",
        "creatinine": 1.0,
        "creatinine_unit": "mg/dL",
    }
    args.update(kwargs)
    with pytest.raises(InstrumentInputError, match=message):
        cockcroft_gault(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("crcl", "jurisdiction", "band"),
    [
        (60, "US", "normal"),
        (59.9, "US", "moderate"),
        (50, "US", "moderate"),
        (50, "EU", "normal"),
        (49.9, "EU", "moderate"),
        (30, "US", "moderate"),
        (29.9, "US", "severe"),
        (29.9, "EU", "severe"),
    ],
)
def test_renal_band_boundaries(crcl: float, jurisdiction: str, band: str) -> None:
    result = lenalidomide_renal_check(crcl, jurisdiction=jurisdiction)
    assert result.band == band
    assert result.adjustment_recommended is (band != "normal")


def test_dialysis_and_not_studied() -> None:
    dialysis = lenalidomide_renal_check(8, on_dialysis=True)
    assert (dialysis.band, dialysis.not_studied) == ("dialysis", False)
    assert dialysis.label_regimen.startswith("5 mg once daily")
    assert lenalidomide_renal_check(6.9, on_dialysis=True).not_studied is True
    assert lenalidomide_renal_check(11).not_studied is False
    assert lenalidomide_renal_check(10.9).not_studied is True
    assert lenalidomide_renal_check(45).label_regimen == "10 mg every 24 hours"
    assert lenalidomide_renal_check(20).label_regimen == "15 mg every 48 hours"


def test_jurisdiction_setting() -> None:
    assert renal_jurisdiction_setting({}) == "US"
    assert renal_jurisdiction_setting({"lenalidomide_renal_jurisdiction": "EU"}) == "EU"
    with pytest.raises(
        InstrumentInputError,
        match=r"^lenalidomide: lenalidomide_renal_jurisdiction: got 'UK'; allowed: US or EU$",
    ):
        renal_jurisdiction_setting({"lenalidomide_renal_jurisdiction": "UK"})


@settings(derandomize=True, database=None, max_examples=200, deadline=None)
@given(
    st.floats(18, 139),
    st.floats(20, 250),
    st.sampled_from(["F", "M", "female", "male"]),
    st.floats(0.2, 15),
)
def test_crcl_properties(age: float, weight: float, sex: str, creatinine: float) -> None:
    crcl = cockcroft_gault(age, weight, sex, creatinine, "mg/dL").crcl_ml_min
    assert crcl > 0
    # Higher creatinine never raises the clearance; the female factor lowers it by 15 %.
    assert cockcroft_gault(age, weight, sex, creatinine * 1.1, "mg/dL").crcl_ml_min <= crcl
    male = cockcroft_gault(age, weight, "M", creatinine, "mg/dL").crcl_ml_min
    assert crcl == pytest.approx(0.85 * male if sex in ("F", "female") else male)
    # The CDISC code and the word are the same sex.
    word = {"F": "female", "M": "male"}.get(sex, sex)
    assert cockcroft_gault(age, weight, word, creatinine, "mg/dL").crcl_ml_min == crcl
