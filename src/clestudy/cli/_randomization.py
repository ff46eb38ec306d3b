"""``clestudy randomization generate|upload|report``, ``clestudy randomize`` and ``unblind``.

The CLI is local: whoever runs it holds the database. Still, when ``--actor`` names an account
of the accounts store whose role the study blinds, ``randomize`` prints the randomization number
without the arm and ``randomization report`` is refused, as in the web interface.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.errors import InputError

if TYPE_CHECKING:
    from clestudy.store import Store

__all__ = ["randomization_app", "register"]

randomization_app = typer.Typer(
    help="The randomization list of a randomized study: generate, upload, balance report."
)
BLINDED = "blinded"


def _blinded(store: Store, url: str, actor: str) -> bool:
    """Whether ``actor`` is an account whose role the study blinds."""
    from clestudy.errors import NotFoundError
    from clestudy.store import open_accounts

    spec = store.protocol.randomization
    if spec is None or not spec.blinded_roles:
        return False
    with open_accounts(url) as accounts:
        try:
            role = accounts.get_user(actor).role
        except NotFoundError:
            return False  # not an account: the local operator
    return role in spec.blinded_roles


@randomization_app.command("generate")
def generate(
    study: str = typer.Option(..., "--study"),
    per_stratum: int = typer.Option(..., "--per-stratum", min=1, help="Allocations per stratum."),
    seed_file: Path | None = typer.Option(
        None, "--seed-file", help="A file whose first line is the sealed seed (default: random)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate the permuted-block list; prints the seed once (keep it sealed)."""
    from clestudy.store import open_store

    seed = None
    if seed_file is not None:
        if not seed_file.is_file():
            raise InputError(f"{seed_file}: no such file")
        first = (seed_file.read_text(encoding="utf-8").splitlines() or [""])[0].strip()
        if not first.isdigit():
            raise InputError(f"{seed_file}:1: seed: a non-negative whole number, not {first!r}")
        seed = int(first)
    with open_store(database_url(db), study) as store:
        summary = store.generate_allocation(
            per_stratum=per_stratum, actor=resolve_actor(actor), seed=seed
        )
    if as_json:
        echo_json(asdict(summary))
        return
    typer.echo(f"stored {summary.rows} allocations over {summary.strata} strata")
    typer.echo(f"list sha256 {summary.sha256}")
    typer.echo(f"seed (shown once; keep it sealed) {summary.seed}")
    typer.echo(f"seed sha256 (in the audit trail) {summary.seed_sha256}")


@randomization_app.command("upload")
def upload(
    table: Path = typer.Argument(..., help="CSV: the stratification fields, sequence, arm."),
    study: str = typer.Option(..., "--study"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Check and store an allocation table (refused once a subject is randomized)."""
    from clestudy.store import open_store

    if not table.is_file():
        raise InputError(f"{table}: no such file")
    try:
        text = table.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{table}: byte {exc.start}: not UTF-8 text") from None
    with open_store(database_url(db), study) as store:
        summary = store.upload_allocation(text, actor=resolve_actor(actor), source=str(table))
    typer.echo(f"stored {summary.rows} allocations over {summary.strata} strata")


@randomization_app.command("report")
def report(
    study: str = typer.Option(..., "--study"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Allocation balance by stratum: randomized subjects per arm, unused rows left."""
    from clestudy.store import open_store

    url = database_url(db)
    who = resolve_actor(actor)
    with open_store(url, study) as store:
        if _blinded(store, url, who):
            raise InputError(f"--actor: {who} has a blinded role in {study}: no balance report")
        balance = store.allocation_report()
        arms = list(store._randomization_spec().ratio)
    if as_json:
        echo_json([asdict(b) for b in balance])
        return
    typer.echo("stratum\t" + "\t".join(arms) + "\tunused")
    for b in balance:
        typer.echo(f"{b.stratum}\t" + "\t".join(str(b.used[a]) for a in arms) + f"\t{b.remaining}")


def randomize(
    subject: str = typer.Argument(..., help="The subject id."),
    study: str = typer.Option(..., "--study"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the allocation as JSON."),
) -> None:
    """Randomize a subject (once; the baseline stratification fields must be complete)."""
    from clestudy.store import open_store

    url = database_url(db)
    who = resolve_actor(actor)
    with open_store(url, study) as store:
        found = store.randomize(subject, actor=who)
        arm = BLINDED if _blinded(store, url, who) else found.arm
    if as_json:
        echo_json({"subject_id": subject, "number": found.number, "arm": arm})
        return
    typer.echo(f"randomized {subject}: number {found.number}, arm {arm}")


def unblind(
    subject: str = typer.Argument(..., help="The subject id."),
    study: str = typer.Option(..., "--study"),
    reason: str = typer.Option(..., "--reason", help="Why (emergency or final); audited."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the arm as JSON."),
) -> None:
    """Reveal a randomized subject's arm, with a reason (audited as an unblinding)."""
    from clestudy.store import open_store

    with open_store(database_url(db), study) as store:
        found = store.unblind(subject, actor=resolve_actor(actor), reason=reason)
    if as_json:
        echo_json({"subject_id": subject, "number": found.number, "arm": found.arm})
        return
    typer.echo(f"unblinded {subject}: number {found.number}, arm {found.arm}")


def register(app: typer.Typer) -> None:
    """Add ``clestudy randomization``, ``randomize`` and ``unblind`` to the CLI."""
    app.add_typer(randomization_app, name="randomization")
    app.command("randomize")(randomize)
    app.command("unblind")(unblind)
