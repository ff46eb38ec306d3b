"""Figures as inline SVG text (matplotlib, Agg backend): no files, no external assets.

Every figure uses ``constrained_layout`` (titles, tick labels and legends are fitted inside the
canvas, never clipped) and wraps its title to the figure's width. Text stays text in the SVG
(``svg.fonttype = "none"``), so it is searchable in the HTML and vector text in the PDF, and ids
are salted with a constant so the same data give the same bytes.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen before pyplot loads
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = [
    "AGGREGATE_LIMIT",
    "MarkerPanel",
    "biomarker_figure",
    "biomarker_svg",
    "heatmap_svg",
    "paired_lines_svg",
    "spaghetti_svg",
    "swimmer_svg",
    "waterfall_svg",
]

_UP, _DOWN, _SAME = "#b2182b", "#2166ac", "#777777"
#: Above this many subjects lines are drawn thin and unlabelled (labels would overlap).
LABEL_LIMIT = 20
#: Above this many subjects a spaghetti plot shows the median and quartiles per visit instead of
#: one line per subject (thousands of lines are an unreadable blot, and a large SVG).
AGGREGATE_LIMIT = 200


def _new(width: float, height: float) -> Figure:
    matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: smaller, searchable
    matplotlib.rcParams["svg.hashsalt"] = "clestudy"  # stable ids: identical input, identical SVG
    return plt.figure(figsize=(width, height), dpi=100, layout="constrained")


def _title(text: str, width_in: float) -> str:
    return "\n".join(textwrap.wrap(text, width=max(20, int(width_in * 11))))


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    try:
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def paired_lines_svg(
    pairs: list[tuple[str, float, float]],
    *,
    before_label: str,
    after_label: str,
    y_label: str,
    title: str,
) -> str:
    """Per-subject before/after lines as an SVG document string.

    ``pairs`` holds (subject, before, after). Lines that go up are red, down blue, flat grey;
    with at most :data:`LABEL_LIMIT` subjects each line is labelled with its subject.
    """
    return spaghetti_svg(
        {s: [before, after] for s, before, after in pairs},
        visit_labels=[before_label, after_label],
        y_label=y_label,
        title=title,
    )


def spaghetti_svg(
    series: Mapping[str, Sequence[float | None]],
    *,
    visit_labels: Sequence[str],
    y_label: str,
    title: str,
) -> str:
    """One line per subject across visits (``None`` where missing) as an SVG document string.

    A line is red when its last value is above its first, blue when below, grey when equal.
    Above :data:`AGGREGATE_LIMIT` subjects the median per visit is drawn, with the interquartile
    range and the 10th-90th percentiles as bands, and the number of subjects per visit.
    """
    return _svg(spaghetti_figure(series, visit_labels=visit_labels, y_label=y_label, title=title))


def spaghetti_figure(
    series: Mapping[str, Sequence[float | None]],
    *,
    visit_labels: Sequence[str],
    y_label: str,
    title: str,
) -> Figure:
    """The figure of :func:`spaghetti_svg`."""
    width = 6.4 if len(visit_labels) > 2 else 4.8
    fig = _new(width, 3.8)
    ax = fig.add_subplot()
    if len(series) > AGGREGATE_LIMIT:
        _quantile_bands(ax, series, len(visit_labels))
        ax.set_xticks(range(len(visit_labels)), [_title(v, 1.0) for v in visit_labels],
                      fontsize=8)  # fmt: skip
        ax.set_xlim(-0.3, len(visit_labels) - 0.7)
        ax.set_ylabel(y_label)
        ax.set_title(_title(title, width), fontsize=10)
        ax.legend(fontsize=7, loc="best", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return fig
    labelled = len(series) <= LABEL_LIMIT
    bundles: dict[str, list[list[tuple[float, float]]]] = {_UP: [], _DOWN: [], _SAME: []}
    for subject, values in series.items():
        points = [(float(i), float(v)) for i, v in enumerate(values)
                  if v is not None and not math.isnan(v)]  # fmt: skip
        if not points:
            continue
        first, last = points[0][1], points[-1][1]
        colour = _UP if last > first else _DOWN if last < first else _SAME
        if not labelled:  # many subjects: one collection per colour, drawn at once
            bundles[colour].append(points)
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", color=colour, linewidth=1.6)
        ax.annotate(subject, (xs[-1], ys[-1]), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=7, color=colour)  # fmt: skip
    for colour, lines in bundles.items():
        if lines:
            ax.add_collection(LineCollection(lines, colors=colour, linewidths=0.5, alpha=0.4))
    ax.autoscale_view()
    ax.set_xticks(range(len(visit_labels)), [_title(v, 1.0) for v in visit_labels], fontsize=8)
    ax.set_xlim(-0.3, len(visit_labels) - 1 + (0.45 if labelled else 0.3))
    ax.set_ylabel(y_label)
    ax.set_title(_title(title, width), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _quantile_bands(ax: Axes, series: Mapping[str, Sequence[float | None]], visits: int) -> None:
    """Median, quartiles and 10th-90th percentiles per visit, and n per visit, on ``ax``."""
    values = np.array([[math.nan if v is None else float(v) for v in row]
                       for row in series.values()], dtype=float).reshape(-1, visits)  # fmt: skip
    xs, found = [], []
    for i in range(visits):
        column = values[:, i][np.isfinite(values[:, i])]
        if column.size:
            xs.append(i)
            found.append(np.percentile(column, [10, 25, 50, 75, 90]))
    if not found:
        return
    p10, q1, median, q3, p90 = np.array(found).T
    ax.fill_between(xs, p10, p90, color=_SAME, alpha=0.15, linewidth=0, label="10th-90th")
    ax.fill_between(xs, q1, q3, color=_DOWN, alpha=0.25, linewidth=0, label="quartiles")
    ax.plot(xs, median, color=_DOWN, marker="o", linewidth=1.8, label="median")
    counts = np.isfinite(values).sum(axis=0)
    for i in xs:
        ax.annotate(f"n = {counts[i]}", (i, 0), xycoords=("data", "axes fraction"),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=6,
                    color="#555555")  # fmt: skip


def waterfall_svg(
    changes: list[tuple[str, float, bool]],
    *,
    thresholds: Sequence[tuple[float, str]],
    y_label: str,
    title: str,
) -> str:
    """Bars of per-subject % change, sorted from worst to best, as an SVG document string.

    ``changes`` holds (subject, percent change, responder); responders are blue, others grey.
    ``thresholds`` are horizontal reference lines (percent, label), e.g. the protocol's response
    threshold.
    """
    return _svg(waterfall_figure(changes, thresholds=thresholds, y_label=y_label, title=title))


def waterfall_figure(
    changes: list[tuple[str, float, bool]],
    *,
    thresholds: Sequence[tuple[float, str]],
    y_label: str,
    title: str,
) -> Figure:
    """The figure of :func:`waterfall_svg`."""
    ordered = sorted(changes, key=lambda c: -c[1])
    width = 6.4
    fig = _new(width, 3.6)
    ax = fig.add_subplot()
    colours = [_DOWN if responder else _SAME for _, _, responder in ordered]
    heights = [c for _, c, _ in ordered]
    if len(ordered) <= LABEL_LIMIT * 5:
        ax.bar(range(len(ordered)), heights, color=colours, width=0.8)
    else:  # many subjects: one line collection instead of a patch per bar
        width_pt = max(0.2, 0.8 * 72 * (width - 1.2) / len(ordered))
        ax.vlines(range(len(ordered)), 0, heights, colors=colours, linewidth=width_pt)
    for value, label in thresholds:
        ax.axhline(value, color="#333333", linestyle="--", linewidth=0.9)
        ax.annotate(label, (0, value), xytext=(2, 3), textcoords="offset points", fontsize=7)
    ax.axhline(0, color="#333333", linewidth=0.6)
    if len(ordered) <= LABEL_LIMIT:
        ax.set_xticks(range(len(ordered)), [s for s, _, _ in ordered], rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(ordered)} subjects, sorted by change")
    ax.set_ylabel(y_label)
    ax.set_title(_title(title, width), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


@dataclass(frozen=True)
class Lane:
    """One subject's row of the swimmer plot: treatment segments and marked events (study days)."""

    subject: str
    end: float
    segments: tuple[tuple[float, str], ...]  # (start day, "drug dose") in order
    events: tuple[tuple[float, str], ...] = ()  # (day, kind): "ae", "serious ae", "flare"


_DRUG_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3")
_EVENT_MARKERS = {"ae": ("v", "#444444"), "serious ae": ("v", "#b2182b"), "flare": ("*", "#b2182b")}


def swimmer_figure(lanes: Sequence[Lane], *, title: str) -> Figure:
    """The figure of :func:`swimmer_svg`."""
    labels = sorted({label for lane in lanes for _, label in lane.segments})
    colour = {label: _DRUG_COLOURS[i % len(_DRUG_COLOURS)] for i, label in enumerate(labels)}
    width = 6.4
    fig = _new(width, max(2.4, 0.9 + 0.28 * len(lanes)))
    ax = fig.add_subplot()
    for row, lane in enumerate(lanes):
        starts = [start for start, _ in lane.segments] + [lane.end]
        for (start, label), stop in zip(lane.segments, starts[1:], strict=True):
            ax.barh(row, max(stop - start, 1.0), left=start, height=0.6, color=colour[label])
        for day, kind in lane.events:
            marker, tint = _EVENT_MARKERS[kind]
            ax.plot(day, row + 0.42, marker=marker, color=tint, markersize=6, linestyle="none")
    ax.set_yticks(range(len(lanes)), [lane.subject for lane in lanes] if len(lanes) <= 40
                  else [""] * len(lanes), fontsize=7)  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel("Study day (from the first dose)")
    handles: list[Artist] = [Patch(color=colour[label], label=label) for label in labels]
    handles += [Line2D([], [], marker=m, color=c, linestyle="none", label=k)
                for k, (m, c) in _EVENT_MARKERS.items()
                if any(kind == k for lane in lanes for _, kind in lane.events)]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), fontsize=7)
    ax.set_title(_title(title, width), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def swimmer_svg(lanes: Sequence[Lane], *, title: str) -> str:
    """A swimmer plot: a bar per subject coloured by drug and dose, AEs and flares marked."""
    return _svg(swimmer_figure(lanes, title=title))


def heatmap_figure(
    subjects: Sequence[str],
    markers: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    title: str,
) -> Figure:
    """The figure of :func:`heatmap_svg`."""
    width = 6.4
    fig = _new(width, max(2.6, 1.8 + 0.22 * len(subjects)))
    ax = fig.add_subplot()
    data = np.array(values, dtype=float)
    finite = np.abs(data[np.isfinite(data)])
    limit = float(finite.max()) if finite.size else 1.0
    image = ax.imshow(data, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(markers)), [textwrap.shorten(m, 28) for m in markers], rotation=60,
                  ha="right", rotation_mode="anchor", fontsize=6)  # fmt: skip
    ax.set_yticks(range(len(subjects)), list(subjects) if len(subjects) <= 40
                  else [""] * len(subjects), fontsize=7)  # fmt: skip
    fig.colorbar(image, ax=ax, label="log2(after / before)", shrink=0.8)
    ax.set_title(_title(title, width), fontsize=10)
    return fig


def heatmap_svg(
    subjects: Sequence[str],
    markers: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    title: str,
) -> str:
    """Per-subject (rows) change of each marker (columns) as log2 fold change, NaN blank."""
    return _svg(heatmap_figure(subjects, markers, values, title=title))


@dataclass(frozen=True)
class MarkerPanel:
    """One immune measurement before and after treatment, per response group.

    ``groups`` holds (group, values) in display order; ``values`` are (subject, before, after)
    for the subjects of that group with both values.
    """

    marker: str
    groups: tuple[tuple[str, tuple[tuple[str, float, float], ...]], ...]


_GROUP_COLOURS = ("#2166ac", "#b2182b", "#4d4d4d", "#1b7837")


def _median_iqr(values: Sequence[float]) -> tuple[float, float, float]:
    q1, median, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(median), float(q1), float(q3)


def biomarker_figure(
    panels: Sequence[MarkerPanel],
    *,
    before_label: str,
    after_label: str,
    title: str,
    individual: bool = True,
) -> Figure:
    """The figure of :func:`biomarker_svg`: one panel per measurement, small multiples.

    In each panel every response group is a thick line from its median before to its median
    after treatment, with the interquartile range as error bars (the line's ``gid`` is
    below); with ``individual`` each subject is also a thin line of its group's
    colour. The groups are shifted apart a little so their bars do not hide each other. The
    median line of panel ``i`` (from 1) and group ``g`` has the SVG id ``biomarker-median-i-g``.
    """
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    width = 6.4 if columns > 2 else 4.8
    fig = _new(width, 0.9 + 1.75 * rows)
    names = list(dict.fromkeys(g for panel in panels for g, _ in panel.groups))
    colour = {g: _GROUP_COLOURS[i % len(_GROUP_COLOURS)] for i, g in enumerate(names)}
    shift = {g: 0.08 * (i - (len(names) - 1) / 2) for i, g in enumerate(names)}
    ticks = [_title(before_label, 0.8), _title(after_label, 0.8)]
    for index, panel in enumerate(panels):
        ax = fig.add_subplot(rows, columns, index + 1)
        for group, values in panel.groups:
            if not values:
                continue
            x0, x1 = shift[group], 1 + shift[group]
            if individual:
                lines = [[(x0, b), (x1, a)] for _, b, a in values]
                ax.add_collection(LineCollection(lines, colors=colour[group], linewidths=0.5,
                                                 alpha=0.35))  # fmt: skip
            before = _median_iqr([b for _, b, _ in values])
            after = _median_iqr([a for _, _, a in values])
            bars = ax.errorbar(
                [x0, x1], [before[0], after[0]],
                yerr=[[before[0] - before[1], after[0] - after[1]],
                      [before[2] - before[0], after[2] - after[0]]],
                color=colour[group], marker="o", markersize=3.5, linewidth=1.8, capsize=2,
            )  # fmt: skip
            bars.lines[0].set_gid(f"biomarker-median-{index + 1}-{group}")  # the median line
        ax.set_xlim(-0.35, 1.35)
        ax.set_xticks([0, 1], ticks, fontsize=6)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_title(_title(textwrap.shorten(panel.marker, 64, placeholder="…"), 2.2),
                     fontsize=6.5)  # fmt: skip
        ax.spines[["top", "right"]].set_visible(False)
    handles: list[Artist] = [Line2D([], [], color=colour[g], marker="o", label=g) for g in names]
    fig.legend(handles=handles, loc="outside lower center", ncols=max(1, len(handles)),
               fontsize=7)  # fmt: skip
    fig.suptitle(_title(title, width), fontsize=10)
    return fig


def biomarker_svg(
    panels: Sequence[MarkerPanel],
    *,
    before_label: str,
    after_label: str,
    title: str,
    individual: bool = True,
) -> str:
    """Immune measurements before and after treatment by response group, as an SVG string."""
    return _svg(biomarker_figure(panels, before_label=before_label, after_label=after_label,
                                 title=title, individual=individual))  # fmt: skip
