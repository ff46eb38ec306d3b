"""``clestudy query``: the queries on record fields: list (with CSV), show, and the life-cycle
actions raise, answer, close, reopen and return (send back), each audited with ``--actor``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.cli._records import instance_number

__all__ = ["query_app", "register"]

query_app = typer.Typer(
    help="Queries on record fields: list, show, raise, answer, close, reopen, return."
)

_ACTIONS = {
    "raise": "Raise a query on a field of a saved record (--text required).",
    "answer": "Answer an open query (--text required).",
    "close": "Close an open or answered query (--text optional).",
    "reopen": "Re-open a closed query (--text required).",
    "return": "Send an answered query back to the site (--text required).",
}
_DONE = {"raise": "raised", "answer": "answered", "close": "closed", "reopen": "re-opened",
         "return": "returned"}  # fmt: skip


@query_app.command("list")
def query_list(
    study: str = typer.Option(..., "--study"),
    site: str | None = typer.Option(None, "--site"),
    subject: str | None = typer.Option(None, "--subject"),
    status: str | None = typer.Option(None, "--status", help="open, answered or closed."),
    form: str | None = typer.Option(None, "--form"),
    field: str | None = typer.Option(None, "--field"),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write the list as CSV."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the queries as JSON."),
) -> None:
    """List queries: field, site, status, days open, raised by, last message (tab-separated)."""
    from clestudy.store import open_store
    from clestudy.store._queries import queries_csv

    with open_store(database_url(db), study) as store:
        found = store.queries(
            sites=None if site is None else [site], subject_id=subject, status=status,
            form_id=form, field_id=field,
        )  # fmt: skip
    if csv_file is not None:
        csv_file.write_text(queries_csv(found), encoding="utf-8")
    if as_json:
        echo_json([asdict(q) for q in found])
        return
    typer.echo("query\tsite\tstatus\tdays_open\traised_by\tlast_message")
    for q in found:
        last = q.messages[-1].text.replace("\n", " ") if q.messages else ""
        typer.echo(f"{q.key}\t{q.site}\t{q.status}\t{q.days_open}\t{q.raised_by}\t{last}")


@query_app.command("show")
def query_show(
    study: str = typer.Option(..., "--study"),
    subject: str = typer.Option(..., "--subject"),
    visit: str = typer.Option(..., "--visit"),
    form: str = typer.Option(..., "--form"),
    field: str = typer.Option(..., "--field"),
    instance: str = typer.Option("1", "--instance", help="Instance of a repeating form."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the query as JSON."),
) -> None:
    """Show the query on a field and its thread."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        q = store.query(subject, visit, form, field, instance=instance_number(instance))
    if as_json:
        echo_json(asdict(q))
        return
    typer.echo(f"{q.key}: {'no query' if q.status == 'none' else q.status}")
    if q.status != "none":
        typer.echo(
            f"raised by {q.raised_by} at {q.raised_at} ({q.origin}); days open {q.days_open}"
        )
    for m in q.messages:
        typer.echo(f"{m.seq}. {m.at} {m.author} {m.action} -> {m.status}: {m.text}")


def _action_command(action: str) -> None:
    def command(
        study: str = typer.Option(..., "--study"),
        subject: str = typer.Option(..., "--subject"),
        visit: str = typer.Option(..., "--visit"),
        form: str = typer.Option(..., "--form"),
        field: str = typer.Option(..., "--field"),
        text: str | None = typer.Option(None, "--text", help="The message of the thread."),
        instance: str = typer.Option("1", "--instance", help="Instance of a repeating form."),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the query as JSON."),
    ) -> None:
        from clestudy.store import open_store

        with open_store(database_url(db), study) as store:
            q = store.query_action(
                action, subject, visit, form, field, text=text, actor=resolve_actor(actor),
                instance=instance_number(instance),
            )  # fmt: skip
        if as_json:
            echo_json(asdict(q))
            return
        typer.echo(f"query on {q.key} {_DONE[action]}: now {q.status}")

    command.__doc__ = _ACTIONS[action]
    query_app.command(action)(command)


for _action in _ACTIONS:
    _action_command(_action)


def register(app: typer.Typer) -> None:
    """Add ``clestudy query`` to the CLI."""
    app.add_typer(query_app, name="query")
