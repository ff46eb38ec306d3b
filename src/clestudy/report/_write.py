"""Build the report of every study in a database and write it to a file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from clestudy.report._html import render_html
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
) -> list[StudySection]:
    """Write a standalone HTML report of every study in the database at ``url`` to ``out``."""
    sections = []
    visits = {}
    for study_id in list_studies(url):
        with open_store(url, study_id, migrate=False) as store:  # a reader never migrates
            sections.append(build_study_section(store))
            visits[study_id] = store.protocol.visits
    audit = verify_audit(url)
    audit_summary = (
        f"{audit.events} events, chain verified, head {audit.head_hash[:16]}…"
        if audit.ok
        else f"BROKEN at event {audit.first_broken_seq}: {audit.problem}"
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
    )
    out.write_text(html, encoding="utf-8")
    return sections
