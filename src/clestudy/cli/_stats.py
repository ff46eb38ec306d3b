"""``clestudy stats``: the analysis-plan engine from the command line (thin over clestudy.stats)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from clestudy.cli._common import echo_json
from clestudy.errors import InputError

if TYPE_CHECKING:  # NumPy, pandas and clestudy.stats (SciPy) load in the commands, not at start-up
    import pandas as pd

__all__ = ["register", "stats_app"]

stats_app = typer.Typer(
    name="stats",
    help="Prespecified analyses: paired tests with honest small-sample p-values, and a checker "
    "for published summaries.",
    no_args_is_help=True,
)

MISSING_TEXT = frozenset({"", "NA", "NaN", "nan"})
#: Largest stats CSV read, in bytes (256 MiB): a bound on memory, not a property of the data.
MAX_CSV_BYTES = 256 << 20


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NaN becomes null, NumPy scalars become Python scalars."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_jsonable(dict(row)) for row in frame.to_dict(orient="records")]


def read_long_csv(path: Path, *, max_bytes: int = MAX_CSV_BYTES) -> pd.DataFrame:
    """Read a CSV into text columns indexed by file line number (so errors can name the line).

    Lines starting with ``#`` and blank lines are skipped; ``NA``, ``NaN`` and empty cells are
    missing values. Each line is one record (a quoted field cannot span lines), read in the
    :mod:`csv` module's strict mode: an unclosed quote is an error naming the line, as is a row
    whose field count differs from the header's. Files above ``max_bytes`` are refused.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path}: {size} bytes; a stats CSV is read whole, so at most {max_bytes}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    numbered = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise InputError(f"{path}: no header line; the file is empty")
    rows = [_csv_line(path, number, line) for number, line in numbered]
    header = [name.strip() for name in rows[0]]
    _check_header(path, numbered[0][0], header)
    for (number, _), fields in zip(numbered[1:], rows[1:], strict=True):
        if len(fields) != len(header):
            raise InputError(
                f"{path}: line {number}: {len(fields)} fields, but the header has {len(header)}"
            )
    import pandas as pd

    body = [[None if f.strip() in MISSING_TEXT else f.strip() for f in r] for r in rows[1:]]
    index = pd.Index([number for number, _ in numbered[1:]], name="line")
    return pd.DataFrame(body, columns=header, index=index, dtype=object)


def _csv_line(path: Path, number: int, line: str) -> list[str]:
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as exc:
        raise InputError(f"{path}: line {number}: malformed CSV line: {exc}") from None


def _check_header(path: Path, number: int, header: list[str]) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"{path}: line {number}: column {position} of the header has no name")
        if name in seen:
            raise InputError(f"{path}: line {number}: column {name!r} appears twice in the header")
        seen.add(name)


def _g(value: Any, spec: str = ".4g") -> str:
    """A number for the text output; a statistic that is not defined prints as 'n/a', never nan."""
    import numpy as np

    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def _print_paired(frame: pd.DataFrame) -> None:
    for row in frame.to_dict(orient="records"):
        typer.echo(
            f"{row['measure']}: n = {row['n_pairs']}, mean {_g(row['mean_before'])} -> "
            f"{_g(row['mean_after'])} (difference {_g(row['mean_difference'])})"
        )
        typer.echo(
            f"  t({_g(row['t_df'], '.0f')}) = {_g(row['t_statistic'])}, p = {_g(row['p_t'])}; "
            f"Wilcoxon exact p = {_g(row['p_wilcoxon_exact'])}, asymptotic p = "
            f"{_g(row['p_wilcoxon_asymptotic'])}; sign test p = {_g(row['p_sign'])}"
        )
        typer.echo(
            f"  Hodges-Lehmann {_g(row['hodges_lehmann'])} ({_g(row['hl_ci_low'])} to "
            f"{_g(row['hl_ci_high'])}, achieved level {_g(row['hl_ci_achieved_level'], '.2%')}); "
            f"d_z = {_g(row['cohen_dz'])}"
        )
        verdict = "significant" if row["significant"] else "not significant"
        typer.echo(
            f"  rule {row['rule']}: {verdict}, decided by {row['decided_by']} "
            f"(p = {_g(row['p_decisive'])})"
        )
        for warning in row["warnings"]:
            typer.echo(f"  warning [{warning['code']}]: {warning['message']}")


@stats_app.command("paired")
def paired(
    csv_path: Path = typer.Option(
        ..., "--csv", help="Long CSV: one row per subject x visit, one column per measure."
    ),
    subject: str = typer.Option(..., "--subject", help="Column naming the subject."),
    visit: str = typer.Option(..., "--visit", help="Column naming the visit."),
    before: str = typer.Option(..., "--before", help="Visit label of the first measurement."),
    after: str = typer.Option(..., "--after", help="Visit label of the second measurement."),
    measure: list[str] = typer.Option(
        [], "--measure", help="Measure column (repeat for several; default: all other columns)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    rule: str = typer.Option(
        "t-then-wilcoxon", "--rule", help="Decision rule: t-then-wilcoxon, t, wilcoxon or both."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object a measure."),
) -> None:
    """Compare measures between two visits: paired t, exact and asymptotic Wilcoxon, sign test,
    Hodges-Lehmann with its achieved level, and the rule's decision. Errors name the file line."""
    from clestudy.stats import paired_comparison

    data = read_long_csv(csv_path)
    measures = measure or [c for c in data.columns if c not in (subject, visit)]
    result = paired_comparison(
        data,
        subject=subject,
        visit=visit,
        before=before,
        after=after,
        measures=measures,
        alpha=alpha,
        rule=rule,  # type: ignore[arg-type]  # validated by paired_comparison
        source=str(csv_path),
    )
    if as_json:
        echo_json(_records(result))
    else:
        _print_paired(result)


@stats_app.command("check-summary")
def check_summary(
    n: int = typer.Option(..., "--n", help="Number of pairs."),
    mean_before: str = typer.Option(..., "--mean-before", help="Printed mean, first visit."),
    sd_before: str = typer.Option(..., "--sd-before", help="Printed SD, first visit."),
    mean_after: str = typer.Option(..., "--mean-after", help="Printed mean, second visit."),
    sd_after: str = typer.Option(..., "--sd-after", help="Printed SD, second visit."),
    p_value: str = typer.Option(..., "--p", help="Printed two-sided p ('0.005', '<0.05')."),
    test: str = typer.Option(
        ..., "--test", help="Test named: paired-t, wilcoxon-exact, wilcoxon-asymptotic or sign."
    ),
    granularity: float = typer.Option(
        1.0, "--granularity", help="Step of the raw values for GRIM (1 = integers)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the paper."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object a check."),
) -> None:
    """Check a published paired summary: GRIM, the implied SD of the differences and pre/post
    correlation, and whether the named test can reach the printed p at this n.

    Exit status: 0 if every check is consistent, 1 if any is inconsistent, 2 for bad input."""
    from clestudy.stats import check_published_summary

    result = check_published_summary(
        n=n,
        mean_before=mean_before,
        sd_before=sd_before,
        mean_after=mean_after,
        sd_after=sd_after,
        p_value=p_value,
        test=test,  # type: ignore[arg-type]  # validated by check_published_summary
        granularity=granularity,
        alpha=alpha,
    )
    if as_json:
        echo_json(_records(result))
    else:
        for row in result.to_dict(orient="records"):
            typer.echo(f"{row['status']:>14}  {row['check']}: {row['message']}")
    if (result["status"] == "inconsistent").any():
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``stats`` command group to ``app``."""
    app.add_typer(stats_app, name="stats")
