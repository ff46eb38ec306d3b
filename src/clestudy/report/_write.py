"""Build the report of every study in a database and write it to a file (HTML, and PDF on request)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from clestudy.report._asof import audit_cut, parse_as_of, replay_study
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
    as_of: str | None = None,
) -> list[StudySection]:
    """Write a standalone HTML report of every study in the database at ``url`` to ``out``.

    With ``pdf``, the same document is also rendered to that PDF file
    (:func:`clestudy.report.write_pdf`). With ``as_of`` (a date or ISO date-time), the report
    is of the data as they stood then, rebuilt from the audit trail
    (:mod:`clestudy.report._asof`): the same bytes as a report generated at that time, apart
    from the generation time.

    Raises
    ------
    AuditChainError
        With ``as_of``, when the audit trail does not verify (no basis for a replay).
    InputError
        For an unreadable ``as_of``, a cut-off before the first audit event, or a protocol
        snapshot that is not the one its audit event recorded.
    """
    audit = verify_audit(url, raise_on_error=as_of is not None)
    cut = audit_cut(url, None if as_of is None else parse_as_of(as_of))
    sections = []
    visits = {}
    loaded: list[tuple[StudyData, str]] = []
    for study_id in list_studies(url):
        with open_store(url, study_id, migrate=False) as store:  # a reader never migrates
            if as_of is None:
                data, discrepancies = load_study(store), None
            elif any(e["entity_type"] == "protocol" and str(e["entity_key"]).startswith(
                    f"{study_id}@") for e in cut.events):  # fmt: skip
                data, discrepancies = replay_study(store, cut)
            else:
                continue  # the study was registered after the cut-off
            sections.append(build_study_section(store, data=data, discrepancies=discrepancies))
            visits[study_id] = data.protocol.visits  # the version in force at the cut-off
            loaded.append((data, data.protocol.title))
    audit_summary = (
        f"{len(cut.events)} events, chain verified, head {cut.head_hash[:16]}…"
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
        stamp=stamp(loaded, audit_head=cut.head_hash, generated_at=moment, as_of=cut.last_at),
    )
    out.write_text(html, encoding="utf-8")
    if pdf is not None:
        from clestudy.report._pdf import write_pdf

        write_pdf(html, pdf)
    return sections
