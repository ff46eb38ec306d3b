"""``clestudy flow gate|template``: FCS files to populations (shared options in ``_immuno``)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import typer

from clestudy.cli._common import echo_json
from clestudy.cli._immuno import (
    DEFAULT_FORM,
    ActorOption,
    DbOption,
    FormOption,
    JsonOption,
    StudyOption,
    print_table,
    store_lab_values,
    study_ids,
    warn_lines,
)
from clestudy.errors import ClestudyError, InputError

__all__ = ["flow_app"]

flow_app = typer.Typer(help="Flow cytometry: gate FCS files with FlowKit.", no_args_is_help=True)


@flow_app.command("gate")
def flow_gate(
    fcs_files: list[Path] = typer.Argument(None, help="FCS files (without --manifest)."),
    strategy: Path = typer.Option(..., "--strategy", help="Gating-ML 2.0 file or FlowJo .wsp."),
    manifest: Path | None = typer.Option(
        None,
        "--manifest",
        help="CSV: file,subject_id,visit_id,sample_date[,beads_per_test,volume_ul].",
    ),
    db: DbOption = None,
    study: StudyOption = None,
    form: FormOption = DEFAULT_FORM,
    field: list[str] = typer.Option(
        [],
        "--field",
        help="FIELD=GATE:METRIC to store with --db (metric: count, percent_parent, percent_total, percent_reference, absolute_count_per_ul, median_<CHANNEL>).",
    ),
    reference: str | None = typer.Option(None, "--reference", help="Gate for percent_reference."),
    median: list[str] = typer.Option(
        [], "--median", help="Channel whose median to report (repeat)."
    ),
    min_events: int = typer.Option(100, "--min-events", help="Warn below this many events."),
    bead_gate: str | None = typer.Option(None, "--bead-gate", help="Gate of the counting beads."),
    compensation: Path | None = typer.Option(
        None, "--compensation", help="Spillover matrix file used instead of $SPILL."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Worker processes (default: CPUs)."),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        envvar="CLESTUDY_DASK_SCHEDULER",
        help="Gate on this Dask cluster (tcp://HOST:PORT) instead of local processes; its workers read the FCS files by path.",
    ),
    task_events: int | None = typer.Option(
        None,
        "--task-events",
        help="With --scheduler: gate a file of more events than this as one task per this many events (default 1048576; 0: one task per file).",
    ),
    keep_going: bool = typer.Option(
        False,
        "--keep-going",
        help="Report failed files and go on: print or store the files that gated, then exit 1.",
    ),
    ignore_offset_error: bool = typer.Option(
        False, "--ignore-offset-error", help="Read files whose data offset is off by one."
    ),
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Gate FCS files with a strategy; print populations per sample and gate, or store them."""
    from clestudy.immuno import FlowOptions, flow_lab_values, parse_field_map, population_rows

    fields = parse_field_map(field)
    _check_flow_options(fields, db, manifest, fcs_files)
    if scheduler and workers is not None:
        raise InputError(
            "--workers sets local processes; with --scheduler the cluster's workers gate"
        )
    if task_events is not None and not scheduler:
        raise InputError("--task-events splits large files into Dask tasks: it needs --scheduler")
    if task_events is not None and task_events < 0:
        raise InputError(f"--task-events must be 0 or positive, not {task_events}")
    paths, samples, beads = _flow_samples(fcs_files, manifest, db, study, actor)
    options = FlowOptions(
        reference_gate=reference,
        median_channels=tuple(median),
        min_events=min_events,
        bead_gate=bead_gate,
        compensation_file=None if compensation is None else str(compensation),
        ignore_offset_error=ignore_offset_error,
    )
    failed: dict[str, str] = {}
    parallel = {"scheduler": scheduler, "task_events": task_events} if scheduler else {}
    results = _gate(
        paths, strategy, options, beads, workers, parallel, failed if keep_going else None
    )
    if failed:
        # the good files only: drop the manifest rows of the files that failed
        kept = [i for i, p in enumerate(paths) if p not in failed]
        samples = [samples[i] for i in kept] if samples else samples
    meta = [{"subject_id": m["subject_id"], "visit_id": m["visit_id"]} for m in samples]
    full = population_rows(results, meta)
    if db is not None and results:
        rows = flow_lab_values(results, samples, fields)
        store_lab_values(db, study, form, rows, f"flow gating with {strategy.name}", actor)
    if as_json:
        _print_flow_json(results, full, meta, summary=not (median or reference or bead_gate))
    else:
        columns = ["sample", "gate", "parent", "count", "percent_parent"]
        columns += ["percent_reference"] if reference else []
        columns += ["absolute_count_per_ul"] if bead_gate else []
        print_table(full, [*columns, *(f"median_{c}" for c in median)])
    if failed:
        raise FlowBatchError(
            f"{len(failed)} of {len(paths)} FCS file(s) failed (listed above as 'failed:'); "
            f"the other {len(paths) - len(failed)} were gated"
            + (" and stored" if db is not None else "")
        )


def _check_flow_options(
    fields: dict[str, Any], db: str | None, manifest: Path | None, fcs_files: list[Path] | None
) -> None:
    if fields and db is None:
        # without a database nothing is stored, so a field map would be silently ignored
        raise InputError("--field needs --db: it says which values to store in the database")
    if db is not None and manifest is None:
        raise InputError("--db needs --manifest (which subject and visit each file belongs to)")
    if db is not None and not fields:
        raise InputError("--db needs at least one --field FIELD=GATE:METRIC to store")
    if manifest is not None and fcs_files:
        raise InputError("give FCS files either on the command line or in --manifest, not both")
    if manifest is None and not fcs_files:
        raise InputError("no FCS files: give them as arguments or with --manifest")


def _flow_samples(
    fcs_files: list[Path] | None,
    manifest: Path | None,
    db: str | None,
    study: str | None,
    actor: str | None,
) -> tuple[list[str], list[dict[str, str]], list[Any]]:
    """The files to gate, their manifest rows (subject, visit, sample date) and counting beads."""
    from clestudy.immuno import beads_from_manifest, read_manifest

    if manifest is None:
        paths = [str(p) for p in fcs_files or []]
        return paths, [], [None] * len(paths)
    subjects, visits = study_ids(db, study, actor)
    table = read_manifest(manifest, known_subjects=subjects, known_visits=visits)
    samples = [
        {"subject_id": str(s), "visit_id": str(v), "sample_date": str(d)}
        for s, v, d in zip(
            table["subject_id"], table["visit_id"], table["sample_date"], strict=True
        )
    ]
    return [str(p) for p in table["path"]], samples, beads_from_manifest(table, manifest)


class FlowBatchError(ClestudyError):
    """Some files of a ``--keep-going`` batch failed (the others were reported or stored)."""


#: The library's hint names its Python argument; a CLI user needs the flag.
_CLI_HINT = "read it anyway with --ignore-offset-error, then review its events"


def _gate(
    paths: list[str],
    strategy: Path,
    options: Any,
    beads: list[Any],
    workers: int | None,
    cluster: dict[str, Any],
    failed: dict[str, str] | None,
) -> Any:
    """Gate every file (locally, or on the Dask cluster of ``cluster["scheduler"]``); print each
    file's total events and warnings on stderr (QC). With ``failed`` (``--keep-going``), failed
    files are printed, recorded there and left out instead of failing the batch."""
    from clestudy.immuno import OFFSET_ERROR_HINT, FcsFileError, gate_batch

    def record(path: str, exc: Exception) -> None:
        assert failed is not None
        failed[path] = str(exc).replace(OFFSET_ERROR_HINT, _CLI_HINT)
        typer.echo(f"failed: {failed[path]}", err=True)

    on_error = None if failed is None else record
    if cluster:
        from clestudy.immuno._dask import gate_batch_dask  # dask loads only for a cluster run

        given = {k: v for k, v in cluster.items() if v is not None}
        run = functools.partial(gate_batch_dask, on_error=on_error, **given)
    else:
        run = functools.partial(gate_batch, workers=workers, on_error=on_error)
    try:
        results = _run_batch(paths, strategy, options, beads, run)
    except FcsFileError as exc:
        if OFFSET_ERROR_HINT not in str(exc):
            raise
        raise FcsFileError(str(exc).replace(OFFSET_ERROR_HINT, _CLI_HINT)) from None
    for r in results:
        # QC: every file's total events, then its warnings (stderr: --json output stays clean)
        typer.echo(f"qc: {r.path}: {r.n_events} events in total", err=True)
        warn_lines(r.warnings)
    return results


def _print_flow_json(
    results: Any, full: list[dict[str, Any]], meta: list[dict[str, str]], *, summary: bool
) -> None:
    """Every column when medians, a reference or beads were asked for, else the summary rows."""
    from clestudy.immuno import population_records

    if not summary:
        echo_json(full)
        return
    rows = population_records(results)
    if meta:
        for row, extra in zip(rows, full, strict=True):
            row.update(subject_id=extra["subject_id"], visit_id=extra["visit_id"])
    echo_json(rows)


def _run_batch(paths: list[str], strategy: Path, options: Any, beads: list[Any], run: Any) -> Any:
    if not sys.stderr.isatty():
        return run(paths, strategy, options, beads=beads)
    from rich.console import Console
    from rich.progress import Progress

    # the bar's refresh thread starts with the first report, after the workers were forked: a
    # fork while another thread holds a lock (of stderr, say) could hang a worker. It draws on
    # stderr: stdout carries the table or the --json output
    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task("gating", total=len(paths))

    def report(done: int, total: int, path: str) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done)

    try:
        return run(paths, strategy, options, beads=beads, progress=report)
    finally:
        bar.stop()


@flow_app.command("template")
def flow_template(
    name: str = typer.Argument(..., help="activated_t, monocyte_hladr, pdc or treg."),
) -> None:
    """Print a packaged Gating-ML template; save it, then set your panel's channels and thresholds."""
    from clestudy.immuno import template_path

    typer.echo(template_path(name).read_text(encoding="utf-8"), nl=False)
