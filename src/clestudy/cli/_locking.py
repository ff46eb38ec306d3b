"""``clestudy verify``, ``clestudy lock form|visit|subject|status``, ``clestudy unlock ...``.

Source-data verification of a record's fields (or the whole form), locks at the level of a
form, a visit or a subject over a selection (one transaction), and the listing of lock and
verification status (tab-separated, ``--json`` or ``--csv FILE``). Every change goes through
:class:`clestudy.store.Store` and is audited with ``--actor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.cli._records import VERSION_HELP, instance_number
from clestudy.errors import InputError

__all__ = ["lock_app", "register", "unlock_app"]

lock_app = typer.Typer(
    help="Lock forms, visits or subjects (every change of their data refused until unlocked; "
    "queries and discrepancy resolutions still allowed); list the status."
)
unlock_app = typer.Typer(help="Unlock forms, visits or subjects (a reason is required).")

ALL_HELP = (
    "Apply to the whole study (needed when no --site, --subject, --visit or --form is given)."
)


def verify(
    fields: list[str] = typer.Argument(None, help="Fields to verify; none: the whole form."),
    study: str = typer.Option(..., "--study"),
    subject: str = typer.Option(..., "--subject"),
    visit: str = typer.Option(..., "--visit"),
    form: str = typer.Option(..., "--form"),
    instance: str = typer.Option("1", "--instance", help="Instance of a repeating form."),
    expected_version: int = typer.Option(..., "--expected-version", help=VERSION_HELP),
    reason: str | None = typer.Option(None, "--reason"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Mark fields of a record (or the whole form) source-verified (audited)."""
    from clestudy.store import open_store

    number = instance_number(instance)
    with open_store(database_url(db), study) as store:
        if fields:
            store.verify_fields(
                subject, visit, form, fields, expected_version=expected_version,
                actor=resolve_actor(actor), instance=number, reason=reason,
            )  # fmt: skip
        else:
            store.verify_record(
                subject, visit, form, expected_version=expected_version,
                actor=resolve_actor(actor), instance=number, reason=reason,
            )  # fmt: skip
        review = store.record_review(subject, visit, form, number)
        state = next(
            r for r in store.records(subject_id=subject, visit_id=visit, form_id=form)
            if r.instance == number
        )  # fmt: skip
    if as_json:
        echo_json({"record": state.key, "status": state.status, "version": state.version,
                   "verified": list(review.verified)})  # fmt: skip
        return
    typer.echo(
        f"{state.key} is {state.status} (version {state.version}); verified: "
        + (", ".join(review.verified) or "none")
    )


def _one(value: str | None) -> tuple[str, ...] | None:
    return (value,) if value else None


def _run_bulk(level: str, locked: bool, options: dict[str, Any]) -> None:
    from clestudy.store import LockSelection, open_store

    chosen = [options[k] for k in ("site", "subject", "visit", "form")]
    if not any(chosen) and not options["everything"]:
        raise InputError(
            f"{'lock' if locked else 'unlock'} {level}: give --site, --subject, --visit or "
            "--form, or --all for the whole study"
        )
    selection = LockSelection(
        subjects=_one(options["subject"]), sites=_one(options["site"]),
        visits=_one(options["visit"]), forms=_one(options["form"]),
        instance=instance_number(options["instance"]) if options["instance"] else None,
    )  # fmt: skip
    with open_store(database_url(options["db"]), options["study"]) as store:
        who = resolve_actor(options["actor"])
        if locked:
            change = store.lock(selection, level=level, actor=who, reason=options["reason"])  # type: ignore[arg-type]
        else:
            change = store.unlock(selection, level=level, actor=who, reason=options["reason"])  # type: ignore[arg-type]
    if options["as_json"]:
        echo_json({"level": change.level, "locked": change.locked, "changed": list(change.changed),
                   "skipped": [list(s) for s in change.skipped]})  # fmt: skip
        return
    verb = "locked" if locked else "unlocked"
    for key in change.changed:
        typer.echo(f"{verb}\t{key}")
    for key, why in change.skipped:
        typer.echo(f"skipped\t{key}\t{why}")
    typer.echo(f"{len(change.changed)} {level}(s) {verb}, {len(change.skipped)} skipped")


def _bulk_command(level: str, locked: bool) -> Any:
    reason_option = (
        typer.Option(None, "--reason", help="Why (kept in the audit trail).")
        if locked
        else typer.Option(..., "--reason", help="Why it is unlocked (required).")
    )

    def command(
        study: str = typer.Option(..., "--study"),
        site: str | None = typer.Option(None, "--site"),
        subject: str | None = typer.Option(None, "--subject"),
        visit: str | None = typer.Option(None, "--visit"),
        form: str | None = typer.Option(None, "--form"),
        instance: str | None = typer.Option(
            None, "--instance", help="Instance of a repeating form."
        ),
        everything: bool = typer.Option(False, "--all", help=ALL_HELP),
        reason: str | None = reason_option,
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        _run_bulk(level, locked, locals())

    verb = "Lock" if locked else "Unlock"
    scope = {"form": "the selected forms", "visit": "the selected visits (--visit) of the "
             "selected subjects", "subject": "the selected subjects"}[level]  # fmt: skip
    command.__doc__ = f"{verb} {scope}, in one transaction (audited)."
    return command


for _level in ("form", "visit", "subject"):
    lock_app.command(_level)(_bulk_command(_level, True))
    unlock_app.command(_level)(_bulk_command(_level, False))


@lock_app.command("status")
def lock_status(
    study: str = typer.Option(..., "--study"),
    site: str | None = typer.Option(None, "--site"),
    subject: str | None = typer.Option(None, "--subject"),
    visit: str | None = typer.Option(None, "--visit"),
    form: str | None = typer.Option(None, "--form"),
    status: str | None = typer.Option(
        None, "--status", help="not started, incomplete, complete, verified or locked."
    ),
    csv_file: Path | None = typer.Option(None, "--csv", help="Write the listing to this CSV file."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the listing as JSON."),
) -> None:
    """List lock and verification status: subject, visit, form, status, verified n/N, lock."""
    from clestudy.store import open_store
    from clestudy.store._lock_status import as_csv

    with open_store(database_url(db), study) as store:
        rows = store.lock_status(
            sites=_one(site), subjects=_one(subject), visits=_one(visit), forms=_one(form),
            statuses=_one(status),
        )  # fmt: skip
    if csv_file is not None:
        csv_file.write_text(as_csv(rows), encoding="utf-8")
        typer.echo(f"{len(rows)} row(s) written to {csv_file}")
        return
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    typer.echo("subject\tvisit\tform\tstatus\tverified\tlock_level\tlocked_by")
    for r in rows:
        form_name = r.form_id + (f"#{r.instance}" if r.instance != 1 else "")
        typer.echo(
            f"{r.subject_id}\t{r.visit_id}\t{form_name}\t{r.status}\t"
            f"{r.verified_fields}/{r.total_fields}\t{r.lock_level or ''}\t{r.locked_by or ''}"
        )


def register(app: typer.Typer) -> None:
    """Add ``verify``, ``lock`` and ``unlock`` to the CLI."""
    app.command("verify")(verify)
    app.add_typer(lock_app, name="lock")
    app.add_typer(unlock_app, name="unlock")
