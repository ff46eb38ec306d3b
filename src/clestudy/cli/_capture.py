"""Capture from the command line: check protocols, set up a study, enrol subjects, save records.

Every write goes through :class:`clestudy.store.Store`, so it is validated, versioned and audited
exactly as from the API. ``--actor`` names who makes the change (default: ``$CLESTUDY_ACTOR``, else
the operating-system user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, read_json_input, resolve_actor
from clestudy.errors import InputError

__all__ = ["register"]

protocol_app = typer.Typer(help="Study protocols: list the built-in ones, check a YAML file.")
study_app = typer.Typer(help="Studies in a database: set one up from a protocol.")
subject_app = typer.Typer(help="Subjects: enrol, list.")
record_app = typer.Typer(help="Form records: save (create or edit), show.")


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


@study_app.command("init")
def study_init(
    protocol: str = typer.Argument(..., help="A protocol YAML file or a built-in name."),
    db: str = typer.Option(..., "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Set up a study in a database (created if missing) from a protocol."""
    from clestudy.protocol import load_protocol
    from clestudy.store import open_store

    url = db if "://" in db else f"sqlite:///{db}"
    with open_store(url, load_protocol(protocol), actor=resolve_actor(actor)) as store:
        typer.echo(
            f"study {store.protocol.id} (protocol version {store.protocol.version}) in {url}"
        )


@subject_app.command("add")
def subject_add(
    subject: str = typer.Argument(..., help="Subject id, e.g. P01."),
    study: str = typer.Option(..., "--study", help="Study id (the protocol id)."),
    arm: str = typer.Option(..., "--arm"),
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


@record_app.command("save")
def record_save(
    values: str = typer.Argument(..., help="JSON object of field values: a file, or - for stdin."),
    study: str = typer.Option(..., "--study"),
    subject: str = typer.Option(..., "--subject"),
    visit: str = typer.Option(..., "--visit"),
    form: str = typer.Option(..., "--form"),
    instance: int = typer.Option(1, "--instance", help="Instance of a repeating form."),
    expected_version: int | None = typer.Option(
        None, "--expected-version", help="The version the edit was made on (omit to create)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Reason for change (edits)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the saved record as JSON."),
) -> None:
    """Create or edit one record; stale edits and invalid values are refused (exit 2)."""
    from clestudy.store import open_store

    payload = read_json_input(values)
    if not isinstance(payload, dict):
        raise InputError(f"{values}: expected a JSON object of field values")
    with open_store(database_url(db), study) as store:
        state = store.save_record(
            subject, visit, form, payload, actor=resolve_actor(actor), reason=reason,
            expected_version=expected_version, instance=instance,
        )  # fmt: skip
    if as_json:
        echo_json(_record_json(state))
    elif expected_version is not None and state.version == expected_version:
        # the store writes nothing (and audits nothing) when the values equal the stored ones
        typer.echo(
            f"unchanged {state.key} version {state.version}: the values equal the stored ones"
        )
    else:
        typer.echo(f"saved {state.key} version {state.version}")


def _record_json(state: Any) -> dict[str, Any]:
    return {
        "subject": state.subject_id,
        "visit": state.visit_id,
        "form": state.form_id,
        "instance": state.instance,
        "version": state.version,
        "status": state.status,
        "values": state.values,
        "derived": state.derived,
        "updated_at": state.updated_at,
        "updated_by": state.updated_by,
    }


@record_app.command("show")
def record_show(
    study: str = typer.Option(..., "--study"),
    subject: str | None = typer.Option(None, "--subject"),
    form: str | None = typer.Option(None, "--form"),
    visit: str | None = typer.Option(None, "--visit"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show current records (with derived scores and versions)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        states = [
            s
            for s in store.records(form_id=form, visit_id=visit)
            if subject is None or s.subject_id == subject
        ]
    if as_json:
        echo_json([_record_json(s) for s in states])
        return
    for s in states:
        derived = "; ".join(
            f"{k}: " + ", ".join(f"{n}={v}" for n, v in d["values"].items())
            for k, d in s.derived.items()
        )
        typer.echo(f"{s.key} v{s.version} {s.values}" + (f" [{derived}]" if derived else ""))


def report(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    title: str = typer.Option("clestudy report", "--title"),
) -> None:
    """Write the standalone HTML report of every study in a database."""
    from clestudy.report import write_report

    write_report(database_url(db), out, title=title)
    typer.echo(f"Report: {out.resolve()}")


def register(app: typer.Typer) -> None:
    """Add the capture command groups and ``report`` to the CLI."""
    app.add_typer(protocol_app, name="protocol")
    app.add_typer(study_app, name="study")
    app.add_typer(subject_app, name="subject")
    app.add_typer(record_app, name="record")
    app.command("report")(report)
