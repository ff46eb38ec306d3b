"""``clestudy audit``: verify the hash-chained audit trail of a database."""

from __future__ import annotations

import os

import typer

from clestudy.cli._common import echo_json
from clestudy.errors import AuditChainError, InputError

__all__ = ["database_url", "register"]

audit_app = typer.Typer(
    help="Audit trail: verify the hash chain, list events.", no_args_is_help=True
)

DB_HELP = (
    "Database URL (sqlite:///file.db, postgresql+psycopg://...) or a path to a SQLite file; "
    "default $CLESTUDY_DATABASE_URL."
)


def database_url(db: str | None) -> str:
    """Turn ``--db`` (a URL or a SQLite file path) into a database URL."""
    value = db or os.environ.get("CLESTUDY_DATABASE_URL")
    if not value:
        raise InputError("--db: give a database URL or file, or set CLESTUDY_DATABASE_URL")
    url = value if "://" in value else f"sqlite:///{value}"
    if url.startswith("sqlite:///") and not os.path.exists(url.removeprefix("sqlite:///")):
        # opening would create an empty database: a typo must not look like a clean audit trail
        raise InputError(f"--db: no database file at {url.removeprefix('sqlite:///')}")
    return url


@audit_app.command("verify")
def verify(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute the audit hash chain and report the first broken event (exit 1 if broken)."""
    from clestudy.store import verify_audit

    url = database_url(db)
    result = verify_audit(url)
    if as_json:
        echo_json(
            {
                "ok": result.ok,
                "events": result.events,
                "head_hash": result.head_hash,
                "first_broken_seq": result.first_broken_seq,
                "problem": result.problem,
            }
        )
        if not result.ok:
            raise typer.Exit(1)
        return
    if not result.ok:
        raise AuditChainError(f"audit event {result.first_broken_seq}: {result.problem}")
    typer.echo(f"audit trail OK: {result.events} events verified, head hash {result.head_hash}")


@audit_app.command("log")
def log(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    entity: str | None = typer.Option(
        None, "--entity", help="Only events whose entity starts with this, e.g. STUDY/P01/"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the events as JSON."),
) -> None:
    """List audit events, oldest first: who changed what, when, and why."""
    from clestudy.store import audit_events

    events = audit_events(database_url(db), entity_prefix=entity)
    if as_json:
        echo_json(events)
        return
    for e in events:
        reason = f" -- {e['reason']}" if e["reason"] else ""
        typer.echo(f"{e['seq']:>6} {e['occurred_at']} {e['actor']} {e['action']} "
                   f"{e['entity_type']} {e['entity_key']}{reason}")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the CLI."""
    app.add_typer(audit_app, name="audit")
