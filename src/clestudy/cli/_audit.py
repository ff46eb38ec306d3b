"""``clestudy audit``: verify, anchor and list the hash-chained audit trail of a database."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from clestudy.cli._common import echo_json
from clestudy.errors import AuditChainError, InputError

__all__ = ["database_url", "register"]

audit_app = typer.Typer(
    help="Audit trail: verify the hash chains, anchor their heads, list events.",
    no_args_is_help=True,
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


KEY_HELP = (
    "File holding the audit key (HMAC-SHA256); default $CLESTUDY_AUDIT_KEY_FILE or "
    "$CLESTUDY_AUDIT_KEY. With a key, every event must be keyed with it."
)


@audit_app.command("verify")
def verify(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="An event hash recorded earlier (the head printed by this command): fail unless "
        "the trail still contains it.",
    ),
    anchor: Path | None = typer.Option(
        None, "--anchor", help="An anchor file ('audit anchor'): every chain must extend it."
    ),
    key_file: Path | None = typer.Option(None, "--key-file", help=KEY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute every audit chain, check every row against its audit trail, and report
    the first problem (exit 1)."""
    from clestudy.store import audit_events, load_audit_key, read_anchor, verify_audit

    url = database_url(db)
    heads = None if anchor is None else read_anchor(anchor)
    result = verify_audit(url, key=load_audit_key(key_file), anchor=heads)
    problem = None if result.ok else result.describe()
    if problem is None and expect_head is not None:
        hashes = {str(e["hash"]) for e in audit_events(url)}
        if expect_head not in hashes:
            problem = (
                f"the expected head hash {expect_head} is not in the chain of {result.events} "
                "events: events were deleted or rewritten (the chain cannot tell which), or "
                "this is another database"
            )
    if as_json:
        echo_json(
            {
                "ok": problem is None,
                "events": result.events,
                "chains": len(result.heads),
                "head_hash": result.head_hash,
                "first_broken_seq": result.first_broken_seq,
                "mismatched_record": result.mismatched_record,
                "problem": problem,
                "unkeyed_checks": result.unkeyed_checks,
            }
        )
        if problem is not None:
            raise typer.Exit(1)
        return
    if problem is not None:
        raise AuditChainError(problem)
    typer.echo(result.describe())


@audit_app.command("anchor")
def anchor_command(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path | None = typer.Option(
        None, "--out", help="Write the anchor to this file (default: stdout)."
    ),
    key_file: Path | None = typer.Option(None, "--key-file", help=KEY_HELP),
) -> None:
    """Verify the trail, then write its current heads (counts, hashes, time) as JSON, to keep
    outside the database for 'audit verify --anchor'."""
    import json

    from clestudy.store import load_audit_key, make_anchor

    data = make_anchor(database_url(db), key=load_audit_key(key_file))
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write the anchor ({exc.strerror})") from None
    typer.echo(
        f"anchor of {data['events']} events in {len(data['chains'])} chains written to {out}"
    )


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
    if not events:  # say so on stderr: an empty stdout alone reads like a hang or a crash
        what = f"whose entity starts with {entity!r}" if entity else "in this database"
        typer.echo(f"no audit events {what}", err=True)
    for e in events:
        reason = f" -- {e['reason']}" if e["reason"] else ""
        typer.echo(f"{e['seq']:>6} {e['occurred_at']} {e['actor']} {e['action']} "
                   f"{e['entity_type']} {e['entity_key']}{reason}")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the CLI."""
    app.add_typer(audit_app, name="audit")
