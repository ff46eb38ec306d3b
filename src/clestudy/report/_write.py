"""Build the report of every study in a database and write it to a file (HTML, and PDF on request)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from clestudy.report._data import StudyData, load_study
from clestudy.report._html import render_html
from clestudy.report._provenance import methods_paragraphs, stamp
from clestudy.report._study import StudySection, build_study_section
from clestudy.store import list_studies, open_store, verify_audit

__all__ = ["write_report"]


def write_report(
    url: str,
    out: Path,
    *,
    title: str = "clestudy report",
    synthetic: bool = False,
    now: dt.datetime | None = None,
    pdf: Path | None = None,
) -> list[StudySection]:
    """Write a standalone HTML report of every study in the database at ``url`` to ``out``.

    With ``pdf``, the same document is also rendered to that PDF file
    (:func:`clestudy.report.write_pdf`).
    """
    sections = []
    visits = {}
    loaded: list[tuple[StudyData, str]] = []
    for study_id in list_studies(url):
        with open_store(url, study_id, migrate=False) as store:  # a reader never migrates
            data = load_study(store)
            sections.append(build_study_section(store, data=data))
            visits[study_id] = store.protocol.visits
            loaded.append((data, store.protocol.title))
    audit = verify_audit(url)
    audit_summary = (
        f"{audit.events} events, chain verified, head {audit.head_hash[:16]}…"
        if audit.ok
        else f"BROKEN: {audit.describe()}"
    )
    moment = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    html = render_html(
        sections,
        title=title,
        generated_at=moment,
        database=url,
        audit_summary=audit_summary,
        visits=visits,
        synthetic=synthetic,
        methods_paragraphs=methods_paragraphs(sections),
        stamp=stamp(loaded, audit_head=audit.head_hash, generated_at=moment, as_of=None),
    )
    out.write_text(html, encoding="utf-8")
    if pdf is not None:
        from clestudy.report._pdf import write_pdf

        write_pdf(html, pdf)
    return sections
