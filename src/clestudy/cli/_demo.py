"""``clestudy demo``: generate the synthetic demo study and its report."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def demo(
    out: Path = typer.Option(
        Path("clestudy-demo"), "--out", help="Directory for clestudy.db and report.html."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Regenerate: remove an earlier demo database and report there."
    ),
) -> None:
    """Generate a synthetic lenalidomide study (both seed protocols) and write its report."""
    from clestudy.demo import run_demo  # imported here: keeps `clestudy --help` fast

    result = run_demo(out, replace=replace)
    typer.echo(f"Report: {result.report.resolve()}")
    typer.echo(f"Database: {result.database.resolve()}")
    for csv in result.endpoint_csvs:
        typer.echo(f"Endpoints (CSV for clestudy stats paired): {csv.resolve()}")
    typer.echo("")
    typer.echo(result.summary())
    if result.logins:
        typer.echo("")
        typer.echo("Demo logins (demo data only, never for a real study): username / password")
        for login in result.logins:
            typer.echo(
                f"  {login.username} / {login.password}  ({login.role}; {', '.join(login.sites)})"
            )
    typer.echo("")
    typer.echo("Data entry in the browser (then open http://127.0.0.1:8000/):")
    typer.echo(f"  clestudy serve --db sqlite:///{result.database.resolve()}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the CLI."""
    app.command("demo")(demo)
