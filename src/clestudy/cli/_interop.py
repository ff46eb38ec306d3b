"""Exports and imports: ``clestudy export FORMAT``, ``clestudy import redcap|odm``.

Thin over :mod:`clestudy.interop`: bad input (an unknown study, form, visit or format, an invalid
file) exits 2 with one line naming the file, row and field, and nothing is written.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import typer

from clestudy.cli._audit import DB_HELP, database_url
from clestudy.cli._common import echo_json, resolve_actor
from clestudy.errors import ClestudyError, InputError, NotFoundError

__all__ = ["register"]

EXPORT_FORMATS = ("redcap", "odm", "sdtm", "csv", "wide-csv", "parquet", "sav", "dta")

import_app = typer.Typer(
    help="Import another system's study: a REDCap project, or a CDISC ODM file (OpenClinica)."
)


def _split(values: list[str] | None) -> list[str] | None:
    """``--forms a,b --forms c`` -> ``["a", "b", "c"]``."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _interop() -> ModuleType:
    """:mod:`clestudy.interop`, or a clear error when its optional packages are missing."""
    try:
        return importlib.import_module("clestudy.interop")
    except ImportError as exc:
        raise ClestudyError(
            f"exports and imports need the optional packages: pip install 'clestudy[interop]' "
            f"({exc.name} is missing)"
        ) from None


def _existing_study(url: str, study: str) -> None:
    from clestudy.store import list_studies

    studies = list_studies(url)
    if study not in studies:
        raise NotFoundError(f"--study: study '{study}' is not in {url} (studies: {studies})")


def _import_url(db: str | None) -> str:
    """``--db`` as a URL; unlike the reading commands', a new SQLite file may be created."""
    import os

    value = db or os.environ.get("CLESTUDY_DATABASE_URL")
    if not value:
        raise InputError("--db: give a database URL or file, or set CLESTUDY_DATABASE_URL")
    return value if "://" in value else f"sqlite:///{value}"


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
    deidentify: bool = typer.Option(
        False,
        "--deidentify",
        help="Remove identifiers and free text, pseudonymise subjects, "
        "shift dates, group ages over 89 (docs/interop.md).",
    ),
    pseudonym_key: Path | None = typer.Option(
        None,
        "--pseudonym-key",
        help="With --deidentify: the key file of the pseudonyms and "
        "date shifts (created when missing; default OUT.pseudonym-key beside --out).",
    ),
    dates: str = typer.Option(
        "shift",
        "--dates",
        help="With --deidentify: 'shift' (per-subject offset) or "
        "'study-day' (days from the reference start date).",
    ),
    keep_text: list[str] | None = typer.Option(
        None,
        "--keep-text",
        help="With --deidentify: free-text fields to keep (FIELD or "
        "FORM.FIELD; repeat, or separate with commas).",
    ),
    ae_coding: Path | None = typer.Option(
        None,
        "--ae-coding",
        help="sdtm only: the sponsor's MedDRA coding of the reported AE terms (CSV: AETERM, "
        "AEDECOD, AEPTCD, MEDDRA_VERSION; docs/interop.md).",
    ),
) -> None:
    """Export a study's data with a manifest (study, versions, file hashes, audit head)."""
    from clestudy.store import open_store

    interop = _interop()
    if export_format not in EXPORT_FORMATS:
        raise InputError(f"FORMAT: unknown export format '{export_format}' ({EXPORT_FORMATS})")
    if export_format in ("redcap", "odm", "sdtm") and (forms or visits):
        raise InputError(f"--forms/--visits: a {export_format} export holds the whole study")
    if not deidentify and (pseudonym_key or keep_text or dates != "shift"):
        raise InputError("--pseudonym-key/--dates/--keep-text: only with --deidentify")
    if dates not in ("shift", "study-day"):
        raise InputError(f"--dates: '{dates}' is not one of shift, study-day")
    if ae_coding is not None and export_format != "sdtm":
        raise InputError("--ae-coding: only with the sdtm format")
    coding = interop.read_ae_coding(ae_coding) if ae_coding is not None else None
    url = database_url(db)
    _existing_study(url, study)

    def write(store: object, folder: Path) -> tuple[Path, ...]:
        if export_format == "redcap":
            return tuple(interop.export_redcap(store, folder))
        if export_format == "odm":
            return tuple(interop.export_odm(store, folder))
        if export_format == "sdtm":
            return tuple(interop.export_sdtm(store, folder, ae_coding=coding))
        result = interop.export_analysis(
            store, export_format, folder, forms=_split(forms), visits=_split(visits)
        )
        return (*result.files, result.manifest)

    with open_store(url, study) as store:
        if deidentify:
            from clestudy.interop._deidentify import (
                Deidentification,
                default_key_path,
                export_deidentified,
                load_key,
                new_key,
                write_key,
            )

            key_path = pseudonym_key or default_key_path(out)
            known = load_key(key_path, out)
            key = known or new_key()
            settings = Deidentification(key, dates, frozenset(_split(keep_text) or ()))  # type: ignore[arg-type]
            paths = export_deidentified(store, settings, out, write)
            if known is None:  # a new key is kept only when the export was written
                write_key(key_path, key)
        else:
            paths = write(store, out)
    for path in paths:
        typer.echo(str(path))


@import_app.command("redcap")
def import_redcap_command(
    dictionary: Path = typer.Argument(..., help="The REDCap data dictionary (CSV)."),
    records: Path | None = typer.Argument(None, help="A flat REDCap records export (CSV, raw)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    study: str | None = typer.Option(
        None, "--study", help="Study id (default: from the dictionary's file or folder name)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be created, updated or unchanged; write nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create (or check) a study from a REDCap dictionary and import its records, audited."""
    url = _import_url(db)
    plan = _interop().import_redcap(
        url, dictionary, records, study=study, dry_run=dry_run, actor=resolve_actor(None)
    )
    if as_json:
        echo_json(plan.as_dict())
        return
    verb = "would import" if dry_run else "imported"
    typer.echo(
        f"{verb} into {plan.study}{' (new study)' if plan.new_study else ''}: "
        f"{len(plan.new_subjects)} new subjects, {len(plan.creates)} records created, "
        f"{len(plan.updates)} updated, {len(plan.unchanged)} unchanged"
    )
    for label, keys in (("create", plan.creates), ("update", plan.updates)):
        for key in keys:
            typer.echo(f"  {label} {key}")
    for note in plan.flagged:
        typer.echo(f"  flagged {note}")


@import_app.command("odm")
def import_odm_command(
    file: Path = typer.Argument(..., help="A CDISC ODM 1.3 file (an OpenClinica 3 full extract)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be created, updated or unchanged; write nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create (or check) a study from an ODM file and import its records and history, audited."""
    url = _import_url(db)
    plan = _interop().import_odm(url, file, dry_run=dry_run, actor=resolve_actor(None))
    if as_json:
        echo_json(plan.as_dict())
        return
    verb = "would import" if dry_run else "imported"
    typer.echo(
        f"{verb} into {plan.study}{' (new study)' if plan.new_study else ''}: "
        f"{len(plan.new_subjects)} new subjects, {len(plan.creates)} records created, "
        f"{len(plan.updates)} updated, {len(plan.unchanged)} unchanged, "
        f"{plan.history} entries of imported history"
    )
    for label, keys in (("create", plan.creates), ("update", plan.updates)):
        for key in keys:
            typer.echo(f"  {label} {key}")


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the main app."""
    app.command("export")(export)
    app.add_typer(import_app, name="import")
