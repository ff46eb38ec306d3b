"""Gather one study's report section from the store: Table 1, outcomes, responders, safety and
open discrepancies. Incomplete records are missing here (:func:`clestudy.store.tidy_table`).

Statistics come from :mod:`clestudy.stats` and scores from :mod:`clestudy.instruments`; this module
only selects, joins and formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clestudy.instruments import clasi_response, clasi_response_rule_setting
from clestudy.protocol import FieldSpec, Protocol
from clestudy.report._figures import paired_lines_svg
from clestudy.report._format import fmt_num, fmt_p, fmt_pct
from clestudy.stats import paired_comparison, table_one
from clestudy.store import Store, endpoint_table, tidy_table

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
    figure_svg: str | None
    figure_caption: str
    responders: list[dict[str, str]] = field(default_factory=list)
    responder_rule: str | None = None
    safety: list[dict[str, str]] = field(default_factory=list)
    discrepancies: list[dict[str, str]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)


def _baseline_visit(protocol: Protocol, form_id: str) -> str | None:
    return next((v.id for v in protocol.visits if form_id in v.forms), None)


def _label(spec: FieldSpec) -> str:
    return f"{spec.label} ({spec.unit})" if spec.unit else spec.label


def _subject_frame(store: Store, tidy: pd.DataFrame) -> tuple[pd.DataFrame, list[FieldSpec]]:
    """One row per subject: demographics, baseline weight and baseline primary endpoint."""
    protocol = store.protocol
    frame = pd.DataFrame({"subject": [s.subject_id for s in store.subjects()]})
    specs: list[FieldSpec] = []
    for form_id, wanted in (("dm", None), ("vs", ("weight",))):
        form = protocol.form(form_id)
        visit = _baseline_visit(protocol, form_id)
        if form is None or visit is None:
            continue
        part = tidy[(tidy["form"] == form_id) & (tidy["visit"] == visit)]
        for spec in form.fields:
            numeric = spec.type in ("integer", "decimal")
            if (wanted and spec.id not in wanted) or not (numeric or spec.type == "single_choice"):
                continue
            values = part[part["item"] == spec.id].set_index("subject")["value"]
            frame[spec.id] = frame["subject"].map(values)
            specs.append(spec)
    for analysis in protocol.analysis_plan:
        endpoint = protocol.endpoint(analysis.endpoint)
        if endpoint is None or endpoint.role != "primary" or endpoint.id in frame:
            continue
        wide = endpoint_table(store, [endpoint.id], [analysis.before_visit])
        frame[endpoint.id] = frame["subject"].map(wide.set_index("subject")[endpoint.id])
        before = protocol.visit(analysis.before_visit)
        specs.append(
            FieldSpec(
                id=endpoint.id,
                label=f"{endpoint.label} at {before.name if before else analysis.before_visit}",
                type="decimal",
                unit=endpoint.unit,
            )
        )
    return frame, specs


def _table_one_rows(store: Store, tidy: pd.DataFrame) -> list[dict[str, str]]:
    frame, specs = _subject_frame(store, tidy)
    continuous = [s.id for s in specs if s.type in ("integer", "decimal")]
    categorical = {s.id: [c.code for c in s.choices] for s in specs if s.type == "single_choice"}
    summary = table_one(frame, continuous=continuous, categorical=categorical)
    by_id = {s.id: s for s in specs}
    rows: list[dict[str, str]] = [{"label": "Subjects, n", "value": str(len(frame)), "indent": ""}]
    for spec in specs:
        part = summary[summary["variable"] == spec.id]
        if spec.type == "single_choice":
            labels = {c.code: c.label for c in spec.choices}
            present = part[part["count"] > 0]
            if present.empty:
                continue
            rows.append({"label": _label(spec) + ", n (%)", "value": "", "indent": ""})
            for _, r in present.iterrows():
                rows.append(
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
            rows.append(
                {
                    "label": _label(by_id[spec.id]),
                    "value": f"{fmt_num(r['mean'])} ({fmt_num(r['sd'])}); median "
                    f"{fmt_num(r['median'])} [{fmt_num(r['q1'])}, {fmt_num(r['q3'])}]{missing}",
                    "indent": "",
                }
            )
    return rows


def _outcomes(store: Store) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Results of the analysis plan, and display rows for analyses the data cannot support yet."""
    frames = []
    not_analysable = []
    visits = {v.id: v.name for v in store.protocol.visits}
    for analysis in store.protocol.analysis_plan:
        wide = endpoint_table(store, [analysis.endpoint])
        if not {analysis.before_visit, analysis.after_visit} <= set(wide["visit"]):
            endpoint = store.protocol.endpoint(analysis.endpoint)
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
            source=f"study {store.protocol.id}",
        )
        frames.append(result)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), not_analysable


_DISPLAY_KEYS = (
    "before", "after", "difference", "t", "p_t", "p_exact", "p_asymptotic", "p_sign", "hl",
    "dz", "min_p",
)  # fmt: skip


def _outcome_rows(store: Store, outcomes: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for _, r in outcomes.iterrows():
        endpoint = store.protocol.endpoint(str(r["measure"]))
        assert endpoint is not None
        visits = {v.id: v.name for v in store.protocol.visits}
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


def _figure(store: Store) -> tuple[str | None, str]:
    plan = store.protocol.analysis_plan
    primary = next(
        (a for a in plan if (e := store.protocol.endpoint(a.endpoint)) and e.role == "primary"),
        plan[0] if plan else None,
    )
    if primary is None:
        return None, ""
    endpoint = store.protocol.endpoint(primary.endpoint)
    assert endpoint is not None
    wide = endpoint_table(store, [endpoint.id], [primary.before_visit, primary.after_visit])
    if not {primary.before_visit, primary.after_visit} <= set(wide["visit"]):
        return None, ""
    pivot = wide.pivot(index="subject", columns="visit", values=endpoint.id).dropna()
    pairs = [
        (str(s), float(row[primary.before_visit]), float(row[primary.after_visit]))
        for s, row in pivot.iterrows()
    ]
    visits = {v.id: v.name for v in store.protocol.visits}
    unit = f" ({endpoint.unit})" if endpoint.unit else ""
    svg = paired_lines_svg(
        pairs,
        before_label=visits[primary.before_visit],
        after_label=visits[primary.after_visit],
        y_label=endpoint.label + unit,
        title=f"{endpoint.label}: each subject, {visits[primary.before_visit]} to "
        f"{visits[primary.after_visit]}",
    )
    caption = (
        f"Figure. {endpoint.label}{unit} per subject at {visits[primary.before_visit]} and "
        f"{visits[primary.after_visit]} (primary endpoint; n = {len(pairs)} complete pairs). "
        "Red lines rise, blue lines fall."
    )
    return svg, caption


def _responders(store: Store, tidy: pd.DataFrame) -> tuple[list[dict[str, str]], str | None]:
    protocol = store.protocol
    if not any(d.instrument == "clasi" for d in protocol.derived_scores):
        return [], None
    analysis = next((a for a in protocol.analysis_plan if a.endpoint == "clasi_activity"), None)
    if analysis is None:
        return [], None
    rule = clasi_response_rule_setting(protocol.settings)
    clasi = tidy[tidy["form"] == "clasi"]
    rows = []
    for subject in store.subjects():
        mine = clasi[clasi["subject"] == subject.subject_id]
        activity = mine[mine["item"] == "clasi_activity"].set_index("visit")["value"]
        severity = mine[mine["item"] == "clasi_activity_severity"].set_index("visit")["value"]
        row = {"subject": subject.subject_id}
        for visit in protocol.visits:
            row[visit.id] = (
                f"{int(activity[visit.id])} ({severity[visit.id]})"
                if visit.id in activity.index
                else "—"
            )
        if analysis.before_visit in activity.index and analysis.after_visit in activity.index:
            result = clasi_response(
                int(activity[analysis.before_visit]), int(activity[analysis.after_visit]), rule
            )
            row["response"] = result.status
        else:
            row["response"] = "missing visit"
        rows.append(row)
    visits = {v.id: v.name for v in protocol.visits}
    return rows, (
        f"CLASI activity response, {visits[analysis.before_visit]} to "
        f"{visits[analysis.after_visit]}, by the study's rule '{rule}'"
    )


def _safety(store: Store) -> list[dict[str, str]]:
    rows = []
    for record in store.records(form_id="ae"):
        v = record.values
        rows.append(
            {
                "subject": record.subject_id,
                "visit": record.visit_id,
                "term": str(v.get("aeterm", "")),
                "start": str(v.get("aestdat", "")),
                "end": str(v.get("aeendat", "ongoing")),
                "grade": str(v.get("aetoxgr", "")),
                "serious": "yes" if v.get("aeser") else "no",
                "relationship": str(v.get("aerel", "")).lower(),
                "outcome": str(v.get("aeout", "")).lower(),
                "action": str(v.get("aeacn", "")).lower(),
            }
        )
    return rows


def build_study_section(store: Store) -> StudySection:
    """Read one study from the store and lay out its report section."""
    tidy = tidy_table(store)
    outcomes, not_analysable = _outcomes(store)
    svg, caption = _figure(store)
    responders, responder_rule = _responders(store, tidy)
    protocol = store.protocol
    outcome_rows = _outcome_rows(store, outcomes) + not_analysable
    methods = list(dict.fromkeys(m for row in outcome_rows for m in row["methods"]))
    for row in outcome_rows:  # each endpoint names its own methods by footnote number
        row["method_refs"] = ",".join(str(methods.index(m) + 1) for m in row["methods"])
    return StudySection(
        study_id=protocol.id,
        title=protocol.title,
        description=protocol.description,
        protocol_version=protocol.version,
        n_subjects=len(store.subjects()),
        table_one=_table_one_rows(store, tidy),
        outcomes=outcome_rows,
        outcome_frame=outcomes,
        figure_svg=svg,
        figure_caption=caption,
        responders=responders,
        responder_rule=responder_rule,
        safety=_safety(store),
        discrepancies=[
            {
                "record": d.record,
                "check": d.check_id,
                "fields": ", ".join(d.fields),
                "message": d.message,
            }
            for d in store.discrepancies(status="open")
        ],
        methods=methods,
    )
