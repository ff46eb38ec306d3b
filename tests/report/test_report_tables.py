"""Every table of the demo report, read back cell by cell and compared with the store.

The expected rows come from the study database the demo wrote (records, derived scores and the
paired engine run on the endpoint table), never from the report's own data structures, so a
row the report drops, duplicates or mislabels fails here.
"""

from __future__ import annotations

import pytest
from tests.report._tables import STUDIES, Tables, summary
from tests.report._tables import table as _table

from clestudy.stats import paired_comparison
from clestudy.store import endpoint_table, open_store


@pytest.mark.parametrize("study", STUDIES)
def test_safety_listing_is_every_adverse_event_record(demo: tuple[str, Tables], study: str) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        records = store.records(form_id="ae")
    expected = [
        [
            r.subject_id,
            str(r.values["aeterm"]),
            str(r.values["aestdat"]),
            str(r.values["aeendat"])
            if r.values.get("aeendat")
            else "ongoing"
            if r.values["aeout"] not in ("RECOVERED/RESOLVED", "FATAL")
            else "not recorded",
            str(r.values["aetoxgr"]),
            "yes" if r.values["aeser"] else "no",
            str(r.values["aerel"]).lower(),
            str(r.values["aeout"]).lower(),
            str(r.values["aeacn"]).lower(),
        ]
        for r in records
    ]
    header, *rows = _table(tables, study, "Adverse events")
    assert header == ["Subject", "Reported term", "Start", "End", "CTCAE grade", "Serious",
                      "Relationship", "Outcome", "Action with drug"]  # fmt: skip
    assert records and rows == expected


def test_clasi_table_is_every_subject_and_visit(
    demo: tuple[str, Tables],
) -> None:
    url, tables = demo
    study = "lenalidomide-cle-open-label"
    with open_store(url, study) as store:
        visits = [v.id for v in store.protocol.visits]
        names = [v.name for v in store.protocol.visits]
        scores = {
            (r.subject_id, r.visit_id): r.derived["clasi"]["values"]
            for r in store.records(form_id="clasi")
        }
        subjects = [s.subject_id for s in store.subjects()]
    header, *rows = _table(tables, study, "Table 3. CLASI activity")
    assert header == ["Subject", *names, "Response"]
    assert [row[0] for row in rows] == subjects
    for row in rows:
        subject = row[0]
        for visit, cell in zip(visits, row[1:-1], strict=True):
            score = scores.get((subject, visit))
            if score is None:
                assert cell == "—", (subject, visit)
            else:
                shown = f"{score['clasi_activity']} ({score['clasi_activity_severity']})"
                assert cell == shown, (subject, visit)
        # the documented default rule: a fall of at least 4 points (Klein 2011)
        fall = scores[subject, "week_0"]["clasi_activity"]
        fall -= scores[subject, "week_12"]["clasi_activity"]
        assert row[-1] == ("responder" if fall >= 4 else "non-responder"), subject


@pytest.mark.parametrize("study", STUDIES)
def test_paired_table_rows_match_the_engine_on_the_stored_endpoints(
    demo: tuple[str, Tables], study: str
) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        plan = store.protocol.analysis_plan
        data = {a.endpoint: endpoint_table(store, [a.endpoint]) for a in plan}
    header, *rows = _table(tables, study, "Table 2. Prespecified paired comparisons")
    results = [row for row in rows if len(row) == len(header)]  # warning rows span the table
    assert len(results) == len(plan)
    for analysis, row in zip(plan, results, strict=True):
        cells = dict(zip(header, row, strict=True))
        engine = paired_comparison(
            data[analysis.endpoint], subject="subject", visit="visit",
            before=analysis.before_visit, after=analysis.after_visit,
            measures=[analysis.endpoint],
        ).iloc[0]  # fmt: skip
        assert cells["n pairs"] == str(engine["n_pairs"])
        assert (
            cells["Before, mean (SD)"] == f"{engine['mean_before']:.1f} ({engine['sd_before']:.1f})"
        )
        assert cells["After, mean (SD)"] == f"{engine['mean_after']:.1f} ({engine['sd_after']:.1f})"
        assert cells["Wilcoxon p, exact"] == f"{engine['p_wilcoxon_exact']:.4f}"
        assert cells["Sign test p"] == f"{engine['p_sign']:.4f}"
        assert cells["Paired t-test"].endswith(f"p = {engine['p_t']:.4f}")


@pytest.mark.parametrize("study", STUDIES)
def test_table_one_counts_match_the_demographics(demo: tuple[str, Tables], study: str) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        n = len(store.subjects())
        sexes = [str(r.values["sex"]) for r in store.records(form_id="dm")]
    header, *rows = _table(tables, study, "Table 1. Baseline characteristics")
    assert header == ["Characteristic", f"All subjects (n = {n})"]
    cells = dict((row[0], row[1]) for row in rows)
    assert cells["Subjects, n"] == str(n)
    for code, label in (("F", "Female"), ("M", "Male")):
        count = sexes.count(code)
        if count:
            assert cells[label] == f"{count} ({100 * count / n:.0f} %)"
        else:
            assert label not in cells


@pytest.mark.parametrize("study", STUDIES)
def test_table_one_continuous_rows_are_the_stored_baseline_values(
    demo: tuple[str, Tables], study: str
) -> None:
    url, tables = demo
    with open_store(url, study) as store:
        protocol = store.protocol
        n = len(store.subjects())
        records = store.records()
    first = protocol.visits[0].id
    ages = [float(str(r.values["age"])) for r in records if r.form_id == "dm"]
    weights = [float(str(r.values["weight"])) for r in records
               if r.form_id == "vs" and r.visit_id == first and r.values.get("weight")]  # fmt: skip
    _, *rows = _table(tables, study, "Table 1. Baseline characteristics")
    cells = dict((row[0], row[1]) for row in rows)
    assert cells["Age at drug start (years)"] == summary(ages, n - len(ages))
    assert cells["Weight (kg)"] == summary(weights, n - len(weights))
    for analysis in protocol.analysis_plan:  # each analysed endpoint at its baseline visit
        endpoint = protocol.endpoint(analysis.endpoint)
        assert endpoint is not None
        values = []
        for r in records:
            if r.form_id == endpoint.form and r.visit_id == analysis.before_visit:
                derived = {k: v for d in r.derived.values() for k, v in d["values"].items()}
                value = r.values.get(endpoint.item, derived.get(endpoint.item))
                if value not in (None, ""):
                    values.append(float(str(value)))
        visit = protocol.visit(analysis.before_visit)
        assert visit is not None
        label = f"{endpoint.label} at {visit.name}" + (f" ({endpoint.unit})" if endpoint.unit
                                                       else "")  # fmt: skip
        assert cells[label] == summary(values, n - len(values)), label
