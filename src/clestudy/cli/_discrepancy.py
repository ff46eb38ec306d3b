"""``clestudy discrepancy``: list the warnings of the edit checks, resolve one with a reason."""

from __future__ import annotations

from dataclasses import asdict

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.cli._records import instance_number

__all__ = ["discrepancy_app"]

discrepancy_app = typer.Typer(
    help="Discrepancies (warnings of the protocol's edit checks): list, resolve."
)


@discrepancy_app.command("list")
def discrepancy_list(
    study: str = typer.Option(..., "--study"),
    status: str | None = typer.Option(None, "--status", help="'open' or 'resolved'."),
    subject: str | None = typer.Option(None, "--subject"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the discrepancies as JSON."),
) -> None:
    """List discrepancies: record, check, status, fields and message (tab-separated)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        found = store.discrepancies(status=status, subject_id=subject)
    if as_json:
        echo_json([asdict(d) for d in found])
        return
    typer.echo("record\tcheck\tstatus\tfields\tmessage")
    for d in found:
        typer.echo(f"{d.record}\t{d.check_id}\t{d.status}\t{','.join(d.fields)}\t{d.message}")


@discrepancy_app.command("resolve")
def discrepancy_resolve(
    check: str = typer.Argument(..., help="The check id, e.g. builtin.visit_window."),
    study: str = typer.Option(..., "--study"),
    subject: str = typer.Option(..., "--subject"),
    visit: str = typer.Option(..., "--visit"),
    form: str = typer.Option(..., "--form"),
    reason: str = typer.Option(..., "--reason", help="Why the value stands (required)."),
    instance: str = typer.Option("1", "--instance", help="Instance of a repeating form."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Resolve an open discrepancy with a reason (audited)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        state = store.resolve_discrepancy(
            subject, visit, form, check, reason=reason, actor=resolve_actor(actor),
            instance=instance_number(instance),
        )  # fmt: skip
    typer.echo(f"resolved {state.check_id} on {state.record}")
