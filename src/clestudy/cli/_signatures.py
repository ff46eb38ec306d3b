"""``clestudy sign`` and ``clestudy signature``: electronic signatures from the command line.

``clestudy sign subject S-01 --study STUDY --meaning review --actor jdoe`` signs a subject's
casebook (``sign visit S-01 week_0 ...`` one visit) as the investigator ``--actor``, whose
password is checked against the accounts store of the database (21 CFR 11.200(a)(1)): asked at a
hidden prompt, or read from the first line of stdin with ``--password-stdin`` (for scripts).
A password is never taken from the command line, where other users and the shell history see
it. A wrong one counts toward the account's lockout, as in the web interface.

``clestudy signature list`` shows every signature of a study (valid and void).

The store is imported inside the commands, so ``clestudy --help`` stays light.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Any

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.errors import InputError

if TYPE_CHECKING:
    from clestudy.store import SignatureState

__all__ = ["register", "sign_app", "signature_app"]

sign_app = typer.Typer(
    help="Sign a subject's casebook or one visit electronically, with your password.",
    no_args_is_help=True,
)
signature_app = typer.Typer(help="Electronic signatures: list.", no_args_is_help=True)

MEANING_HELP = "What the signature means: review, approval or authorship."
STDIN_HELP = "Read the password from the first line of stdin instead of a hidden prompt."

STUDY_OPTION = typer.Option(..., "--study")
MEANING_OPTION = typer.Option(..., "--meaning", help=MEANING_HELP)
STDIN_OPTION = typer.Option(False, "--password-stdin", help=STDIN_HELP)
DB_OPTION = typer.Option(None, "--db", help=DB_HELP)
ACTOR_OPTION = typer.Option(None, "--actor", help=ACTOR_HELP + " The signer.")
JSON_OPTION = typer.Option(False, "--json", help="Print the signature as JSON.")


def _password(from_stdin: bool, signer: str) -> str:
    """The signer's password: stdin's first line, or a hidden prompt on a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError(
            "password: give --password-stdin and the password on stdin, or run in a terminal "
            "to be asked"
        )
    return getpass.getpass(f"Password of {signer}: ")


def signature_json(s: SignatureState) -> dict[str, Any]:
    """A signature as ``sign --json`` and ``signature list --json`` print it."""
    return {
        "id": s.id,
        "key": s.key,
        "subject": s.subject_id,
        "visit": s.visit_id,
        "scope": s.scope,
        "signer": s.signer,
        "signer_name": s.signer_name,
        "meaning": s.meaning,
        "attestation": s.attestation,
        "signed_at": s.signed_at,
        "data_sha256": s.data_sha256,
        "records": s.records,
        "status": s.status,
        "voided_at": s.voided_at,
        "voided_by": s.voided_by,
        "voided_by_event": s.voided_by_event,
    }


def _sign(
    study: str, subject: str, visit: str | None, meaning: str, password_stdin: bool,
    db: str | None, actor: str | None, as_json: bool,
) -> None:  # fmt: skip
    from clestudy.store import open_accounts, open_store

    url = database_url(db)
    signer = resolve_actor(actor)
    password = _password(password_stdin, signer)
    with open_store(url, study) as store, open_accounts(store.engine) as accounts:
        signed = store.sign(
            subject, visit_id=visit, meaning=meaning, signer=signer, password=password,
            accounts=accounts,
        )  # fmt: skip
    if as_json:
        echo_json(signature_json(signed))
    else:
        typer.echo(
            f"signed {signed.key} ({signed.meaning}) by {signed.signer} at {signed.signed_at}; "
            f"data SHA-256 {signed.data_sha256}"
        )


@sign_app.command("subject")
def sign_subject(
    subject: str = typer.Argument(..., help="The subject whose whole casebook is signed."),
    study: str = STUDY_OPTION,
    meaning: str = MEANING_OPTION,
    password_stdin: bool = STDIN_OPTION,
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign a subject's casebook (every current record) as the investigator --actor."""
    _sign(study, subject, None, meaning, password_stdin, db, actor, as_json)


@sign_app.command("visit")
def sign_visit(
    subject: str = typer.Argument(..., help="The subject."),
    visit: str = typer.Argument(..., help="The visit whose records are signed."),
    study: str = STUDY_OPTION,
    meaning: str = MEANING_OPTION,
    password_stdin: bool = STDIN_OPTION,
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign one visit of a subject (its current records) as the investigator --actor."""
    _sign(study, subject, visit, meaning, password_stdin, db, actor, as_json)


@signature_app.command("list")
def signature_list(
    study: str = STUDY_OPTION,
    subject: str | None = typer.Option(None, "--subject"),
    status: str | None = typer.Option(None, "--status", help="'valid' or 'void'."),
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the signatures as JSON."),
) -> None:
    """List signatures: key, status, meaning, signer, time, data SHA-256 (tab-separated)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        found = store.signatures(subject_id=subject, status=status)
    if as_json:
        echo_json([signature_json(s) for s in found])
        return
    typer.echo("signature\tstatus\tmeaning\tsigner\tsigned_at\tdata_sha256\tvoided_at\tvoided_by")
    for s in found:
        typer.echo(
            f"{s.key}\t{s.status}\t{s.meaning}\t{s.signer}\t{s.signed_at}\t{s.data_sha256}\t"
            f"{s.voided_at or ''}\t{s.voided_by or ''}"
        )


def register(app: typer.Typer) -> None:
    """Add ``clestudy sign`` and ``clestudy signature`` to the CLI."""
    app.add_typer(sign_app, name="sign")
    app.add_typer(signature_app, name="signature")
