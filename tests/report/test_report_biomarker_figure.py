"""The figure of immune measurements before and after treatment by response group, checked
against the stored records of the demo's open-label study (never the report's own numbers)."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from matplotlib.lines import Line2D

from clestudy.report import build_study_section
from clestudy.report._figures import biomarker_figure
from clestudy.store import open_store

STUDY = "lenalidomide-cle-open-label"


@pytest.fixture(scope="module")
def stored(demo_dir: Path) -> dict[str, object]:
    """The responder status (a CLASI activity fall of at least 4 points from week 0 to week 12,
    the documented default rule, Klein 2011) and every immune value, read from the store."""
    with open_store(f"sqlite:///{demo_dir / 'clestudy.db'}", STUDY) as store:
        protocol = store.protocol
        clasi = {(r.subject_id, r.visit_id): r.derived["clasi"]["values"]["clasi_activity"]
                 for r in store.records(form_id="clasi")}  # fmt: skip
        immune = store.records(form_id="immune_profile")
        section = build_study_section(store)
    visits = [v.id for v in protocol.visits if "immune_profile" in v.forms]
    status = {}
    for subject, visit in clasi:
        if visit == "week_0" and (subject, "week_12") in clasi:
            fall = clasi[subject, "week_0"] - clasi[subject, "week_12"]
            status[subject] = "responder" if fall >= 4 else "non-responder"
    form = protocol.form("immune_profile")
    assert form is not None
    return {
        "status": status,
        "values": {(r.subject_id, r.visit_id): r.values for r in immune},
        "first": visits[0],
        "last": visits[-1],
        "fields": [f for f in form.fields if f.type in ("integer", "decimal")],
        "section": section,
    }


def _expected(
    stored: dict[str, object],
) -> list[tuple[str, dict[str, list[tuple[str, float, float]]]]]:
    values: dict[tuple[str, str], dict[str, object]] = stored["values"]  # type: ignore[assignment]
    status: dict[str, str] = stored["status"]  # type: ignore[assignment]
    out = []
    for spec in stored["fields"]:  # type: ignore[attr-defined]
        groups: dict[str, list[tuple[str, float, float]]] = {"responder": [], "non-responder": []}
        for subject, group in status.items():
            before = values.get((subject, str(stored["first"])), {}).get(spec.id)
            after = values.get((subject, str(stored["last"])), {}).get(spec.id)
            if before not in (None, "") and after not in (None, ""):
                groups[group].append((subject, float(str(before)), float(str(after))))
        if any(groups.values()):
            label = f"{spec.label} ({spec.unit})" if spec.unit else spec.label
            out.append((label, groups))
    return out


def test_panels_hold_each_groups_stored_before_and_after_values(stored: dict[str, object]) -> None:
    section = stored["section"]
    panels = section.biomarker_panels  # type: ignore[attr-defined]
    expected = _expected(stored)
    assert len(expected) >= 5 and [p.marker for p in panels] == [label for label, _ in expected]
    for panel, (_, groups) in zip(panels, expected, strict=True):
        shown = {group: sorted(values) for group, values in panel.groups}
        assert shown == {group: sorted(values) for group, values in groups.items()}


def test_median_lines_are_the_medians_of_the_stored_values(stored: dict[str, object]) -> None:
    section = stored["section"]
    panels = section.biomarker_panels  # type: ignore[attr-defined]
    fig = biomarker_figure(panels, before_label="Week 0", after_label="Week 12", title="t")
    lines = {line.get_gid(): line for line in fig.findobj(Line2D) if line.get_gid()}
    checked = 0
    for index, (_, groups) in enumerate(_expected(stored), 1):
        for group, values in groups.items():
            if not values:
                assert f"biomarker-median-{index}-{group}" not in lines
                continue
            line = lines[f"biomarker-median-{index}-{group}"]
            medians = [statistics.median(v[1] for v in values),
                       statistics.median(v[2] for v in values)]  # fmt: skip
            assert np.allclose(np.asarray(line.get_ydata(), dtype=float), medians)
            checked += 1
    assert checked >= 10


def test_the_report_embeds_the_figure_as_svg(demo_dir: Path, stored: dict[str, object]) -> None:
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    section_html = html[html.index(f'<section id="{STUDY}">') :]
    section_html = section_html[: section_html.index("</section>")]
    start = section_html.index("Figure. Each immune measurement at Week 0 (baseline) and Week 12")
    figure = section_html[section_html.rindex("<figure>", 0, start) :]
    figure = figure[: figure.index("</figure>")]
    assert "<svg" in figure and "Only subjects with both values are shown." in figure
    panels = stored["section"].biomarker_panels  # type: ignore[attr-defined]
    for index, panel in enumerate(panels, 1):
        for group, values in panel.groups:
            assert (f'id="biomarker-median-{index}-{group}"' in figure) == bool(values)
