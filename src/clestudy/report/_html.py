"""Render report sections into one standalone HTML file (inline CSS and SVG, no external assets).

Tables are plain HTML from one Jinja2 template, not great-tables. Why: the same document is the
web page and, through WeasyPrint, the PDF, and the PDF needs what a template controls directly:
``<thead>`` rows repeated on every page a table breaks across, rows kept whole, row groups and
indented levels in Table 1, warning rows spanning the outcome table, footnote numbers tied to the
methods list, and ``<h3>`` headings the table of contents and the tests read. great-tables renders
each table as a self-contained block with its own generated ids and inline styles (one per table,
so the page carries many copies) and brings a dataframe dependency chain of its own for tables
that are, here, lists of already formatted cells. Numbers are formatted once, in
:mod:`clestudy.report._format`, whatever renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jinja2
import scipy

from clestudy import __version__
from clestudy.protocol import Visit
from clestudy.report._study import StudySection

__all__ = ["render_html"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("clestudy.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render_html(
    sections: Sequence[StudySection],
    *,
    title: str,
    generated_at: str,
    database: str,
    audit_summary: str,
    visits: Mapping[str, Sequence[Visit]],
    synthetic: bool = False,
    methods_paragraphs: Sequence[str] = (),
    stamp: Sequence[tuple[str, str]] = (),
) -> str:
    """The report as one HTML document."""
    return _ENV.get_template("report.html.j2").render(
        title=title,
        sections=sections,
        generated_at=generated_at,
        database=database,
        audit_summary=audit_summary,
        visits=visits,
        synthetic=synthetic,
        methods_paragraphs=methods_paragraphs,
        stamp=stamp,
        version=__version__,
        scipy_version=scipy.__version__,
    )
