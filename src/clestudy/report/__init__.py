"""Reports: Table 1, disposition, outcomes, responders, safety and figures, as HTML and PDF.

The report reads studies through the store and takes every statistic from :mod:`clestudy.stats`
and every score from :mod:`clestudy.instruments`; it only selects, formats and lays out.
"""

from __future__ import annotations

from clestudy.report._html import render_html
from clestudy.report._pdf import write_pdf
from clestudy.report._study import StudySection, build_study_section
from clestudy.report._write import write_report

__all__ = ["StudySection", "build_study_section", "render_html", "write_pdf", "write_report"]
