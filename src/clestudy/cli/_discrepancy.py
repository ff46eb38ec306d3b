"""``clestudy discrepancy``: list the warnings of the edit checks, resolve one with a reason;
``clestudy dq``: data-quality rules over the whole study (run, list, exclude, revoke)."""

from __future__ import annotations

from dataclasses import asdict

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.cli._records import instance_number

__all__ = ["discrepancy_app", "dq_app"]

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


# -- clestudy dq: data-quality rules over the whole study ---------------------------------------

dq_app = typer.Typer(
    help="Data-quality rules over the whole study: run them, list every discrepancy (save-time "
    "and run findings), exclude a finding confirmed correct, revoke an exclusion."
)


@dq_app.command("run")
def dq_run(
    study: str = typer.Option(..., "--study"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
) -> None:
    """Run every data-quality rule over the study; the run is stored and audited."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        run = store.run_quality_rules(actor=resolve_actor(actor))
    if as_json:
        echo_json(asdict(run))
        return
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if k != "findings")
    typer.echo(
        f"data-quality run {run.run} (as of {run.as_of}, protocol {run.protocol_version}): "
        f"{run.counts['findings']} finding(s) ({counts}); data sha256 {run.data_sha256}"
    )


@dq_app.command("list")
def dq_list(
    study: str = typer.Option(..., "--study"),
    site: str | None = typer.Option(None, "--site"),
    subject: str | None = typer.Option(None, "--subject"),
    form: str | None = typer.Option(None, "--form"),
    rule: str | None = typer.Option(None, "--rule", help="A rule or edit-check id."),
    status: str | None = typer.Option(None, "--status", help="open, resolved or excluded."),
    source: str | None = typer.Option(None, "--source", help="edit-check or dq-rule."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
    csv_path: str | None = typer.Option(
        None, "--csv", help="Also write the list to this CSV file."
    ),
) -> None:
    """List the save-time discrepancies and the latest run's findings (tab-separated)."""
    from clestudy.store import open_store
    from clestudy.store._quality import quality_csv

    with open_store(database_url(db), study) as store:
        items = store.data_quality(
            site=site, subject_id=subject, form_id=form, rule=rule, status=status, source=source
        )
    if csv_path is not None:
        with open(csv_path, "w", encoding="utf-8", newline="") as out:
            out.write(quality_csv(items))
    if as_json:
        echo_json([asdict(i) for i in items])
        return
    typer.echo("key\tsource\tstatus\tsite\tfields\tmessage")
    for i in items:
        typer.echo(f"{i.key}\t{i.source}\t{i.status}\t{i.site}\t{','.join(i.fields)}\t{i.message}")


@dq_app.command("exclude")
def dq_exclude(
    key: str = typer.Argument(..., help="The finding's key, SUBJECT/VISIT/FORM/RULE[/FIELD]."),
    study: str = typer.Option(..., "--study"),
    reason: str = typer.Option(..., "--reason", help="Why the value is correct (required)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Exclude a finding of the latest run, confirmed correct (audited)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        item = store.exclude_finding(key, reason=reason, actor=resolve_actor(actor))
    typer.echo(f"excluded {item.key}")


@dq_app.command("revoke")
def dq_revoke(
    key: str = typer.Argument(..., help="The excluded finding's key."),
    study: str = typer.Option(..., "--study"),
    reason: str = typer.Option(..., "--reason", help="Why the exclusion no longer holds."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Revoke an exclusion (audited): the finding is open again."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        store.revoke_exclusion(key, reason=reason, actor=resolve_actor(actor))
    typer.echo(f"revoked the exclusion of {key}")
