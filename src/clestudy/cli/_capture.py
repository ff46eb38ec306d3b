"""Capture from the command line: check protocols, set up a study, enrol subjects, save records.

Every write goes through :class:`clestudy.store.Store`, so it is validated, versioned and audited
exactly as from the API. ``--actor`` names who makes the change (default: ``$CLESTUDY_ACTOR``, else
the operating-system user).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, resolve_actor
from clestudy.cli._discrepancy import discrepancy_app, dq_app
from clestudy.cli._records import record_app
from clestudy.errors import InputError

__all__ = ["register"]

protocol_app = typer.Typer(help="Study protocols: list the built-in ones, check a YAML file.")
study_app = typer.Typer(
    help="Studies in a database: set one up from a protocol, amend it, upgrade the schema."
)
subject_app = typer.Typer(help="Subjects: enrol, list.")


@protocol_app.command("list")
def protocol_list() -> None:
    """List the built-in protocols."""
    from clestudy.protocol import BUILTIN_PROTOCOLS, load_protocol

    for name in BUILTIN_PROTOCOLS:
        typer.echo(f"{name}\t{load_protocol(name).title}")


@protocol_app.command("check")
def protocol_check(
    protocol: str = typer.Argument(..., help="A protocol YAML file or a built-in name."),
) -> None:
    """Load and validate a protocol; errors name the file, line and YAML path (exit 2)."""
    from clestudy.protocol import load_protocol

    p = load_protocol(protocol)
    n_fields = sum(len(f.fields) for f in p.forms)
    typer.echo(
        f"ok: {p.id} version {p.version}: {len(p.visits)} visits, {len(p.forms)} forms, "
        f"{n_fields} fields, {len(p.endpoints)} endpoints, {len(p.analysis_plan)} analyses"
    )


def _new_database_url(db: str | None) -> str:
    """``--db`` or ``$CLESTUDY_DATABASE_URL`` for a database that may not exist yet."""
    value = db or os.environ.get("CLESTUDY_DATABASE_URL")
    if not value:
        raise InputError("--db: give a database URL or file, or set CLESTUDY_DATABASE_URL")
    return value if "://" in value else f"sqlite:///{value}"


@study_app.command("init")
def study_init(
    protocol: str = typer.Argument(..., help="A protocol YAML file or a built-in name."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Set up a study in a database (created if missing) from a protocol."""
    from clestudy.protocol import load_protocol
    from clestudy.store import open_store

    url = _new_database_url(db)
    with open_store(url, load_protocol(protocol), actor=resolve_actor(actor)) as store:
        typer.echo(
            f"study {store.protocol.id} (protocol version {store.protocol.version}) in {url}"
        )


@study_app.command("amend")
def study_amend(
    protocol: str = typer.Argument(..., help="The amended protocol: a YAML file (new version)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    reason: str | None = typer.Option(None, "--reason", help="Why the protocol is amended."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Amend even if saved values lose their field or form (needs "
        "--reason; the audit event lists them).",
    ),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Amend a study's protocol: a new version, kept as a new snapshot (audited)."""
    from clestudy.protocol import load_protocol
    from clestudy.store import open_store

    new = load_protocol(protocol)
    with open_store(database_url(db), new.id) as store:
        old = store.protocol.version
        orphans = store.amend_protocol(new, actor=resolve_actor(actor), reason=reason, force=force)
    typer.echo(f"study {new.id}: protocol version {old} -> {new.version}")
    for orphan in orphans:
        typer.echo(f"orphaned (kept in the records, outside the protocol): {orphan}")


@study_app.command("upgrade")
def study_upgrade(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Migrate a database to this clestudy's schema (reading commands never do)."""
    from clestudy.store import upgrade_database

    url = database_url(db)
    upgrade_database(url)
    typer.echo(f"database {url} is at the current schema")


@subject_app.command("add")
def subject_add(
    subject: str = typer.Argument(..., help="Subject id, e.g. P01."),
    study: str = typer.Option(..., "--study", help="Study id (the protocol id)."),
    arm: str = typer.Option(
        "", "--arm", help="The arm; leave it out in a randomized study (`clestudy randomize`)."
    ),
    site: str = typer.Option(..., "--site"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    reason: str | None = typer.Option(None, "--reason"),
) -> None:
    """Enrol a subject (audited)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        store.add_subject(subject, arm=arm, site=site, actor=resolve_actor(actor), reason=reason)
    typer.echo(f"enrolled {subject} in {study}")


@subject_app.command("list")
def subject_list(
    study: str = typer.Option(..., "--study", help="Study id (the protocol id)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List enrolled subjects with arm, site and status."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        for s in store.subjects():
            typer.echo(f"{s.subject_id}\t{s.arm}\t{s.site}\t{s.status}")


def report(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    title: str = typer.Option("clestudy report", "--title"),
    pdf: bool = typer.Option(
        False, "--pdf", help="Also write the report as PDF (--out with .pdf)."
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Data cut-off (date or ISO date-time, UTC), rebuilt from the audit trail.",
    ),
) -> None:
    """Write the standalone HTML report of every study in a database."""
    from clestudy.report import write_report

    pdf_path = out.with_suffix(".pdf") if pdf else None
    write_report(database_url(db), out, title=title, pdf=pdf_path, as_of=as_of)
    typer.echo(f"Report: {out.resolve()}")
    if pdf_path is not None:
        typer.echo(f"PDF: {pdf_path.resolve()}")


def register(app: typer.Typer) -> None:
    """Add the capture command groups and ``report`` to the CLI."""
    app.add_typer(protocol_app, name="protocol")
    app.add_typer(study_app, name="study")
    app.add_typer(subject_app, name="subject")
    app.add_typer(record_app, name="record")
    app.add_typer(discrepancy_app, name="discrepancy")
    app.add_typer(dq_app, name="dq")
    app.command("report")(report)
