"""Render report sections into one standalone HTML file (inline CSS and SVG, no external assets)."""

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
