"""SRI-4, LLDAS and DORIS 2021: each criterion at its boundary.

Provenance: reference/instruments.md 2.4 (Furie 2009, Arthritis Rheum 61:1143), 2.5 (Franklyn 2016,
Ann Rheum Dis 75:1615, Table 1; Golder 2016 dose ceilings) and 2.6 (van Vollenhoven 2021, Lupus Sci
Med 8:e000538). SLEDAI-2K totals in comments are hand sums of the Gladman 2002 weights.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    BILAG_DOMAINS,
    BILAG_GRADES,
    InstrumentInputError,
    doris_remission,
    lldas,
    sri_response,
)

ALL_D = dict.fromkeys(BILAG_DOMAINS, "D")


def bilag(**grades: str) -> dict[str, str]:
    return {**ALL_D, **grades}


# --- SRI-4 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("followup", "met"), [(6, True), (7, False)])
def test_sri_sledai_reduction_boundary(followup: int, met: bool) -> None:
    # 10 -> 6 is a 4-point reduction (met); 10 -> 7 is 3.
    result = sri_response(10, followup, ALL_D, ALL_D, 1.0, 1.0)
    assert (result.met, result.criteria["sledai_reduction"]) == (met, met)


def test_sri_new_bilag_a_and_b() -> None:
    # New A: renal D -> A. One new B (mucocutaneous C -> B) is allowed; two are not.
    new_a = sri_response(10, 4, ALL_D, bilag(renal="A"), 1.0, 1.0)
    assert new_a.criteria["no_new_bilag_a_or_2_b"] is False
    assert "new BILAG A: renal" in new_a.notes
    one_b = sri_response(10, 4, bilag(mucocutaneous="C"), bilag(mucocutaneous="B"), 1.0, 1.0)
    assert one_b.met is True
    two_b = sri_response(10, 4, ALL_D, bilag(mucocutaneous="B", musculoskeletal="B"), 1.0, 1.0)
    assert two_b.criteria["no_new_bilag_a_or_2_b"] is False
    # A -> A and A -> B are not new.
    kept = sri_response(
        10, 4, bilag(renal="A", haematological="A"), bilag(renal="A", haematological="B"), 1, 1
    )
    assert kept.criteria["no_new_bilag_a_or_2_b"] is True


@pytest.mark.parametrize(("pga", "met"), [(1.29, True), (1.3, False)])
def test_sri_pga_worsening_boundary(pga: float, met: bool) -> None:
    # 1.0 -> 1.3 is a worsening of 0.3 (fails); 1.29 is 0.29 (passes). Exact decimals.
    assert sri_response(10, 4, ALL_D, ALL_D, 1.0, pga).criteria["no_pga_worsening"] is met


def test_sri_treatment_failure_and_sri_5() -> None:
    assert sri_response(10, 4, ALL_D, ALL_D, 1, 1, treatment_failure=True).met is False
    sri5 = sri_response(10, 6, ALL_D, ALL_D, 1, 1, sledai_reduction=5)
    assert (sri5.instrument, sri5.met) == ("sri5", False)


def test_sri_bad_grades() -> None:
    with pytest.raises(
        InstrumentInputError, match=r"^sri4: bilag_followup\.renal: missing; every BILAG-2004"
    ):
        sri_response(10, 4, ALL_D, {d: "D" for d in BILAG_DOMAINS if d != "renal"}, 1, 1)
    with pytest.raises(
        InstrumentInputError,
        match=r"^sri4: bilag_baseline\.renal: got 'F'; allowed: A, B, C, D or E$",
    ):
        sri_response(10, 4, bilag(renal="F"), ALL_D, 1, 1)
    with pytest.raises(
        InstrumentInputError, match=r"^sri4: bilag_baseline\.skin: unknown BILAG-2004 domain"
    ):
        sri_response(10, 4, {**ALL_D, "skin": "A"}, ALL_D, 1, 1)


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    st.integers(0, 105),
    st.integers(0, 105),
    st.fixed_dictionaries({d: st.sampled_from(BILAG_GRADES) for d in BILAG_DOMAINS}),
    st.fixed_dictionaries({d: st.sampled_from(BILAG_GRADES) for d in BILAG_DOMAINS}),
)
def test_sri_met_is_the_conjunction(
    s0: int, s1: int, b0: dict[str, str], b1: dict[str, str]
) -> None:
    result = sri_response(s0, s1, b0, b1, 1.0, 1.0)
    assert result.met == all(result.criteria.values())
    if s0 - s1 < 4:
        assert result.met is False


# --- LLDAS ------------------------------------------------------------------------------------


def lldas_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "sledai2k_present": ["rash", "low_complement"],  # 2 + 2 = 4
        "hemolytic_anemia": False,
        "gastrointestinal_activity": False,
        "new_activity_since_previous": False,
        "pga": 1.0,
        "prednisolone_mg_day": 7.5,
        "maintenance_well_tolerated": True,
        "investigational_drug": False,
    }
    args.update(overrides)
    return args


def test_lldas_met_at_every_boundary() -> None:
    # SLEDAI-2K 4, PGA 1.0, prednisolone 7.5: all at the limit, all included.
    assert lldas(**lldas_args()).met is True


@pytest.mark.parametrize(
    ("overrides", "criterion"),
    [
        (
            {"sledai2k_present": ["rash", "low_complement", "leukopenia"]},
            "sledai_le_4_no_major_organ",
        ),  # 5
        ({"sledai2k_present": ["fever"]}, "sledai_le_4_no_major_organ"),  # 1, but fever
        ({"sledai2k_present": ["pleurisy"]}, "sledai_le_4_no_major_organ"),
        ({"hemolytic_anemia": True}, "sledai_le_4_no_major_organ"),
        ({"gastrointestinal_activity": True}, "sledai_le_4_no_major_organ"),
        ({"new_activity_since_previous": True}, "no_new_activity"),
        ({"previous_sledai2k_present": ["low_complement"]}, "no_new_activity"),  # rash is new
        ({"pga": 1.1}, "pga_le_1"),
        ({"prednisolone_mg_day": 7.6}, "prednisolone_le_7_5"),
        ({"investigational_drug": True}, "standard_maintenance"),
        ({"maintenance_well_tolerated": False}, "standard_maintenance"),
        ({"maintenance_doses_mg": {"methotrexate": 30.5}}, "standard_maintenance"),
    ],
)
def test_lldas_each_criterion_fails_alone(overrides: dict[str, Any], criterion: str) -> None:
    result = lldas(**lldas_args(**overrides))
    assert result.met is False
    assert [name for name, ok in result.criteria.items() if not ok] == [criterion]


def test_lldas_ceilings_and_errors() -> None:
    doses = {
        "hydroxychloroquine": 400,
        "methotrexate": 30,
        "azathioprine": 200,
        "mycophenolate_mofetil": 3000,
    }
    assert lldas(**lldas_args(maintenance_doses_mg=doses)).met is True
    with pytest.raises(
        InstrumentInputError, match=r"^lldas: maintenance_doses_mg\.belimumab: unknown drug"
    ):
        lldas(**lldas_args(maintenance_doses_mg={"belimumab": 200}))
    with pytest.raises(
        InstrumentInputError, match=r"^lldas: sledai2k_present: got 'nephritis'; allowed: "
    ):
        lldas(**lldas_args(sledai2k_present=["nephritis"]))


# --- DORIS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clinical", "pga", "pred", "rule", "met"),
    [
        (0, 0.49, 5, "<=5", True),  # 5 mg/day allowed by "5 mg/day or less"
        (0, 0.49, 5, "<5", False),  # not by "< 5 mg/day"
        (0, 0.49, 4.9, "<5", True),
        (0, 0.5, 0, "<=5", False),  # PGA must be < 0.5
        (2, 0.0, 0, "<=5", False),  # clinical SLEDAI must be 0 (serology already excluded)
    ],
)
def test_doris_boundaries(clinical: int, pga: float, pred: float, rule: str, met: bool) -> None:
    result = doris_remission(
        clinical, pga, pred, immunosuppressives_stable=True, prednisolone_rule=rule
    )
    assert result.met is met


def test_doris_unstable_immunosuppression_and_errors() -> None:
    result = doris_remission(0, 0, 0, immunosuppressives_stable=False)
    assert (result.met, result.criteria["immunosuppressives_stable"]) == (False, False)
    with pytest.raises(
        InstrumentInputError, match=r"^doris: prednisolone_rule: got '<=7.5'; allowed: <=5 or <5$"
    ):
        doris_remission(0, 0, 0, immunosuppressives_stable=True, prednisolone_rule="<=7.5")
    with pytest.raises(
        InstrumentInputError, match=r"^doris: clinical_sledai: got 102; allowed: an integer 0-101$"
    ):
        doris_remission(102, 0, 0, immunosuppressives_stable=True)
