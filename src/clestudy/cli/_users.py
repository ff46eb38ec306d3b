"""``clestudy user``: the local operator manages the accounts that sign in to the web interface.

Every change is audited in the account event trail with ``--actor`` (default ``$CLESTUDY_ACTOR``
or the system user): the person at this terminal, who already has the database itself. The web
interface and its API never accept ``--actor``; there the actor is the signed-in user
(docs/security.md, "The CLI's --actor").

A new password comes, in this order, from ``--password-file FILE`` (its first line; ``-`` reads
stdin), from ``$CLESTUDY_NEW_PASSWORD`` (for scripts), or from a hidden prompt asked twice on a
terminal. Passwords are never echoed, logged or stored (only their argon2id hash is).

The store and argon2 are imported inside the commands, so ``clestudy --help`` stays light.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.errors import InputError

if TYPE_CHECKING:
    from clestudy.store import Accounts, User

__all__ = ["NEW_PASSWORD_ENV", "register", "user_app"]

#: The environment variable a script sets to give a new password without a prompt.
NEW_PASSWORD_ENV = "CLESTUDY_NEW_PASSWORD"

ROLE_HELP = "admin, investigator, coordinator, monitor or statistician."
SITE_HELP = "A site code the user works at (as on subjects); repeat for several."
PASSWORD_FILE_HELP = (
    f"Read the new password from the first line of this file ('-' for stdin); else "
    f"${NEW_PASSWORD_ENV}, else a hidden prompt."
)

# one declaration of each shared option (Typer reads them as parameter defaults)
DB_OPTION = typer.Option(None, "--db", help=DB_HELP)
ACTOR_OPTION = typer.Option(None, "--actor", help=ACTOR_HELP)
JSON_OPTION = typer.Option(False, "--json", help="Print the user as JSON.")
PASSWORD_FILE_OPTION = typer.Option(None, "--password-file", help=PASSWORD_FILE_HELP)

user_app = typer.Typer(
    help="Accounts of the web interface: add, roles, sites, suspend, passwords, API tokens."
)
token_app = typer.Typer(help="API tokens: create (shown once), revoke.")
user_app.add_typer(token_app, name="token")


def _open(db: str | None) -> Accounts:
    from clestudy.store import open_accounts

    return open_accounts(database_url(db))


def _new_password(password_file: str | None) -> str:
    """The new password from the file, the environment, or a twice-asked hidden prompt."""
    if password_file is not None:
        if password_file == "-":
            text = sys.stdin.readline()
        else:
            path = Path(password_file)
            if not path.is_file():
                raise InputError(f"{password_file}: no such file")
            lines = path.read_text(encoding="utf-8").splitlines()
            text = lines[0] if lines else ""
        return text.rstrip("\r\n")
    from_env = os.environ.get(NEW_PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise InputError(
            f"password: give --password-file FILE, set {NEW_PASSWORD_ENV}, or run in a terminal "
            "to be asked"
        )
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise InputError("password: the two entries differ; nothing was changed")
    return first


def _user_dict(user: User) -> dict[str, object]:
    return asdict(user) | {"sites": list(user.sites)}


def _report(user: User, what: str, as_json: bool) -> None:
    if as_json:
        echo_json(_user_dict(user))
    else:
        typer.echo(f"{what} {user.username} ({user.role}; sites {','.join(user.sites) or '-'})")


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Lower-case login name, e.g. jdoe."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    site: list[str] = typer.Option([], "--site", help=SITE_HELP),
    full_name: str = typer.Option("", "--full-name", help="The person's name, for display."),
    password_file: str | None = PASSWORD_FILE_OPTION,
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a user who can sign in to the web interface (audited)."""
    password = _new_password(password_file)
    with _open(db) as accounts:
        user = accounts.add_user(
            username, role=role, sites=site, password=password, actor=resolve_actor(actor),
            full_name=full_name,
        )  # fmt: skip
    _report(user, "added", as_json)


@user_app.command("set-role")
def user_set_role(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a user's role (audited)."""
    with _open(db) as accounts:
        user = accounts.set_role(username, role, actor=resolve_actor(actor))
    _report(user, "updated", as_json)


@user_app.command("set-sites")
def user_set_sites(
    username: str = typer.Argument(...),
    site: list[str] = typer.Option([], "--site", help=SITE_HELP + " None: no site."),
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace a user's sites (audited)."""
    with _open(db) as accounts:
        user = accounts.set_sites(username, site, actor=resolve_actor(actor))
    _report(user, "updated", as_json)


def user_suspension(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why (required, audited)."),
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """``user suspend`` and ``user reinstate`` (the command name says which)."""
    with _open(db) as accounts:
        change = accounts.suspend if ctx.info_name == "suspend" else accounts.reinstate
        user = change(username, actor=resolve_actor(actor), reason=reason)
    _report(user, "suspended" if user.suspended else "reinstated", as_json)


user_app.command(
    "suspend", help="Suspend a user: their sessions end and their API tokens are revoked at once."
)(user_suspension)
user_app.command("reinstate", help="Lift a suspension (revoked API tokens stay revoked).")(
    user_suspension
)


@user_app.command("reset-password")
def user_reset_password(
    username: str = typer.Argument(...),
    password_file: str | None = PASSWORD_FILE_OPTION,
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Set a new password: clears a lockout and ends the user's sessions (audited)."""
    password = _new_password(password_file)
    with _open(db) as accounts:
        user = accounts.reset_password(username, password, actor=resolve_actor(actor))
    _report(user, "password reset for", as_json)


@user_app.command("end-sessions")
def user_end_sessions(
    username: str = typer.Argument(...),
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Sign a user out everywhere: end every open session (audited; API tokens stay)."""
    with _open(db) as accounts:
        ended = accounts.end_user_sessions(username, actor=resolve_actor(actor))
    typer.echo(f"ended {ended} session(s) of {username}")


@user_app.command("list")
def user_list(
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the users as JSON."),
) -> None:
    """List the users: username, role, sites, status and name (tab-separated)."""
    with _open(db) as accounts:
        users = accounts.list_users()
    if as_json:
        echo_json([_user_dict(u) for u in users])
        return
    typer.echo("username\trole\tsites\tstatus\tfull_name")
    for u in users:
        status = "suspended" if u.suspended else "active"
        typer.echo(f"{u.username}\t{u.role}\t{','.join(u.sites)}\t{status}\t{u.full_name}")


@token_app.command("create")
def token_create(
    username: str = typer.Argument(...),
    label: str = typer.Option(..., "--label", help="What the token is for, e.g. 'nightly export'."),
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Create an API token and print it once: only its SHA-256 is kept, it cannot be shown again."""
    with _open(db) as accounts:
        token = accounts.create_api_token(username, actor=resolve_actor(actor), label=label)
    if as_json:
        echo_json({"username": username, "label": label, "token": token})
    else:
        typer.echo(token)
        typer.echo(f"API token {label!r} of {username}: shown once, store it now", err=True)


@token_app.command("revoke")
def token_revoke(
    username: str = typer.Argument(...),
    label: str = typer.Option(..., "--label", help="The label given at creation."),
    db: str | None = DB_OPTION,
    actor: str | None = ACTOR_OPTION,
) -> None:
    """Revoke a user's active API token (audited)."""
    with _open(db) as accounts:
        accounts.revoke_api_token(username, label, actor=resolve_actor(actor))
    typer.echo(f"revoked API token {label!r} of {username}")


def register(app: typer.Typer) -> None:
    """Add ``clestudy user`` to the CLI."""
    app.add_typer(user_app, name="user")
