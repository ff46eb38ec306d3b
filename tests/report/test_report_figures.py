"""Figures: no text outside the canvas, no tick labels on top of each other, stable SVG bytes."""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from clestudy.report._figures import (
    AGGREGATE_LIMIT,
    Lane,
    MarkerPanel,
    _svg,
    biomarker_figure,
    heatmap_figure,
    spaghetti_figure,
    spaghetti_svg,
    swimmer_figure,
    waterfall_figure,
)

LONG = (
    "Lenalidomide for cutaneous manifestations of pediatric SLE: prednisone dose per subject "
    "from drug initiation to the 6-month follow-up visit"
)
VISITS = ["Drug initiation", "6-month follow-up", "12-month follow-up", "Week 52 (end)"]
BIOMARKERS = (
    "Plasmacytoid dendritic cells (Lin- HLA-DR+ CD123+ BDCA-2+) (% of Lin- cells)",
    "Interferon score (6-gene qPCR, Rice et al.) (fold change)",
    "Skin biopsy CD3+ T-cell infiltrate, semi-quantitative score (0 none, 1 mild, 2 moderate, "
    "3 marked)",
    "HLA-DR+ T cells (% of CD3+ T cells)",
    "Regulatory T cells (CD4+ CD25hi CD127lo) (% of CD4+ T cells)",
)


def _off_view(fig: Figure) -> set[int]:
    """Tick labels matplotlib keeps for ticks outside the axes' limits (it does not draw them)."""
    hidden = set()
    for ax in fig.axes:
        for labels, (low, high), index in (
            (ax.get_xticklabels(), sorted(ax.get_xlim()), 0),
            (ax.get_yticklabels(), sorted(ax.get_ylim()), 1),
        ):
            hidden |= {
                id(t) for t in labels if not low - 1e-9 <= t.get_position()[index] <= high + 1e-9
            }
    return hidden


def _texts(fig: Figure) -> list[Text]:
    fig.canvas.draw()
    hidden = _off_view(fig)
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]  # fmt: skip


def _check_layout(fig: Figure) -> None:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    canvas = fig.bbox
    texts = _texts(fig)
    assert texts
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1, text.get_text()
        assert box.y0 >= canvas.y0 - 1 and box.y1 <= canvas.y1 + 1, text.get_text()
    for ax in fig.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [t for t in labels if t.get_visible() and t.get_text().strip()
                     and id(t) not in _off_view(fig)]  # fmt: skip
            for a, b in itertools.combinations(shown, 2):
                overlap = a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer))
                assert not overlap, (a.get_text(), b.get_text())


FIGURES = {
    "spaghetti": lambda: spaghetti_figure(
        {f"P0{i}": [20.0 + i, 10.0 - i, None, 5.0] for i in range(1, 6)},
        visit_labels=VISITS, y_label="Prednisone (mg/day)", title=LONG,
    ),
    "spaghetti, many subjects": lambda: spaghetti_figure(
        {f"S{i:04d}": [float(i % 7), float(i % 5)] for i in range(150)},
        visit_labels=VISITS[:2], y_label="CLASI activity (points)", title=LONG,
    ),
    "spaghetti, aggregated": lambda: spaghetti_figure(
        {f"S{i:04d}": [float(i % 7), float(i % 5), None, float(i % 3)] for i in range(900)},
        visit_labels=VISITS, y_label="CLASI activity (points)", title=LONG,
    ),
    "waterfall": lambda: waterfall_figure(
        [(f"L0{i}", -15.0 * i + 10, i > 2) for i in range(1, 9)],
        thresholds=[(-50.0, "50 % decrease (CLASI-50)")], y_label="Change (%)", title=LONG,
    ),
    "swimmer": lambda: swimmer_figure(
        [Lane("P01", 200, ((0, "Thalidomide 100 mg"), (90, "Lenalidomide 5 mg")),
              ((30, "ae"), (120, "serious ae"))),
         Lane("P02", 180, ((0, "Lenalidomide 10 mg"),), ((60, "flare"),))],
        title=LONG,
    ),
    "heatmap": lambda: heatmap_figure(
        ["L01 (responder)", "L02 (non-responder)"],
        ["Plasmacytoid dendritic cells (Lin- HLA-DR+ CD123+ BDCA-2+)", "Interferon score",
         "Skin CD3+ cells", "Skin mucin-stained area fraction"],
        [[1.0, -2.0, float("nan"), 0.5], [0.2, -0.1, 0.3, -1.5]],
        title=LONG,
    ),
    "biomarkers": lambda: biomarker_figure(
        [MarkerPanel(label, (("responder", tuple((f"L0{i}", 1.0 + i, 2.0 + k * i)
                                                for i in range(4))),
                             ("non-responder", (("L09", 3.0, 2.5), ("L10", 4.0, 1.0)))))
         for k, label in enumerate(BIOMARKERS)],
        before_label="Week 0 (baseline)", after_label="Week 12", title=LONG,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_text_fits_the_canvas_and_tick_labels_do_not_overlap(name: str) -> None:
    _check_layout(FIGURES[name]())


def test_a_long_title_is_wrapped_not_clipped() -> None:
    fig = FIGURES["spaghetti"]()
    titles = [t.get_text() for t in _texts(fig) if t.get_text().startswith("Lenalidomide")]
    assert len(titles) == 1 and titles[0].count("\n") >= 1
    assert titles[0].replace("\n", " ") == LONG


def test_svg_is_text_and_stable() -> None:
    series = {"P01": [1.0, 2.0], "P02": [3.0, 1.0]}
    one = spaghetti_svg(series, visit_labels=["a", "b"], y_label="y", title="t")
    two = spaghetti_svg(series, visit_labels=["a", "b"], y_label="y", title="t")
    assert one == two and one.startswith("<svg")
    assert ">P01<" in one  # labels are SVG text, searchable and vector in the PDF
    assert _svg(FIGURES["heatmap"]()).startswith("<svg")


def test_small_multiples_keep_their_titles_apart() -> None:
    fig = FIGURES["biomarkers"]()
    fig.canvas.draw()  # constrained layout places the panels when drawn
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    titles = [ax.title for ax in fig.axes]
    assert len(titles) == len(BIOMARKERS)
    for a, b in itertools.combinations(titles, 2):
        assert not a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer)), (
            a.get_text(),
            b.get_text(),
        )
    for ax in fig.axes:  # the titles sit above their panel, not over the neighbour's plot
        for other in fig.axes:
            if other is not ax:
                box = ax.title.get_window_extent(renderer)
                assert not box.overlaps(other.get_window_extent(renderer)), ax.title.get_text()


def test_above_the_limit_the_spaghetti_plot_is_the_median_per_visit() -> None:
    series = {f"S{i:04d}": [float(i % 7), None if i % 2 else float(i % 5), float(i % 3)]
              for i in range(AGGREGATE_LIMIT + 1)}  # fmt: skip
    fig = spaghetti_figure(series, visit_labels=VISITS[:3], y_label="y", title="t")
    (ax,) = fig.axes
    (median,) = [line for line in ax.get_lines() if line.get_label() == "median"]
    xs = [int(x) for x in np.asarray(median.get_xdata(), dtype=float)]
    ys = [float(y) for y in np.asarray(median.get_ydata(), dtype=float)]
    assert xs == [0, 1, 2]
    for visit, y in zip(xs, ys, strict=True):
        column = [v for row in series.values() if (v := row[visit]) is not None]
        assert y == statistics.median(column)
    shown = [t.get_text() for t in ax.texts]
    assert shown[1] == f"n = {sum(1 for row in series.values() if row[1] is not None)}"
    assert len(ax.collections) == 2  # two bands, no line per subject
