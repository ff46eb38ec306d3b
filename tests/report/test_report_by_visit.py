"""Outcomes by visit: every endpoint at every visit it was measured at, checked against the
stored records; visits outside the analysis plan are described, never tested."""

from __future__ import annotations

import statistics

import pytest
from tests.report._tables import STUDIES, Tables, table

from clestudy.store import open_store


def _mean_sd(values: list[float]) -> str:
    sd = f"{statistics.stdev(values):.1f}" if len(values) > 1 else "—"
    return f"{statistics.fmean(values):.1f} ({sd})"


def _median_iqr(values: list[float]) -> str:
    if len(values) == 1:
        q1 = median = q3 = values[0]
    else:  # linear interpolation between order statistics (R type 7)
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{median:.1f} [{q1:.1f}, {q3:.1f}]"


@pytest.mark.parametrize("study", STUDIES)
def test_every_endpoint_at_every_measured_visit_matches_the_store(
    demo: tuple[str, Tables], study: str
) -> None:
    url, tables = demo
    expected = []
    with open_store(url, study) as store:
        protocol = store.protocol
        records = store.records()
    for endpoint in protocol.endpoints:
        values: dict[str, dict[str, float]] = {}
        for r in records:
            if r.form_id != endpoint.form or r.status == "incomplete":
                continue
            derived = {k: v for d in r.derived.values() for k, v in d["values"].items()}
            value = r.values.get(endpoint.item, derived.get(endpoint.item))
            if value not in (None, ""):
                values.setdefault(r.visit_id, {})[r.subject_id] = float(str(value))
        plan = [a for a in protocol.analysis_plan if a.endpoint == endpoint.id]
        measured = [v for v in protocol.visits if v.id in values]
        baseline = plan[0].before_visit if plan else measured[0].id
        label = f"{endpoint.label} ({endpoint.unit})" if endpoint.unit else endpoint.label
        if endpoint.role == "primary":
            label += " (primary)"
        for visit in measured:
            shown = list(values[visit.id].values())
            row = [label, visit.name, str(len(shown)), _mean_sd(shown), _median_iqr(shown)]
            if visit.id == baseline:
                row += ["baseline", ""]
            else:
                change = [x - values[baseline][s] for s, x in values[visit.id].items()
                          if s in values.get(baseline, {})]  # fmt: skip
                row.append(f"{_mean_sd(change)}; n = {len(change)}" if change else "—")
                if any(a.after_visit == visit.id for a in plan):
                    assert plan[0].before_visit == baseline
                    row.append("(Table 2)")
                else:
                    row.append("descriptive only (not in the analysis plan)")
            expected.append(row)
    header, *rows = table(tables, study, "Outcomes by visit")
    assert header[:3] == ["Endpoint", "Visit", "n"]
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        assert row[:-1] == want[:-1]
        if want[-1] == "(Table 2)":  # the plan's decision, the same as Table 2's
            assert row[-1].endswith("(Table 2)") and "significant, p = " in row[-1]
        else:
            assert row[-1] == want[-1]


def test_visits_and_endpoints_outside_the_plan_are_shown(demo: tuple[str, Tables]) -> None:
    _, tables = demo
    _, *rows = table(tables, STUDIES[0], "Outcomes by visit")
    # week 6, 24 and 52 are no visit of the analysis plan (week 0 -> week 12), and the interferon
    # score is an exploratory endpoint the plan does not analyse
    shown = {(r[0], r[1]) for r in rows}
    for visit in ("Week 6", "Week 24", "Week 52"):
        assert any(v.startswith(visit) for e, v in shown if e.startswith("CLASI activity")), visit
    ifn = [r for r in rows if r[0].startswith("Interferon score")]
    assert len(ifn) >= 2 and ifn[0][-2] == "baseline"
    assert all(r[-1] == "descriptive only (not in the analysis plan)" for r in ifn[1:])
