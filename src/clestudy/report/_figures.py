"""Figures as inline SVG text (matplotlib, Agg backend): no files, no external assets."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen before pyplot loads

__all__ = ["paired_lines_svg"]

_UP, _DOWN, _SAME = "#b2182b", "#2166ac", "#777777"


def paired_lines_svg(
    pairs: list[tuple[str, float, float]],
    *,
    before_label: str,
    after_label: str,
    y_label: str,
    title: str,
) -> str:
    """Per-subject before/after lines (a "spaghetti" plot) as an SVG document string.

    ``pairs`` holds (subject, before, after). Lines that go up are red, down blue, flat grey;
    each line is labelled with its subject at the right.
    """
    matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: smaller, searchable
    matplotlib.rcParams["svg.hashsalt"] = "clestudy"  # stable ids: identical input, identical SVG
    fig, ax = plt.subplots(figsize=(4.8, 3.6), dpi=100)
    try:
        for subject, before, after in pairs:
            colour = _UP if after > before else _DOWN if after < before else _SAME
            ax.plot([0, 1], [before, after], marker="o", color=colour, linewidth=1.6)
            ax.annotate(subject, (1, after), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8, color=colour)  # fmt: skip
        ax.set_xticks([0, 1], [before_label, after_label])
        ax.set_xlim(-0.25, 1.35)
        ax.set_ylabel(y_label)
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
