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
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="A head hash recorded earlier (printed by this command): fail unless the chain "
        "still contains it, which shows events deleted from the end.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute the audit hash chain, check each record against its audit trail, and report
    the first problem (exit 1)."""
    from clestudy.store import audit_events, verify_audit

    url = database_url(db)
    result = verify_audit(url)
    problem = None if result.ok else result.describe()
    if problem is None and expect_head is not None:
        hashes = {str(e["hash"]) for e in audit_events(url)}
        if expect_head not in hashes and expect_head != result.head_hash:
            problem = (
                f"the expected head hash {expect_head} is not in the chain of {result.events} "
                "events: events were deleted from the end, or this is another database"
            )
    if as_json:
        echo_json(
            {
                "ok": problem is None,
                "events": result.events,
                "head_hash": result.head_hash,
                "first_broken_seq": result.first_broken_seq,
                "mismatched_record": result.mismatched_record,
                "problem": problem,
            }
        )
        if problem is not None:
            raise typer.Exit(1)
        return
    if problem is not None:
        raise AuditChainError(problem)
    typer.echo(result.describe())


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
