"""Exports and imports: ``clestudy export FORMAT`` and ``clestudy import redcap``.

Thin over :mod:`clestudy.interop`: bad input (an unknown study, form, visit or format, an invalid
file) exits 2 with one line naming the file, row and field, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.errors import InputError, NotFoundError

__all__ = ["register"]

EXPORT_FORMATS = ("csv", "wide-csv", "parquet", "sav", "dta")

import_app = typer.Typer(help="Import another system's study: a REDCap project.")


def _split(values: list[str] | None) -> list[str] | None:
    """``--forms a,b --forms c`` -> ``["a", "b", "c"]``."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _existing_study(url: str, study: str) -> None:
    from clestudy.store import list_studies

    studies = list_studies(url)
    if study not in studies:
        raise NotFoundError(f"--study: study '{study}' is not in {url} (studies: {studies})")


def export(
    export_format: str = typer.Argument(
        ..., metavar="FORMAT", help=f"One of: {', '.join(EXPORT_FORMATS)}."
    ),
    study: str = typer.Option(..., "--study", help="Study id (the protocol id)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path = typer.Option(..., "--out", help="Folder to write into (created if missing)."),
    forms: list[str] | None = typer.Option(
        None, "--forms", help="Only these forms (repeat, or separate with commas)."
    ),
    visits: list[str] | None = typer.Option(
        None, "--visits", help="Only these visits (repeat, or separate with commas)."
    ),
) -> None:
    """Export a study's data with a manifest (study, versions, file hashes, audit head)."""
    from clestudy.interop import export_analysis
    from clestudy.store import open_store

    if export_format not in EXPORT_FORMATS:
        raise InputError(f"FORMAT: unknown export format '{export_format}' ({EXPORT_FORMATS})")
    url = database_url(db)
    _existing_study(url, study)
    with open_store(url, study) as store:
        result = export_analysis(
            store, export_format, out, forms=_split(forms), visits=_split(visits)
        )
    for path in result.files:
        typer.echo(str(path))
    typer.echo(str(result.manifest))


def register(app: typer.Typer) -> None:
    """Add ``export`` to the main app."""
    app.command("export")(export)
