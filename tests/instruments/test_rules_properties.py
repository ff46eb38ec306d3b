"""Hypothesis properties of LLDAS, DORIS, the pregnancy-test check and the thalidomide check.

Fixed seed, no retries. Each property is a consequence of the definition stated in its test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.instruments import (
    SLEDAI2K_DESCRIPTORS,
    doris_remission,
    lldas,
    pregnancy_test_check,
    thalidomide_neuropathy_check,
)

_FIXED = settings(derandomize=True, database=None, max_examples=200, deadline=None)
pga = st.sampled_from([0, 0.2, 0.4, 0.5, 0.9, 1.0, 1.1, 2.0, 3.0])
prednisolone = st.sampled_from([0, 2.5, 4.9, 5, 5.1, 7.5, 7.6, 10, 20])


@_FIXED
@given(
    st.lists(st.sampled_from(list(SLEDAI2K_DESCRIPTORS)), max_size=4, unique=True),
    pga,
    prednisolone,
    st.booleans(),
)
def test_lldas_met_is_the_conjunction_and_steroids_only_hurt(
    present: list[str], pga_value: float, pred: float, tolerated: bool
) -> None:
    kwargs: dict[str, Any] = {
        "hemolytic_anemia": False,
        "gastrointestinal_activity": False,
        "new_activity_since_previous": False,
        "maintenance_well_tolerated": tolerated,
        "investigational_drug": False,
    }
    result = lldas(present, pga=pga_value, prednisolone_mg_day=pred, **kwargs)
    assert result.met == all(result.criteria.values())
    # More prednisolone never turns "not met" into "met".
    more = lldas(present, pga=pga_value, prednisolone_mg_day=pred + 1, **kwargs)
    assert not (more.met and not result.met)
    if sum(SLEDAI2K_DESCRIPTORS[p] for p in present) > 4:
        assert result.met is False


@_FIXED
@given(st.integers(0, 101), pga, prednisolone, st.booleans(), st.sampled_from(["<=5", "<5"]))
def test_doris_met_is_the_conjunction(
    clinical: int, pga_value: float, pred: float, stable: bool, rule: str
) -> None:
    result = doris_remission(
        clinical, pga_value, pred, immunosuppressives_stable=stable, prednisolone_rule=rule
    )
    assert result.met == all(result.criteria.values())
    # "<5" is never easier than "<=5".
    if rule == "<5" and result.met:
        assert doris_remission(clinical, pga_value, pred, immunosuppressives_stable=stable).met


START = dt.date(2026, 3, 1)


@_FIXED
@given(st.integers(0, 200), st.booleans())
def test_testing_every_day_never_misses_a_pregnancy_test(length: int, regular: bool) -> None:
    as_of = START + dt.timedelta(days=length)
    daily = [START + dt.timedelta(days=d) for d in range(-14, length + 1)]
    check = pregnancy_test_check(START, daily, as_of, regular_cycles=regular)
    assert check.problems == ()
    assert all(c.status in ("done", "not yet due") for c in check.checks)


@_FIXED
@given(st.integers(0, 200), st.lists(st.integers(-20, 200), max_size=12))
def test_adding_a_test_never_adds_a_problem(length: int, offsets: list[int]) -> None:
    as_of = START + dt.timedelta(days=length)
    tests = [START + dt.timedelta(days=d) for d in offsets]
    before = pregnancy_test_check(START, tests, as_of)
    after = pregnancy_test_check(START, [*tests, as_of], as_of)
    missing_before = {c.label for c in before.problems if c.status == "missing"}
    missing_after = {c.label for c in after.problems if c.status == "missing"}
    assert missing_after <= missing_before


@_FIXED
@given(
    st.floats(0.1, 50),
    st.floats(0, 60, allow_subnormal=False),
    st.floats(0, 60, allow_subnormal=False),
    st.sampled_from(["zara-2008", "briani-2006"]),
)
def test_lower_snap_never_softens_the_action(
    baseline: float, a: float, b: float, rule: str
) -> None:
    order = {"continue": 0, "reduce dose": 1, "stop": 2}
    low, high = sorted((a, b))
    worse = thalidomide_neuropathy_check(baseline, low, 1, rule=rule)
    better = thalidomide_neuropathy_check(baseline, high, 1, rule=rule)
    assert order[worse.action] >= order[better.action]
