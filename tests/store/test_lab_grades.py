"""Labs CTCAE-graded on save: ranges from the protocol, sex and age from demographics, baseline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clestudy.store import Store, verify_audit

OpenStudy = Callable[..., Store]
OPEN_LABEL = "lenalidomide-cle-open-label"


def _subject(open_study: OpenStudy, url: str, sex: str = "F") -> Store:
    store = open_study(url, OPEN_LABEL)
    store.add_subject("L01", arm="lenalidomide", site="site01", actor="coordinator")
    store.save_record(
        "L01", "week_0", "dm", {"brthdat": "1980-05-01", "sex": sex, "age": 45}, actor="c"
    )
    return store


def _labs(store: Store, visit: str, date: str, **values: Any) -> dict[str, Any]:
    state = store.save_record("L01", visit, "labs", {"lbdat": date, **values}, actor="c")
    grades: dict[str, Any] = state.derived["ctcae_labs"]["values"]
    return grades


def test_week_12_labs_are_graded_against_the_protocol_ranges_and_baseline(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _subject(open_study, db_url)
    base = _labs(store, "week_0", "2025-01-06", alt=30, hgb=13.0, plat=250, neut=3.0)
    # baseline: every value within the MCC ranges of the protocol (ALT 17-63, female Hgb 12.3-)
    assert (base["alt_grade"], base["hgb_grade"], base["plat_grade"]) == (0, 0, 0)
    week12 = _labs(store, "week_12", "2025-03-31", alt=200, hgb=9.5, plat=60, neut=1.2)
    # ALT 200 U/L > 3.0 x ULN 63 (189): grade 2; Hgb 9.5 < 10.0 g/dL: grade 2;
    # platelets 60 < 75: grade 2; neutrophils 1.2 < 1.5: grade 2.
    assert (week12["alt_grade"], week12["hgb_grade"]) == (2, 2)
    assert (week12["plat_grade"], week12["neut_grade"], week12["worst_grade"]) == (2, 2, 2)
    # creatinine has no range in the protocol and was not entered: not graded, never 0
    assert week12["creat_grade"] is None and week12["wbc_grade"] is None
    listed = {(r.visit_id, r.form_id): r for r in store.records(form_id="labs")}
    assert listed[("week_12", "labs")].derived["ctcae_labs"]["values"] == week12
    assert verify_audit(db_url).ok


def test_an_abnormal_baseline_uses_the_baseline_arm(open_study: OpenStudy, db_url: str) -> None:
    store = _subject(open_study, db_url)
    _labs(store, "week_0", "2025-01-06", ast=80)
    # AST 80 > ULN 40 at baseline: week 12's 130 is 1.6 x baseline, grade 1 under the default
    # "baseline-only" arm (3.25 x ULN would be grade 2 against the ULN).
    assert _labs(store, "week_12", "2025-03-31", ast=130)["ast_grade"] == 1


def test_a_male_subject_gets_the_male_haemoglobin_range(open_study: OpenStudy, db_url: str) -> None:
    store = _subject(open_study, db_url, sex="M")
    # Hgb 12.8 g/dL is below the male LLN 13.0 (grade 1) but within the female range.
    assert _labs(store, "week_0", "2025-01-06", hgb=12.8)["hgb_grade"] == 1
