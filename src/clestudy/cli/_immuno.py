"""``clestudy flow``, ``clestudy qpcr`` and ``clestudy ihc``: lab files to biomarker tables.

This module holds ``qpcr`` and ``ihc`` and what the three share (options, storing, tables);
``flow`` lives in :mod:`clestudy.cli._flow`.

Each command prints a table (or JSON with ``--json``) without a database; with ``--db`` it also
stores the values as records of the ``immune_profile`` form (one transaction for the whole batch:
nothing is stored when any file fails), audited under ``--actor`` (default ``$CLESTUDY_ACTOR``,
else the operating-system user, as every capture command). The mapping from results to form
fields is explicit: ``--field FIELD=GATE:METRIC`` for flow, fixed names for qPCR and IHC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from clestudy.cli._audit import database_url
from clestudy.cli._common import ACTOR_HELP, echo_json, resolve_actor
from clestudy.errors import InputError

__all__ = ["register"]

qpcr_app = typer.Typer(help="qPCR: type I interferon score.", no_args_is_help=True)
ihc_app = typer.Typer(help="Skin IHC: QuPath measurements to densities.", no_args_is_help=True)

DEFAULT_STUDY = "lenalidomide-cle-open-label"
DEFAULT_FORM = "immune_profile"
STUDY_HELP = (
    "Study id in the database, built-in protocol or protocol YAML; manifest visits are checked "
    f"against it (default {DEFAULT_STUDY})."
)
FORM_HELP = "Form that receives the values when storing with --db."
# options shared by the flow, qpcr and ihc commands
# Lab results are stored only when --db is given, never from $CLESTUDY_DATABASE_URL alone: a
# preview of a plate must not write to the study database by accident.
STORE_DB_HELP = (
    "Store the results in this database (URL, or a path to a SQLite file); without --db the "
    "results are only printed."
)
DbOption = Annotated[str | None, typer.Option("--db", help=STORE_DB_HELP)]
StudyOption = Annotated[str | None, typer.Option("--study", help=STUDY_HELP)]
FormOption = Annotated[str, typer.Option("--form", help=FORM_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ActorOption = Annotated[str | None, typer.Option("--actor", help=ACTOR_HELP)]


def study_ids(
    db: str | None, study: str | None, actor: str | None = None
) -> tuple[set[str] | None, set[str] | None]:
    """Known subjects (from the store, with --db) and visits (from the protocol)."""
    if db is not None:
        from clestudy.store import open_store

        with open_store(
            database_url(db), study or DEFAULT_STUDY, actor=resolve_actor(actor)
        ) as store:
            subjects = {s.subject_id for s in store.subjects()}
            return subjects, {v.id for v in store.protocol.visits}
    from clestudy.protocol import load_protocol

    return None, {v.id for v in load_protocol(study or DEFAULT_STUDY).visits}


def store_lab_values(
    db: str, study: str | None, form: str, rows: Sequence[Any], reason: str, actor: str | None
) -> None:
    """Merge the rows (:class:`~clestudy.immuno.LabValues`) into ``form``'s records, one
    transaction, and say how many records were saved."""
    from clestudy.store import open_store, save_lab_values

    who = resolve_actor(actor)
    with open_store(database_url(db), study or DEFAULT_STUDY, actor=who) as store:
        n = save_lab_values(store, form, rows, actor=who, reason=reason)
    typer.echo(f"stored {n} {form} record(s)", err=True)


def _dict_rows(table: Any) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in rec.items()} for rec in table.to_dict("records")]


def warn_lines(lines: Sequence[str]) -> None:
    for line in lines:
        typer.echo(f"warning: {line}", err=True)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append(f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v)))
        table.add_row(*cells)
    Console(width=200).print(table)


@qpcr_app.command("ifn-score")
def qpcr_ifn_score(
    ct: Path = typer.Option(..., "--ct", help="Plate CSV: sample, gene, ct, sample_type[, well]."),
    controls_from_column: str = typer.Option(
        "sample_type", "--controls-from-column", help="Column marking healthy controls."
    ),
    control_value: str = typer.Option(
        "control", "--control-value", help="Value of that column for a healthy control."
    ),
    genes: str | None = typer.Option(
        None, "--genes", help="Comma-separated target genes (default: the 6 of Rice 2013)."
    ),
    reference_genes: str | None = typer.Option(
        None, "--reference-genes", help="Comma-separated reference genes (default HPRT1,18S)."
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Positive above this score (default 2.466, Rice 2013; valid only for that assay and controls).",
    ),
    undetermined: str = typer.Option(
        "max_cycle",
        "--undetermined",
        help="'max_cycle' (censor at --max-cycle) or 'drop' (drop with a warning).",
    ),
    max_cycle: float = typer.Option(40.0, "--max-cycle", help="Cycle number of the run."),
    replicate_sd_max: float = typer.Option(
        0.5, "--replicate-sd-max", help="Warn when replicate Ct SD exceeds this."
    ),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="CSV sample,subject_id,visit_id (needed with --db)."
    ),
    db: DbOption = None,
    study: StudyOption = None,
    form: FormOption = DEFAULT_FORM,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compute the 6-gene interferon score (median fold change vs healthy controls)."""
    from clestudy.immuno import (
        QpcrSettings,
        ifn_score,
        ifn_score_records,
        qpcr_lab_values,
        read_manifest,
        read_plate_csv,
    )

    if undetermined not in ("max_cycle", "drop"):
        raise InputError(f"--undetermined: {undetermined!r} must be 'max_cycle' or 'drop'")
    base = QpcrSettings()
    settings = QpcrSettings(
        genes=_split(genes) or base.genes,
        reference_genes=_split(reference_genes) or base.reference_genes,
        threshold=base.threshold if threshold is None else threshold,
        undetermined="drop" if undetermined == "drop" else "max_cycle",
        max_cycle=max_cycle,
        replicate_sd_max=replicate_sd_max,
        control_value=control_value,
    )
    meta: dict[str, dict[str, Any]] = {}
    if db is not None and manifest is None:
        raise InputError("--db needs --manifest (which subject and visit each sample belongs to)")
    if manifest is not None:
        subjects, visits = study_ids(db, study, actor)
        table = read_manifest(
            manifest,
            key="sample",
            required=("sample", "subject_id", "visit_id"),
            files=False,
            known_subjects=subjects,
            known_visits=visits,
        )
        meta = {str(m["sample"]): m for m in _dict_rows(table)}
    result = ifn_score(read_plate_csv(ct, sample_type_column=controls_from_column), settings)
    warn_lines(result.warnings)
    records = ifn_score_records(result, settings.genes)
    if meta:
        unknown = [r["sample"] for r in records if r["sample"] not in meta]
        if unknown:
            raise InputError(f"{manifest}: sample {unknown[0]} of {ct} is not in the manifest")
        for r in records:
            m = meta[str(r["sample"])]
            r.update(subject_id=m["subject_id"], visit_id=m["visit_id"])
    if db is not None:
        rows = qpcr_lab_values(records)
        store_lab_values(db, study, form, rows, f"interferon score from {ct.name}", actor)
    if as_json:
        echo_json(records)
        return
    print_table([{**r, "fold_changes": None} for r in records], ["sample", "ifn_score", "positive"])


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(g.strip() for g in text.split(",") if g.strip()) if text else ()


@ihc_app.command("import")
def ihc_import(
    measurements: Path = typer.Option(
        ..., "--measurements", help="QuPath annotation or detection export."
    ),
    manifest: Path = typer.Option(..., "--manifest", help="CSV image,subject_id,visit_id,marker."),
    annotations: Path | None = typer.Option(
        None, "--annotations", help="Annotation export with tissue areas (with a detection export)."
    ),
    db: DbOption = None,
    study: StudyOption = None,
    form: FormOption = DEFAULT_FORM,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Positive cells per mm2 (CD3, CD4, CD8, CXCL10) and mucin area fraction per biopsy."""
    from clestudy.immuno import ihc_densities, ihc_lab_values, read_ihc_manifest, read_qupath_csv

    subjects, visits = study_ids(db, study, actor)
    table = read_ihc_manifest(manifest, known_subjects=subjects, known_visits=visits)
    extra = None if annotations is None else read_qupath_csv(annotations)
    dens = ihc_densities(read_qupath_csv(measurements), table, annotations=extra)
    rows = [{k: _finite(v) for k, v in rec.items()} for rec in _dict_rows(dens)]  # NaN -> null
    if db is not None:
        values = ihc_lab_values(dens)
        store_lab_values(db, study, form, values, f"IHC import from {measurements.name}", actor)
    if as_json:
        echo_json(rows)
        return
    print_table(
        rows,
        [
            "subject_id",
            "visit_id",
            "image",
            "marker",
            "area_mm2",
            "positive_per_mm2",
            "stained_area_fraction",
        ],
    )


def register(app: typer.Typer) -> None:
    """Add the ``flow``, ``qpcr`` and ``ihc`` command groups to ``app``."""
    from clestudy.cli._flow import flow_app

    app.add_typer(flow_app, name="flow")
    app.add_typer(qpcr_app, name="qpcr")
    app.add_typer(ihc_app, name="ihc")
