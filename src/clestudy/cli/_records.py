"""``clestudy record``: save (patch or replace), show, and the status life cycle of form records.

Every write goes through :class:`clestudy.store.Store`: validated, versioned and audited exactly
as from the API. Status changes (``verify``, ``lock``, ``unlock``) name the version they were made
on, like an edit, so a stale one is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, read_json_input, resolve_actor
from clestudy.errors import InputError, NotFoundError

__all__ = ["record_app"]

record_app = typer.Typer(help="Form records: save (create or edit), show, verify, lock and unlock.")

INSTANCE_HELP = "Instance of a repeating form: a number, or 'next' for a new one."
REPLACE_HELP = (
    "Replace the whole record: fields absent from the input are cleared (default: a patch, "
    "where absent fields keep their values and null clears one)."
)
VERSION_HELP = "The version the change was made on (as shown by 'record show')."


def instance_number(text: str) -> int:
    """``--instance`` of an existing record: a positive integer.

    >>> instance_number("2")
    2
    """
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 9 and int(value) >= 1:
        return int(value)
    raise InputError(f"--instance: {text!r} is not a positive integer")


def parse_instance(text: str) -> int | Literal["next"]:
    """``--instance`` of a save: a positive integer, or ``next`` for a new instance.

    >>> parse_instance("next"), parse_instance("3")
    ('next', 3)
    """
    if text.strip().lower() == "next":
        return "next"
    try:
        return instance_number(text)
    except InputError:
        raise InputError(f"--instance: {text!r} is not a positive integer or 'next'") from None


def record_json(state: Any) -> dict[str, Any]:
    """A stored record as the JSON ``record save|show --json`` print."""
    return {
        "subject": state.subject_id,
        "visit": state.visit_id,
        "form": state.form_id,
        "instance": state.instance,
        "version": state.version,
        "status": state.status,
        "protocol_version": state.protocol_version,
        "values": state.values,
        "derived": state.derived,
        "updated_at": state.updated_at,
        "updated_by": state.updated_by,
    }


@record_app.command("save")
def record_save(
    values: str = typer.Argument(..., help="JSON object of field values: a file, or - for stdin."),
    study: str = typer.Option(..., "--study"),
    subject: str = typer.Option(..., "--subject"),
    visit: str = typer.Option(..., "--visit"),
    form: str = typer.Option(..., "--form"),
    instance: str = typer.Option("1", "--instance", help=INSTANCE_HELP),
    expected_version: int | None = typer.Option(
        None, "--expected-version", help="The version the edit was made on (omit to create)."
    ),
    replace: bool = typer.Option(False, "--replace", help=REPLACE_HELP),
    reason: str | None = typer.Option(None, "--reason", help="Reason for change (edits)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the saved record as JSON."),
) -> None:
    """Create or edit one record; stale edits, locked records and invalid values exit 2."""
    from clestudy.store import open_store

    payload = read_json_input(values)
    if not isinstance(payload, dict):
        raise InputError(f"{values}: expected a JSON object of field values")
    with open_store(database_url(db), study) as store:
        state = store.save_record(
            subject, visit, form, payload, actor=resolve_actor(actor), reason=reason,
            expected_version=expected_version, instance=parse_instance(instance),
            mode="replace" if replace else "patch",
        )  # fmt: skip
    if as_json:
        echo_json(record_json(state))
    elif expected_version is not None and state.version == expected_version:
        # the store writes nothing (and audits nothing) when the values equal the stored ones
        typer.echo(
            f"unchanged {state.key} version {state.version}: the values equal the stored ones"
        )
    else:
        typer.echo(f"saved {state.key} version {state.version} ({state.status})")


def _check_names(protocol: Any, known_subjects: list[str], **given: str | None) -> None:
    """Refuse an unknown subject, visit or form with exit 2 instead of printing nothing."""
    known = {
        "subject": known_subjects,
        "visit": [v.id for v in protocol.visits],
        "form": [f.id for f in protocol.forms],
    }
    for what, value in given.items():
        if value is not None and value not in known[what]:
            raise NotFoundError(
                f"--{what}: unknown {what} '{value}' in study {protocol.id} "
                f"(known: {', '.join(known[what]) or 'none'})"
            )


def _show_value(value: object) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def _table_line(protocol: Any, state: Any) -> str:
    form = protocol.form(state.form_id)
    order = [f.id for f in form.fields] if form is not None else []
    keys = [k for k in order if k in state.values] + sorted(set(state.values) - set(order))
    values = "; ".join(f"{k}={_show_value(state.values[k])}" for k in keys)
    derived = "; ".join(
        f"{k}=" + ",".join(f"{n}:{v}" for n, v in d["values"].items())
        for k, d in state.derived.items()
    )
    return "\t".join([state.key, str(state.version), state.status, values or "-", derived or "-"])


@record_app.command("show")
def record_show(
    study: str = typer.Option(..., "--study"),
    subject: str | None = typer.Option(None, "--subject"),
    form: str | None = typer.Option(None, "--form"),
    visit: str | None = typer.Option(None, "--visit"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the records as a JSON list."),
) -> None:
    """Show current records: a tab-separated table (record, version, status, values, derived)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        subjects = [s.subject_id for s in store.subjects()]
        _check_names(store.protocol, subjects, subject=subject, visit=visit, form=form)
        states = [
            s
            for s in store.records(form_id=form, visit_id=visit)
            if subject is None or s.subject_id == subject
        ]
    if as_json:
        echo_json([record_json(s) for s in states])
        return
    typer.echo("record\tversion\tstatus\tvalues\tderived")
    for s in states:
        typer.echo(_table_line(store.protocol, s))


def _change_status(
    action: Literal["verify", "lock", "unlock"], study: str, subject: str, visit: str,
    form: str, instance: str, expected_version: int, reason: str | None, db: str | None,
    actor: str | None,
) -> None:  # fmt: skip
    from clestudy.store import open_store

    number = instance_number(instance)
    who = resolve_actor(actor)
    with open_store(database_url(db), study) as store:
        if action == "unlock":
            state = store.unlock_record(
                subject, visit, form, reason or "", expected_version=expected_version,
                actor=who, instance=number,
            )  # fmt: skip
        else:
            change = store.verify_record if action == "verify" else store.lock_record
            state = change(
                subject, visit, form, expected_version=expected_version, actor=who,
                instance=number, reason=reason,
            )  # fmt: skip
    typer.echo(f"{state.key} is {state.status} (version {state.version})")


def _status_command(
    action: Literal["verify", "lock", "unlock"], summary: str, reason_option: Any
) -> Callable[..., None]:
    """A ``record verify|lock|unlock`` command (the three differ only in their action)."""

    def command(
        study: str = typer.Option(..., "--study"),
        subject: str = typer.Option(..., "--subject"),
        visit: str = typer.Option(..., "--visit"),
        form: str = typer.Option(..., "--form"),
        instance: str = typer.Option("1", "--instance", help="Instance of a repeating form."),
        expected_version: int = typer.Option(..., "--expected-version", help=VERSION_HELP),
        reason: str | None = reason_option,
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    ) -> None:
        _change_status(
            action, study, subject, visit, form, instance, expected_version, reason, db, actor
        )

    command.__doc__ = summary
    return command


record_app.command("verify")(
    _status_command(
        "verify",
        "Mark a complete record as source-verified (audited).",
        typer.Option(None, "--reason"),
    )
)
record_app.command("lock")(
    _status_command(
        "lock",
        "Lock a record: every change of its data is refused until it is unlocked (audited).",
        typer.Option(None, "--reason"),
    )
)
record_app.command("unlock")(
    _status_command(
        "unlock",
        "Unlock a record (a reason is required); it returns to its status before the lock.",
        typer.Option(..., "--reason", help="Why the record is unlocked (required)."),
    )
)
