"""The ``ctcaelabs`` derived score: one CTCAE grade per lab of a lab form, and the worst."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import InstrumentInputError, ctcae_lab_grade, derive
from clestudy.instruments._ctcae_labs import LAB_TESTCD_TERMS

_UNITS = {"wbc": "10^9/L", "neut": "10^9/L", "lym": "10^9/L", "plat": "10^9/L", "hgb": "g/dL"}
_UNITS |= {"creat": "mg/dL", "alt": "U/L", "ast": "U/L"}


def test_alt_above_range_is_graded_per_ctcae() -> None:
    # CTCAE v5.0 ALT increased, baseline normal: >5.0 - 20.0 x ULN is grade 3 (45 x 5 = 225 < 230).
    values = {"alt": 230, "alt_unit": "U/L", "alt_uln": 45, "alt_baseline": 30}
    result = derive("ctcaelabs", values).values
    assert result["alt_grade"] == 3
    assert result["worst_grade"] == 3


def test_a_lab_without_its_range_is_not_graded_never_zero() -> None:
    result = derive("ctcaelabs", {"alt": 230, "alt_unit": "U/L", "wbc": 6.0, "wbc_unit": "10^9/L"})
    assert result.values["alt_grade"] is None
    assert result.values["wbc_grade"] is None
    assert result.values["worst_grade"] is None


def test_the_abnormal_baseline_setting_applies() -> None:
    # ALT 150 with ULN 40 and abnormal baseline 100: baseline arm 1.5 x baseline is grade 1;
    # the ULN arm (3.75 x ULN) is grade 2, taken only under "worse-of-both".
    values = {"alt": 150, "alt_unit": "U/L", "alt_uln": 40, "alt_baseline": 100}
    assert derive("ctcaelabs", values).values["alt_grade"] == 1
    worse = derive("ctcaelabs", values, {"ctcae_abnormal_baseline_arm": "worse-of-both"})
    assert worse.values["alt_grade"] == 2


def test_a_unit_of_the_wrong_family_is_refused() -> None:
    with pytest.raises(InstrumentInputError, match=r"^alt_unit: got 'g/dL'; allowed: U/L"):
        derive("ctcaelabs", {"alt": 50, "alt_unit": "g/dL"})


_LIMIT = st.floats(0.1, 500, allow_subnormal=False)


@settings(derandomize=True, database=None, max_examples=80, deadline=None)
@given(data=st.data())
def test_property_each_grade_is_ctcae_lab_grade_and_worst_is_their_max(
    data: st.DataObject,
) -> None:
    values: dict[str, object] = {}
    for code in LAB_TESTCD_TERMS:
        if data.draw(st.booleans(), label=f"give {code}"):
            values[code] = data.draw(st.floats(0, 1000, allow_subnormal=False), label=code)
            values[f"{code}_unit"] = _UNITS[code]
            for limit in ("lln", "uln", "baseline"):
                values[f"{code}_{limit}"] = data.draw(st.none() | _LIMIT, label=limit)
    result = derive("ctcaelabs", values).values
    graded = []
    for code, (term, _) in LAB_TESTCD_TERMS.items():
        if code not in values:
            assert result[f"{code}_grade"] is None
            continue
        limits = {k: values[f"{code}_{k}"] for k in ("lln", "uln", "baseline")}
        expected = ctcae_lab_grade(term, values[code], _UNITS[code], **limits)  # type: ignore[arg-type]
        assert result[f"{code}_grade"] == expected.grade
        if expected.grade is not None:
            graded.append(expected.grade)
    assert result["worst_grade"] == (max(graded) if graded else None)
