"""Gather one study's report section: Table 1, disposition, outcomes, responders and their
immune profile, safety, systemic flare, figures and open discrepancies.

Which form holds what comes from the protocol's CDASH tags (:mod:`clestudy.report._roles`), so a
protocol with other form and field names gets the same report; a part the protocol lacks is left
out with a note, never shown as an empty table. Incomplete records are missing here
(:func:`clestudy.store.tidy_table`). Statistics come from :mod:`clestudy.stats` and scores from
:mod:`clestudy.instruments`; this module only selects, joins and formats.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clestudy.instruments import clasi_response, clasi_response_rule_setting
from clestudy.protocol import AnalysisSpec, FieldSpec, FormSpec, Protocol
from clestudy.report._data import StudyData, load_study
from clestudy.report._figures import (
    AGGREGATE_LIMIT,
    Lane,
    MarkerPanel,
    biomarker_svg,
    heatmap_svg,
    spaghetti_svg,
    swimmer_svg,
    waterfall_svg,
)
from clestudy.report._format import fmt_num, fmt_p, fmt_pct
from clestudy.report._roles import FormRole
from clestudy.report._safety import SafetyTables, build_safety
from clestudy.stats import paired_comparison, responder_comparison, table_one
from clestudy.store import RecordState, Store

__all__ = ["StudySection", "build_study_section"]


@dataclass
class StudySection:
    """Everything the report shows for one study, formatted for display."""

    study_id: str
    title: str
    description: str
    protocol_version: str
    n_subjects: int
    table_one: list[dict[str, str]]
    outcomes: list[dict[str, Any]]
    outcome_frame: pd.DataFrame
    figures: list[tuple[str, str]] = field(default_factory=list)
    responders: list[dict[str, str]] = field(default_factory=list)
    responder_rule: str | None = None
    safety: list[dict[str, str]] = field(default_factory=list)
    safety_tables: SafetyTables = field(default_factory=SafetyTables)
    disposition: list[dict[str, str]] = field(default_factory=list)
    biomarkers: list[dict[str, str]] = field(default_factory=list)
    biomarker_visits: str = ""
    biomarker_methods: list[str] = field(default_factory=list)
    flare: list[dict[str, str]] = field(default_factory=list)
    biomarker_panels: list[MarkerPanel] = field(default_factory=list)
    by_visit: list[dict[str, str]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    discrepancies: list[dict[str, str]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)


def _baseline_visit(protocol: Protocol, form_id: str) -> str | None:
    return next((v.id for v in protocol.visits if form_id in v.forms), None)


def _label(spec: FieldSpec) -> str:
    return f"{spec.label} ({spec.unit})" if spec.unit else spec.label


#: Table 1 groups: (heading, role attribute, which field types, the CDASH variables to leave out)
_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Demographics and disease history", "demographics", ("integer", "decimal", "single_choice")),
    ("Vital signs", "vitals", ("integer", "decimal")),
    ("Study drug at start", "exposure", ("integer", "decimal", "single_choice")),
    ("Prior and concomitant therapy", "conmeds", ("integer", "decimal")),
    ("Baseline laboratory values", "labs", ("integer", "decimal")),
)


def _subject_frame(data: StudyData) -> tuple[pd.DataFrame, list[tuple[str, str, FieldSpec]]]:
    """One row per subject: each Table 1 variable at the visit its form is first collected.

    Returns the frame and (group, column, spec) per variable, in display order.
    """
    protocol = data.protocol
    columns: dict[str, pd.Series] = {}
    specs: list[tuple[str, str, FieldSpec]] = []
    subjects = pd.Series(data.subjects, dtype=object)
    for heading, attribute, types in _GROUPS:
        found = getattr(data.roles, attribute)
        roles = (found,) if isinstance(found, FormRole) else tuple(found or ())
        for role in roles:
            visit = _baseline_visit(protocol, role.id)
            if visit is None:
                continue
            for spec in role.form.fields:
                if spec.type not in types:
                    continue
                column = f"{role.id}__{spec.id}"
                columns[column] = subjects.map(data.by_subject(role.id, spec.id, visit))
                specs.append((heading, column, spec))
    for analysis in protocol.analysis_plan:
        endpoint = protocol.endpoint(analysis.endpoint)
        column = f"endpoint__{analysis.endpoint}"
        if endpoint is None or column in columns:
            continue
        wide = data.endpoint_wide([endpoint.id], [analysis.before_visit])
        columns[column] = subjects.map(
            wide.drop_duplicates("subject").set_index("subject")[endpoint.id]
        )
        before = protocol.visit(analysis.before_visit)
        spec = FieldSpec(
            id=endpoint.id,
            label=f"{endpoint.label} at {before.name if before else analysis.before_visit}",
            type="decimal",
            unit=endpoint.unit,
        )
        specs.append(("Disease activity at baseline", column, spec))
    for column, (values, spec) in _disease_history(data).items():
        columns[column] = subjects.map(values)
        specs.append((_GROUPS[0][0], column, spec))
    frame = pd.DataFrame({"subject": subjects, **columns})
    order = [g for g, _, _ in _GROUPS[:1]] + ["Disease activity at baseline"]
    order += [g for g, _, _ in _GROUPS[1:]]
    specs.sort(key=lambda item: order.index(item[0]))
    return frame, specs


#: Days per year for ages and durations computed from dates (the Julian year).
DAYS_PER_YEAR = 365.25


def _dates(data: StudyData, role: FormRole | None, variable: str) -> dict[str, dt.date]:
    """Each subject's earliest date in the field holding CDASH ``variable`` of ``role``'s form."""
    field_id = role.field_id(variable) if role is not None else None
    if role is None or field_id is None:
        return {}
    out: dict[str, dt.date] = {}
    for record in data.form_records(role.id):
        try:
            when = dt.date.fromisoformat(str(record.values.get(field_id) or ""))
        except ValueError:
            continue
        if record.subject_id not in out or when < out[record.subject_id]:
            out[record.subject_id] = when
    return out


def _disease_history(data: StudyData) -> dict[str, tuple[dict[str, float], FieldSpec]]:
    """Age at diagnosis and disease duration per subject, from the dates of birth (DM
    ``BRTHDAT``), diagnosis (MH ``MHSTDAT``, :mod:`clestudy.report._roles`) and first dose
    (EX ``EXSTDAT``, the earliest of the subject's exposure records), in years of 365.25 days.
    Empty when the protocol collects no diagnosis date."""
    roles = data.roles
    if roles.diagnosis is None:
        return {}
    diagnosis = _dates(data, roles.diagnosis, "MHSTDAT")
    birth = _dates(data, roles.demographics, "BRTHDAT")
    start: dict[str, dt.date] = {}
    for role in roles.exposure:
        for subject, when in _dates(data, role, "EXSTDAT").items():
            start[subject] = min(when, start.get(subject, when))

    def years(since: dict[str, dt.date], until: dict[str, dt.date]) -> dict[str, float]:
        return {s: (until[s] - d).days / DAYS_PER_YEAR for s, d in since.items() if s in until}

    out = {}
    if birth:
        out["derived__age_at_diagnosis"] = (
            years(birth, diagnosis),
            FieldSpec(id="age_at_diagnosis", label="Age at diagnosis", type="decimal",
                      unit="years"),
        )  # fmt: skip
    if roles.exposure:
        out["derived__disease_duration"] = (
            years(diagnosis, start),
            FieldSpec(id="disease_duration", label="Disease duration at the first dose",
                      type="decimal", unit="years"),
        )  # fmt: skip
    return out


def _table_one_rows(data: StudyData) -> list[dict[str, str]]:
    frame, specs = _subject_frame(data)
    continuous = [c for _, c, s in specs if s.type in ("integer", "decimal")]
    for column in continuous:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    categorical = {
        c: [ch.code for ch in s.choices] for _, c, s in specs if s.type == "single_choice"
    }
    summary = table_one(frame, continuous=continuous, categorical=categorical)
    by_variable = {str(v): part for v, part in summary.groupby("variable", sort=False)}
    rows: list[dict[str, str]] = [{"label": "Subjects, n", "value": str(len(frame)), "indent": ""}]
    heading = ""
    for group, column, spec in specs:
        part = by_variable.get(column)
        if part is None:
            continue
        shown: list[dict[str, str]] = []
        if spec.type == "single_choice":
            labels = {c.code: c.label for c in spec.choices}
            present = part[part["count"] > 0]
            if present.empty:
                continue
            shown.append({"label": _label(spec) + ", n (%)", "value": "", "indent": ""})
            for _, r in present.iterrows():
                shown.append(
                    {
                        "label": labels[str(r["level"])],
                        "value": f"{int(r['count'])} ({fmt_num(r['percent'], 0)} %)",
                        "indent": "indent",
                    }
                )
        else:
            r = part.iloc[0]
            if r["n"] == 0:
                continue
            missing = f"; missing {int(r['n_missing'])}" if r["n_missing"] else ""
            shown.append(
                {
                    "label": _label(spec),
                    "value": f"{fmt_num(r['mean'])} ({fmt_num(r['sd'])}); median "
                    f"{fmt_num(r['median'])} [{fmt_num(r['q1'])}, {fmt_num(r['q3'])}]{missing}",
                    "indent": "",
                }
            )
        if group != heading:
            rows.append({"label": group, "value": "", "indent": "group"})
            heading = group
        rows += shown
    if data.roles.diagnosis is None:  # say so in the table, not by leaving the rows out
        absent = [{"label": f"{label} (years)", "value": "not collected", "indent": ""}
                   for label in ("Age at diagnosis", "Disease duration at the first dose")]  # fmt: skip
        first = _GROUPS[0][0]
        if not any(r["label"] == first and r["indent"] == "group" for r in rows):
            absent.insert(0, {"label": first, "value": "", "indent": "group"})
            rows[1:1] = absent
        else:
            start = next(i for i, r in enumerate(rows) if r["label"] == first)
            end = next((i for i in range(start + 1, len(rows)) if rows[i]["indent"] == "group"),
                       len(rows))  # fmt: skip
            rows[end:end] = absent
    return rows


def _outcomes(data: StudyData) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Results of the analysis plan, and display rows for analyses the data cannot support yet."""
    frames = []
    not_analysable = []
    protocol = data.protocol
    visits = {v.id: v.name for v in protocol.visits}
    for analysis in protocol.analysis_plan:
        wide = data.endpoint_wide([analysis.endpoint])
        if not {analysis.before_visit, analysis.after_visit} <= set(wide["visit"]):
            endpoint = protocol.endpoint(analysis.endpoint)
            assert endpoint is not None
            row: dict[str, Any] = dict.fromkeys(_DISPLAY_KEYS, "—")
            row |= {
                "endpoint": endpoint.label + (f" ({endpoint.unit})" if endpoint.unit else ""),
                "role": endpoint.role,
                "visits": f"{visits[analysis.before_visit]} → {visits[analysis.after_visit]}",
                "n": 0,
                "rule": analysis.rule,
                "decided_by": "",
                "significant": "no",
                "warnings": ["not analysable yet: no values at one or both visits"],
                "methods": [],
            }
            not_analysable.append(row)
            continue
        result = paired_comparison(
            wide,
            subject="subject",
            visit="visit",
            before=analysis.before_visit,
            after=analysis.after_visit,
            measures=[analysis.endpoint],
            alpha=analysis.alpha,
            rule=analysis.rule,
            source=f"study {protocol.id}",
        )
        frames.append(result)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), not_analysable


_DISPLAY_KEYS = (
    "before", "after", "difference", "t", "p_t", "p_exact", "p_asymptotic", "p_sign", "hl",
    "dz", "min_p",
)  # fmt: skip


def _by_visit(data: StudyData, outcomes: pd.DataFrame) -> list[dict[str, str]]:
    """Every endpoint of the protocol at every visit it was measured at: n, mean (SD), median
    [Q1, Q3] and the change from its baseline, with the analysis plan's test where the plan
    compares that visit with the baseline (Table 2); other visits are descriptive only.

    The baseline is the plan's ``before_visit`` of the endpoint's first analysis, or the first
    visit with a value for an endpoint the plan does not analyse (e.g. an exploratory one).
    """
    protocol = data.protocol
    order = {v.id: i for i, v in enumerate(protocol.visits)}
    names = {v.id: v.name for v in protocol.visits}
    tested = {
        (str(r["measure"]), str(r["before_visit"]), str(r["after_visit"])): r
        for _, r in outcomes.iterrows()
    }
    rows: list[dict[str, str]] = []
    for endpoint in protocol.endpoints:
        wide = data.endpoint_wide([endpoint.id]).dropna(subset=[endpoint.id])
        wide = wide.drop_duplicates(["subject", "visit"])
        if wide.empty:
            continue
        values = wide.pivot(index="subject", columns="visit", values=endpoint.id)
        visits = sorted(values.columns, key=lambda v: order.get(str(v), len(order)))
        plan = [a for a in protocol.analysis_plan if a.endpoint == endpoint.id]
        baseline = plan[0].before_visit if plan else str(visits[0])
        unit = f" ({endpoint.unit})" if endpoint.unit else ""
        for visit in visits:
            shown = values[visit].dropna().astype(float)
            row = {
                "endpoint": endpoint.label + unit,
                "role": endpoint.role,
                "visit": names.get(str(visit), str(visit)),
                "n": str(len(shown)),
                "mean": f"{fmt_num(shown.mean())} ({fmt_num(shown.std())})",
                "median": f"{fmt_num(shown.median())} [{fmt_num(shown.quantile(0.25))}, "
                f"{fmt_num(shown.quantile(0.75))}]",
                "change": "baseline" if visit == baseline else "—",
                "test": "",
            }
            if visit != baseline and baseline in values.columns:
                change = (values[visit] - values[baseline]).dropna().astype(float)
                if len(change):
                    row["change"] = (
                        f"{fmt_num(change.mean())} ({fmt_num(change.std())}); n = {len(change)}"
                    )
                result = tested.get((endpoint.id, baseline, str(visit)))
                row["test"] = (
                    f"{'significant' if bool(result['significant']) else 'not significant'}, "
                    f"p = {fmt_p(result.get('p_decisive'))} (Table 2)"
                    if result is not None
                    else "descriptive only (not in the analysis plan)"
                )
            rows.append(row)
    return rows


def _outcome_rows(protocol: Protocol, outcomes: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    visits = {v.id: v.name for v in protocol.visits}
    for _, r in outcomes.iterrows():
        endpoint = protocol.endpoint(str(r["measure"]))
        assert endpoint is not None
        rows.append(
            {
                "endpoint": endpoint.label + (f" ({endpoint.unit})" if endpoint.unit else ""),
                "role": endpoint.role,
                "visits": f"{visits[r['before_visit']]} → {visits[r['after_visit']]}",
                "n": int(r["n_pairs"]),
                "before": f"{fmt_num(r['mean_before'])} ({fmt_num(r['sd_before'])})",
                "after": f"{fmt_num(r['mean_after'])} ({fmt_num(r['sd_after'])})",
                "difference": fmt_num(r["mean_difference"]),
                "t": f"t({int(r['t_df'])}) = {fmt_num(r['t_statistic'], 2)}"
                if pd.notna(r["t_statistic"])
                else "—",
                "p_t": fmt_p(r["p_t"]),
                "p_exact": fmt_p(r["p_wilcoxon_exact"]),
                "p_asymptotic": fmt_p(r["p_wilcoxon_asymptotic"]),
                "p_sign": fmt_p(r["p_sign"]),
                "hl": f"{fmt_num(r['hodges_lehmann'])} ({fmt_num(r['hl_ci_low'])} to "
                f"{fmt_num(r['hl_ci_high'])}; {fmt_pct(r['hl_ci_achieved_level'])})",
                "dz": fmt_num(r["cohen_dz"], 2),
                "min_p": fmt_p(r["min_attainable_p_wilcoxon"]),
                "rule": str(r["rule"]),
                "decided_by": str(r.get("decided_by", "")),
                "p_decisive": fmt_p(r.get("p_decisive")),
                "significant": "yes" if bool(r["significant"]) else "no",
                "warnings": [w["message"] for w in r["warnings"]],
                "methods": [
                    str(r[c]) for c in r.index if str(c).startswith("method_") and pd.notna(r[c])
                ],
            }
        )
    return rows


def _figures(data: StudyData) -> list[tuple[str, str]]:
    """A spaghetti plot per endpoint (analysed or not) across every visit it has values at."""
    protocol = data.protocol
    out = []
    for endpoint in protocol.endpoints:
        endpoint_id = endpoint.id
        wide = data.endpoint_wide([endpoint_id]).dropna(subset=[endpoint_id])
        if wide.empty:
            continue
        visits = [v for v in protocol.visits if v.id in set(wide["visit"])]
        if len(visits) < 2:
            continue
        pivot = wide.drop_duplicates(["subject", "visit"]).pivot(
            index="subject", columns="visit", values=endpoint_id
        )
        series = {
            str(subject): [
                float(row[v.id]) if v.id in row and pd.notna(row[v.id]) else None for v in visits
            ]
            for subject, row in pivot.iterrows()
        }
        unit = f" ({endpoint.unit})" if endpoint.unit else ""
        svg = spaghetti_svg(
            series,
            visit_labels=[v.name for v in visits],
            y_label=endpoint.label + unit,
            title=f"{endpoint.label}: each subject across visits",
        )
        caption = (
            f"Figure. {endpoint.label}{unit} per subject at each visit ({endpoint.role} endpoint; "
            f"{len(series)} subjects). Red lines end above their start, blue below."
            if len(series) <= AGGREGATE_LIMIT
            else f"Figure. {endpoint.label}{unit} at each visit ({endpoint.role} endpoint; "
            f"{len(series)} subjects): median, quartiles and 10th-90th percentiles, n per visit "
            f"(above {AGGREGATE_LIMIT} subjects single lines are not drawn)."
        )
        out.append((svg, caption))
    return out


def _clasi_analysis(data: StudyData) -> tuple[AnalysisSpec, str] | None:
    """The analysis of CLASI activity (an endpoint on a form with a ``clasi`` derived score)."""
    protocol = data.protocol
    clasi_forms = {d.form for d in protocol.derived_scores if d.instrument == "clasi"}
    for analysis in protocol.analysis_plan:
        endpoint = protocol.endpoint(analysis.endpoint)
        if endpoint and endpoint.form in clasi_forms and endpoint.item == "clasi_activity":
            return analysis, endpoint.form
    return None


def _responders(
    data: StudyData,
) -> tuple[list[dict[str, str]], str | None, dict[str, tuple[str, float, float]]]:
    """CLASI activity by visit and response per subject, the rule's description, and per
    subject (status, before, after) for the figures and the biomarker profile."""
    found = _clasi_analysis(data)
    if found is None:
        return [], None, {}
    analysis, form_id = found
    protocol = data.protocol
    rule = clasi_response_rule_setting(protocol.settings)
    activity = data.item(form_id, "clasi_activity")
    severity = data.item(form_id, "clasi_activity_severity")
    act = {(s, v): x for s, v, x in zip(activity["subject"], activity["visit"], activity["value"],
                                       strict=True)}  # fmt: skip
    sev = {(s, v): x for s, v, x in zip(severity["subject"], severity["visit"], severity["value"],
                                       strict=True)}  # fmt: skip
    rows = []
    outcome: dict[str, tuple[str, float, float]] = {}
    for subject in data.subjects:
        row = {"subject": subject}
        for visit in protocol.visits:
            key = (subject, visit.id)
            row[visit.id] = f"{int(act[key])} ({sev.get(key, '—')})" if key in act else "—"
        before = act.get((subject, analysis.before_visit))
        after = act.get((subject, analysis.after_visit))
        if before is not None and after is not None:
            result = clasi_response(int(before), int(after), rule)
            row["response"] = result.status
            outcome[subject] = (result.status, float(before), float(after))
        else:
            row["response"] = "missing visit"
        rows.append(row)
    visits = {v.id: v.name for v in protocol.visits}
    return (
        rows,
        (
            f"CLASI activity response, {visits[analysis.before_visit]} to "
            f"{visits[analysis.after_visit]}, by the study's rule '{rule}'"
        ),
        outcome,
    )


#: Reference lines of the waterfall for the rules stated in percent (Klein 2011; CLASI-50).
_PERCENT_THRESHOLDS = {
    "20-percent": ((-20.0, "20 % decrease"),),
    "50-percent": ((-50.0, "50 % decrease (CLASI-50)"),),
    "4-point-or-20-percent": ((-20.0, "20 % decrease (or 4 points)"),),
}


def _waterfall(
    data: StudyData, outcome: dict[str, tuple[str, float, float]]
) -> tuple[str, str] | None:
    changes = [
        (s, 100 * (after - before) / before, status == "responder")
        for s, (status, before, after) in outcome.items()
        if before > 0
    ]
    found = _clasi_analysis(data)
    if not changes or found is None:
        return None
    analysis = found[0]
    rule = clasi_response_rule_setting(data.protocol.settings)
    visit = data.protocol.visit(analysis.after_visit)
    name = visit.name if visit else analysis.after_visit
    svg = waterfall_svg(
        changes,
        thresholds=_PERCENT_THRESHOLDS.get(rule, ()),
        y_label="CLASI activity change (%)",
        title=f"CLASI activity: % change from baseline at {name}, each subject",
    )
    excluded = len(outcome) - len(changes)
    caption = (
        f"Figure. Per-subject % change of CLASI activity at {name} (n = {len(changes)}), "
        f"responders by the study's rule '{rule}' in blue"
        + (f"; {excluded} with a baseline of 0 left out (no % change)" if excluded else "")
        + "."
    )
    return svg, caption


def _biomarkers(
    data: StudyData, outcome: dict[str, tuple[str, float, float]]
) -> tuple[list[dict[str, str]], str, list[tuple[str, str]], list[MarkerPanel]]:
    """Every immune measurement before and after treatment, by response group, with the
    Mann-Whitney comparison of the change (:func:`clestudy.stats.responder_comparison`), the
    figure of the same numbers (:func:`_biomarker_figure`) and its panels."""
    rows: list[dict[str, str]] = []
    figures: list[tuple[str, str]] = []
    shown: list[MarkerPanel] = []
    description = ""
    groups = pd.Series({s: status for s, (status, _, _) in outcome.items()}, dtype=object)
    for role in data.roles.immune:
        visits = [v for v in data.protocol.visits if role.id in v.forms]
        if len(visits) < 2:
            continue
        first, last = visits[0], visits[-1]
        description = f"{first.name} → {last.name}"
        frame = pd.DataFrame({"subject": data.subjects})
        frame["response"] = frame["subject"].map(groups)
        continuous = []
        labels = {}
        for spec in role.numeric():
            before = pd.to_numeric(
                frame["subject"].map(data.by_subject(role.id, spec.id, first.id))
            )
            after = pd.to_numeric(frame["subject"].map(data.by_subject(role.id, spec.id, last.id)))
            if before.notna().sum() == 0 and after.notna().sum() == 0:
                continue
            frame[f"{spec.id}__before"] = before
            frame[f"{spec.id}__after"] = after
            frame[f"{spec.id}__change"] = after - before
            continuous.append(f"{spec.id}__change")
            labels[spec.id] = _label(spec)
        if not continuous:
            continue
        tests: dict[str, pd.Series] = {}
        if groups.nunique() == 2 and frame["response"].notna().any():
            result = responder_comparison(frame, group="response", responder="responder",
                                          continuous=continuous, source=f"form {role.id}")  # fmt: skip
            tests = {str(r["variable"]): r for _, r in result.iterrows()}
        for field_id, label in labels.items():
            row = {"marker": label}
            for group in ("responder", "non-responder"):
                mine = frame[frame["response"] == group]
                row[group] = (
                    f"{fmt_num(mine[f'{field_id}__before'].median(), 2)} → "
                    f"{fmt_num(mine[f'{field_id}__after'].median(), 2)} "
                    f"(n = {int(mine[f'{field_id}__change'].notna().sum())})"
                )
            test = tests.get(f"{field_id}__change")
            row["p"] = fmt_p(test["p_value"]) if test is not None else "—"
            row["method"] = str(test["method"]) if test is not None else ""
            row["method_ref"] = "yes" if test is not None else ""
            rows.append(row)
        panels = biomarker_panels(frame, labels)
        if panels:
            figures.append(_biomarker_figure(panels, len(data.subjects), (first.name, last.name)))
            shown += panels
    return rows, description, figures, shown


#: The response groups of the biomarker figure, in display order.
RESPONSE_GROUPS = ("responder", "non-responder")


def biomarker_panels(frame: pd.DataFrame, labels: dict[str, str]) -> list[MarkerPanel]:
    """Per measurement, (subject, before, after) of each response group's subjects that have
    both values; measurements without any such subject are left out."""
    panels = []
    for field_id, label in labels.items():
        groups = []
        for group in RESPONSE_GROUPS:
            mine = frame[frame["response"] == group]
            both = mine.dropna(subset=[f"{field_id}__before", f"{field_id}__after"])
            groups.append((group, tuple(zip(both["subject"].astype(str),
                                            both[f"{field_id}__before"].astype(float),
                                            both[f"{field_id}__after"].astype(float),
                                            strict=True))))  # fmt: skip
        if any(values for _, values in groups):
            panels.append(MarkerPanel(label, tuple(groups)))
    return panels


def _biomarker_figure(
    panels: list[MarkerPanel], n_subjects: int, visits: tuple[str, str]
) -> tuple[str, str]:
    """Small multiples: each measurement's median (IQR) before and after, per response group."""
    individual = n_subjects <= PER_SUBJECT_FIGURE_LIMIT
    svg = biomarker_svg(panels, before_label=visits[0], after_label=visits[1],
                        title=f"Immune measurements, {visits[0]} → {visits[1]}, by response",
                        individual=individual)  # fmt: skip
    caption = (
        f"Figure. Each immune measurement at {visits[0]} and {visits[1]} per response group: "
        "the thick line joins the group's medians, bars span the interquartile range"
        + ("; thin lines are single subjects." if individual else
           f" (single subjects are not drawn above {PER_SUBJECT_FIGURE_LIMIT} subjects).")
        + " Only subjects with both values are shown."
    )  # fmt: skip
    return svg, caption


#: Above this many subjects the per-subject swimmer plot and heatmap are left out (unreadable).
PER_SUBJECT_FIGURE_LIMIT = 60


def _date_of(record: RecordState, form: FormSpec) -> dt.date | None:
    """The date that dates a record: the form's visit-date field, else its first date field."""
    field_id = form.visit_date or next((f.id for f in form.fields if f.type == "date"), None)
    value = record.values.get(field_id) if field_id else None
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _swimmer(data: StudyData) -> tuple[str, str] | None:
    """Per subject: treatment segments from the exposure records, AEs and flares marked."""
    roles = data.roles
    if not roles.exposure or not 0 < len(data.subjects) <= PER_SUBJECT_FIGURE_LIMIT:
        return None
    forms = {f.id: f for f in data.protocol.forms}
    day_of_visit = {v.id: v.day for v in data.protocol.visits}
    exposure: dict[str, list[tuple[dt.date | None, int, str]]] = {}
    for role in roles.exposure:
        drug, dose = role.field_id("EXTRT"), role.field_id("EXDOSE")
        drug_spec = role.form.field(drug) if drug else None
        dose_spec = role.form.field(dose) if dose else None
        names = {c.code: c.label for c in drug_spec.choices} if drug_spec else {}
        for record in data.form_records(role.id):
            raw = record.values.get(drug) if drug else None
            label = names.get(str(raw), str(raw or role.form.name))
            if dose and record.values.get(dose) not in (None, ""):
                unit = f" {dose_spec.unit}" if dose_spec and dose_spec.unit else ""
                label += f" {float(str(record.values[dose])):g}{unit}"
            exposure.setdefault(record.subject_id, []).append(
                (_date_of(record, role.form), day_of_visit[record.visit_id], label)
            )
    by_subject: dict[str, list[RecordState]] = {}
    for record in data.records:
        if record.status != "incomplete":
            by_subject.setdefault(record.subject_id, []).append(record)
    ae = roles.adverse_events
    flare_forms = {r.id for r in roles.flare}
    out = []
    for subject in data.subjects:
        doses = sorted(exposure.get(subject, []), key=lambda e: (e[1], e[0] or dt.date.min))
        if not doses:
            continue
        start = doses[0][0]

        def day(when: dt.date | None, visit_day: int, start: dt.date | None = start) -> float:
            """Study day from the first dose, by date when both are known, else by schedule."""
            return float((when - start).days) if when and start else float(visit_day)

        segments = tuple((day(when, vday), label) for when, vday, label in doses)
        events: list[tuple[float, str]] = []
        end = segments[-1][0] + 1
        for record in by_subject.get(subject, []):
            at = day(_date_of(record, forms[record.form_id]), day_of_visit[record.visit_id])
            if ae is not None and record.form_id == ae.id:
                serious, began = ae.field_id("AESER"), ae.field_id("AESTDAT")
                raw = record.values.get(began) if began else None
                if raw:
                    at = day(dt.date.fromisoformat(str(raw)), day_of_visit[record.visit_id])
                kind = "serious ae" if serious and record.values.get(serious) else "ae"
                events.append((at, kind))
            elif record.form_id in flare_forms and any(
                bool(v) for d in record.derived.values() for k, v in d["values"].items()
                if "flare" in k
            ):  # fmt: skip
                events.append((at, "flare"))
            end = max(end, at)
        out.append(Lane(subject, end, segments, tuple(events)))
    if not out:
        return None
    svg = swimmer_svg(out, title="Treatment per subject: drug and dose, adverse events marked")
    caption = (
        "Figure. Swimmer plot: each bar runs from the first dose to the subject's last dated "
        "record, coloured by drug and daily dose (a new colour at each dose change or switch); "
        "triangles mark adverse events (red: serious), stars systemic flares."
    )
    return svg, caption


def _heatmap(
    data: StudyData, outcome: dict[str, tuple[str, float, float]]
) -> tuple[str, str] | None:
    """log2 fold change of every immune measurement per subject, first to last collection."""
    if not 0 < len(data.subjects) <= PER_SUBJECT_FIGURE_LIMIT:
        return None
    for role in data.roles.immune:
        visits = [v for v in data.protocol.visits if role.id in v.forms]
        if len(visits) < 2:
            continue
        first, last = visits[0].id, visits[-1].id
        specs = role.numeric()
        rows, names = [], []
        columns = [
            (
                pd.to_numeric(data.by_subject(role.id, spec.id, first)).to_dict(),
                pd.to_numeric(data.by_subject(role.id, spec.id, last)).to_dict(),
            )
            for spec in specs
        ]
        for subject in data.subjects:
            row = []
            for befores, afters in columns:
                before, after = befores.get(subject, math.nan), afters.get(subject, math.nan)
                ok = before > 0 and after > 0  # NaN compares false
                row.append(math.log2(after / before) if ok else math.nan)
            if any(not math.isnan(v) for v in row):
                status = outcome.get(subject, ("",))[0]
                names.append(f"{subject} ({status})" if status else subject)
                rows.append(row)
        if not rows:
            continue
        svg = heatmap_svg(names, [s.label for s in specs], rows,
                          title="Immune measurements: change per subject (log2 after / before)")  # fmt: skip
        caption = (
            f"Figure. Each subject's change of each immune measurement from "
            f"{visits[0].name} to {visits[-1].name}, as log2 of the ratio (red: rise, blue: "
            "fall, blank: missing or zero)."
        )
        return svg, caption
    return None


def _disposition(data: StudyData, safety: SafetyTables) -> list[dict[str, str]]:
    """Enrolled, treated, with data at the final visit, and stopped, with the reasons on file."""
    protocol = data.protocol
    enrolled = set(data.subjects)
    treated = {r.subject_id for role in data.roles.exposure for r in data.form_records(role.id)}
    final = protocol.visits[-1]
    completed = {r.subject_id for r in data.records
                 if r.visit_id == final.id and r.status != "incomplete"}  # fmt: skip
    withdrawn: dict[str, str] = {}
    for ae in safety.listing:
        if ae["action"] == "drug withdrawn":
            withdrawn.setdefault(ae["subject"], f"adverse event: {ae['term']}")
    rows = [
        {"label": "Enrolled", "value": str(len(enrolled)), "indent": ""},
        {"label": "Treated (study drug recorded)" if data.roles.exposure
         else "Treated (no exposure form in the protocol)",
         "value": str(len(treated & enrolled)) if data.roles.exposure else "—", "indent": ""},
        {"label": f"With data at the final visit ({final.name})",
         "value": str(len(completed & enrolled)), "indent": ""},
        {"label": "Study drug withdrawn", "value": str(len(withdrawn)), "indent": ""},
    ]  # fmt: skip
    reasons: dict[str, int] = {}
    for reason in withdrawn.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    rows += [{"label": r, "value": str(n), "indent": "indent"} for r, n in sorted(reasons.items())]
    missing = enrolled - completed - set(withdrawn)
    if missing:
        rows.append({"label": "No data at the final visit, no reason recorded",
                     "value": str(len(missing)), "indent": ""})  # fmt: skip
    return rows


def _flare(data: StudyData) -> list[dict[str, str]]:
    """Each derived systemic-flare score (SLEDAI-2K, SELENA flare) per subject and visit, with
    the form's free-text fields as the narrative."""
    rows = []
    for role in data.roles.flare:
        scores = {d.id for d in data.protocol.derived_for_form(role.id)}
        texts = [f.id for f in role.form.fields if f.type == "text"]
        for record in data.form_records(role.id):
            values = {
                k: v for s in scores if (d := record.derived.get(s)) for k, v in d["values"].items()
            }
            rows.append(
                {
                    "subject": record.subject_id,
                    "visit": record.visit_id,
                    "scores": "; ".join(f"{k} {v}" for k, v in values.items()),
                    "narrative": " ".join(str(record.values[t]) for t in texts
                                          if record.values.get(t)),
                }
            )  # fmt: skip
    return rows


def build_study_section(
    store: Store,
    *,
    data: StudyData | None = None,
    discrepancies: list[dict[str, str]] | None = None,
) -> StudySection:
    """Read one study from the store and lay out its report section.

    ``data`` and ``discrepancies`` replace what is read from the store (the data as of a cut-off,
    :mod:`clestudy.report._asof`).
    """
    data = data or load_study(store)
    if discrepancies is None:
        discrepancies = [
            {
                "record": d.record,
                "check": d.check_id,
                "fields": ", ".join(d.fields),
                "message": d.message,
            }
            for d in store.discrepancies(status="open")
        ]
    protocol = data.protocol
    outcomes, not_analysable = _outcomes(data)
    responders, responder_rule, outcome = _responders(data)
    safety = build_safety(data)
    figures = _figures(data)
    waterfall = _waterfall(data, outcome)
    for extra in (waterfall, _swimmer(data), _heatmap(data, outcome)):
        if extra is not None:
            figures.append(extra)
    biomarkers, biomarker_visits, biomarker_figures, panels = _biomarkers(data, outcome)
    figures += biomarker_figures
    biomarker_methods = list(dict.fromkeys(b["method"] for b in biomarkers if b["method_ref"]))
    for b in biomarkers:
        b["method_ref"] = str(biomarker_methods.index(b["method"]) + 1) if b["method_ref"] else ""
    outcome_rows = _outcome_rows(protocol, outcomes) + not_analysable
    methods = list(dict.fromkeys(m for row in outcome_rows for m in row["methods"]))
    for row in outcome_rows:  # each endpoint names its own methods by footnote number
        row["method_refs"] = ",".join(str(methods.index(m) + 1) for m in row["methods"])
    notes = dict(safety.notes)
    if data.roles.demographics is None:
        notes["table_one"] = "The protocol has no demographics form (CDASH domain DM)."
    if data.roles.diagnosis is None:
        notes["disease_history"] = (
            "Age at diagnosis and disease duration: not collected. The protocol has no diagnosis "
            "date (a non-repeating medical-history form, CDASH domain MH, with an MHSTDAT field)."
        )
    if not responders:
        notes["responders"] = (
            "The analysis plan has no CLASI activity endpoint, so there is no responder table."
        )
    if not biomarkers:
        notes["biomarkers"] = (
            "No immune measurements to compare by response: the protocol has no immune-profile "
            "form collected at two visits, or no responder classification."
        )
    if len(data.subjects) > PER_SUBJECT_FIGURE_LIMIT:
        notes["figures"] = (
            f"The swimmer plot and the per-subject heatmap are drawn for at most "
            f"{PER_SUBJECT_FIGURE_LIMIT} subjects (one row each would be unreadable for "
            f"{len(data.subjects)})."
        )
    flare = _flare(data)
    if not flare:
        notes["flare"] = (
            "The protocol has no systemic-flare form (a SLEDAI-2K or SELENA flare score derived "
            "on save), so SLEDAI-2K and SELENA flare are not reported."
        )
    return StudySection(
        study_id=protocol.id,
        title=protocol.title,
        description=protocol.description,
        protocol_version=protocol.version,
        n_subjects=len(data.subjects),
        table_one=_table_one_rows(data),
        outcomes=outcome_rows,
        outcome_frame=outcomes,
        figures=figures,
        responders=responders,
        responder_rule=responder_rule,
        safety=safety.listing,
        safety_tables=safety,
        disposition=_disposition(data, safety),
        biomarkers=biomarkers,
        biomarker_visits=biomarker_visits,
        biomarker_methods=biomarker_methods,
        flare=flare,
        biomarker_panels=panels,
        by_visit=_by_visit(data, outcomes),
        notes=notes,
        discrepancies=discrepancies,
        methods=methods,
    )
