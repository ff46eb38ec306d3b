"""qPCR plate exports to the 6-gene type I interferon score of Rice et al.

The score follows Rice GI et al., *Lancet Neurol* 2013;12:1159-69, doi:10.1016/S1474-4422(13)70258-8,
as reproduced in ``reference/instruments.md`` §7.1::

    dCt_g(s)  = Ct_g(s) - mean(Ct_ref(s))            # mean over the reference genes
    RQ_g(s)   = 2 ** -(dCt_g(s) - dCt_g(calibrator))
    FC_g(s)   = RQ_g(s) / median over healthy controls c of RQ_g(c)   # linear scale
    score(s)  = median over the genes g of FC_g(s);  positive when score > threshold

The calibrator cancels out of ``FC`` (it divides numerator and denominator alike); clestudy uses
the mean control dCt as calibrator. The median of the controls is taken on the *linear* RQ scale,
which differs from ``2 ** -median(dCt)`` when the number of controls is even.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from clestudy.errors import InputError
from clestudy.immuno._csv import parse_number, read_text_table
from clestudy.immuno._errors import PlateFileError

__all__ = [
    "DEFAULT_IFN_GENES",
    "DEFAULT_REFERENCE_GENES",
    "RICE_2013_THRESHOLD",
    "IfnScoreResult",
    "QpcrSettings",
    "ifn_score",
    "ifn_score_records",
    "read_plate_csv",
]

#: The six interferon-stimulated genes of Rice et al. 2013 (``reference/instruments.md`` §7.1).
DEFAULT_IFN_GENES: tuple[str, ...] = ("IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1")
#: Reference genes of the same protocol: HPRT1 and 18S rRNA.
DEFAULT_REFERENCE_GENES: tuple[str, ...] = ("HPRT1", "18S")
#: Positivity cut-off of Rice et al. 2013 (mean + 2 SD of their 29 healthy controls). It holds only
#: for that assay and control set; a lab with its own controls should derive its own.
RICE_2013_THRESHOLD = 2.466

UndeterminedRule = Literal["max_cycle", "drop"]


@dataclass(frozen=True)
class QpcrSettings:
    """Settings of the interferon score; every default cites its source.

    Attributes
    ----------
    genes, reference_genes
        Target and reference genes (Rice et al. 2013, ``reference/instruments.md`` §7.1).
    threshold
        Positive when the score is strictly above it; default 2.466 (Rice et al. 2013).
    undetermined
        ``"max_cycle"`` replaces an ``Undetermined`` Ct by ``max_cycle`` (censoring at the limit of
        detection, as in ``reference/statistics-and-flow.md`` §4); ``"drop"`` removes the well and
        warns.
    max_cycle
        The number of cycles of the run; 40 is the standard TaqMan cycling programme.
    replicate_sd_max
        Technical replicates whose Ct SD exceeds this many cycles are averaged with a warning;
        0.5 cycles as in ``reference/statistics-and-flow.md`` §4.
    control_value
        The value of the sample-type column that marks a healthy control.
    """

    genes: tuple[str, ...] = DEFAULT_IFN_GENES
    reference_genes: tuple[str, ...] = DEFAULT_REFERENCE_GENES
    threshold: float = RICE_2013_THRESHOLD
    undetermined: UndeterminedRule = "max_cycle"
    max_cycle: float = 40.0
    replicate_sd_max: float = 0.5
    control_value: str = "control"

    def __post_init__(self) -> None:
        numbers = {"max_cycle": self.max_cycle, "replicate_sd_max": self.replicate_sd_max}
        for name, value in numbers.items():
            if not (math.isfinite(value) and value >= 0):
                raise InputError(
                    f"qPCR settings: {name} = {value!r}; allowed: a finite number >= 0"
                )
        if self.max_cycle == 0:
            raise InputError("qPCR settings: max_cycle = 0; allowed: the run's cycle count, > 0")
        if not math.isfinite(self.threshold):
            raise InputError(f"qPCR settings: threshold = {self.threshold!r}; allowed: finite")
        if not self.genes or not self.reference_genes:
            raise InputError("qPCR settings: at least one target and one reference gene needed")


@dataclass(frozen=True)
class IfnScoreResult:
    """Scores, per-gene fold changes, replicate summaries and the warnings raised on the way."""

    scores: pd.DataFrame
    fold_changes: pd.DataFrame
    replicates: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())


_UNDETERMINED = "undetermined"


def read_plate_csv(path: str | Path, *, sample_type_column: str = "sample_type") -> pd.DataFrame:
    """Read a plate export CSV with the columns ``sample, gene, ct`` (+ ``well``, sample type).

    Column names are matched case-insensitively. ``ct`` holds a number or ``Undetermined``.

    Returns
    -------
    pandas.DataFrame
        Columns ``sample, gene, ct`` (NaN where undetermined), ``undetermined`` (bool),
        ``sample_type``, ``well`` and ``line`` (the CSV line number, for messages).

    Raises
    ------
    PlateFileError
        A missing, empty or malformed file (see :func:`~clestudy.immuno._csv.read_text_table`),
        a missing column, an empty sample, gene or sample type, or a Ct that is neither a finite
        number >= 0 nor ``Undetermined``. A Ct beyond the run's cycles is refused by
        :func:`ifn_score`, which knows the cycle count.
    """
    path = Path(path)
    raw = read_text_table(path, what="plate export", error=PlateFileError)
    columns = {str(c).lower(): str(c) for c in raw.columns}
    wanted = ["sample", "gene", "ct", sample_type_column.lower()]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise PlateFileError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(raw.columns)}"
        )
    out = pd.DataFrame(
        {
            "sample": raw[columns["sample"]].to_numpy(),
            "gene": raw[columns["gene"]].to_numpy(),
            "sample_type": raw[columns[sample_type_column.lower()]].to_numpy(),
            "well": raw[columns["well"]].to_numpy() if "well" in columns else "",
            "line": raw.index.to_numpy(),
        }
    )
    for column in ("sample", "gene", sample_type_column.lower()):
        empty = raw[columns[column]].eq("")
        if empty.any():
            raise PlateFileError(f"{path}: line {raw.index[empty][0]}: {column} is empty")
    cts: list[float] = []
    for line, text in zip(out["line"], raw[columns["ct"]], strict=True):
        value = str(text)
        if value.lower() == _UNDETERMINED:
            cts.append(math.nan)
            continue
        where = f"{path}: line {line}: ct"
        try:
            float(value)
        except ValueError:
            raise PlateFileError(
                f"{where}: {value!r} is neither a number nor 'Undetermined'"
            ) from None
        cts.append(parse_number(value, where=where, error=PlateFileError, minimum=0.0))
    out.insert(2, "ct", cts)
    out.insert(3, "undetermined", out["ct"].isna())
    out.attrs["source"] = str(path)
    return out


def ifn_score(plate: pd.DataFrame, settings: QpcrSettings | None = None) -> IfnScoreResult:
    """Compute the 6-gene interferon score (Rice et al. 2013) of every sample on a plate.

    Parameters
    ----------
    plate
        As returned by :func:`read_plate_csv`: ``sample, gene, ct, undetermined, sample_type``.
    settings
        Gene sets, threshold, Undetermined rule and replicate SD limit (:class:`QpcrSettings`).

    Returns
    -------
    IfnScoreResult
        ``scores`` has one row per sample (controls included): ``sample, sample_type,
        is_control, ifn_score, positive, threshold, method``; ``fold_changes`` one row per sample
        and gene: ``sample, gene, delta_ct, rq, fold_change``.

    Raises
    ------
    PlateFileError
        No control sample, a sample with two sample types, a gene without a usable Ct, a Ct
        above ``settings.max_cycle`` (a Ct counts cycles, so it cannot exceed the run's cycle
        count: MIQE, Bustin SA et al., Clin Chem 2009;55:611-22, doi:10.1373/clinchem.2008.112797),
        or Cts so far apart that a fold change is not a finite number.

    Notes
    -----
    Formula in the module docstring. Source: Rice GI et al., Lancet Neurol 2013;12:1159-69,
    doi:10.1016/S1474-4422(13)70258-8; ``reference/instruments.md`` §7.1.

    Examples
    --------
    >>> rows = []
    >>> for sample, kind, ct in [("HC1", "control", 30.0), ("HC2", "control", 32.0),
    ...                          ("P1", "case", 27.0)]:
    ...     rows += [dict(sample=sample, sample_type=kind, gene="IFI27", ct=ct),
    ...              dict(sample=sample, sample_type=kind, gene="HPRT1", ct=20.0)]
    >>> plate = pd.DataFrame(rows)
    >>> plate["undetermined"] = False
    >>> s = QpcrSettings(genes=("IFI27",), reference_genes=("HPRT1",))
    >>> result = ifn_score(plate, s)
    >>> # controls RQ 2 and 0.5 (vs mean dCt 11): median 1.25; P1 RQ 16 -> 16/1.25 = 12.8
    >>> float(result.scores.set_index("sample").loc["P1", "ifn_score"])
    12.8
    """
    s = settings or QpcrSettings()
    source = str(plate.attrs.get("source", "plate"))
    _check_cycles(plate, s, source)
    warnings: list[str] = []
    plate = _apply_undetermined(plate, s, warnings)
    replicates = _summarise_replicates(plate, s, warnings)
    types = _sample_types(plate, s)
    ct = replicates.pivot(index="sample", columns="gene", values="ct_mean")
    usable = ct.notna()
    for gene in (*s.reference_genes, *s.genes):
        absent = [
            str(x) for x in types.index if gene not in ct.columns or not bool(usable.at[x, gene])
        ]
        if absent:
            raise PlateFileError(
                f"sample {absent[0]}: gene {gene}: no usable Ct (needed: "
                f"{', '.join((*s.reference_genes, *s.genes))})"
            )
    ct = ct.loc[types.index]
    is_control = types == s.control_value.lower()
    if not is_control.any():
        raise PlateFileError(
            f"no healthy control on the plate: no sample has sample type {s.control_value!r}"
        )
    delta_ct, rq, fold, score = _fold_changes(ct, is_control, s, source)
    scores = pd.DataFrame(
        {
            "sample": types.index.astype(str),
            "sample_type": types.to_numpy(),
            "is_control": is_control.to_numpy(),
            "ifn_score": score.to_numpy(dtype=float),
            "positive": (score > s.threshold).to_numpy(),
            "threshold": s.threshold,
            "method": "rice2013_median_fold_change",
        }
    )
    long = pd.DataFrame(
        {
            "sample": np.repeat(types.index.astype(str), len(s.genes)),
            "gene": np.tile(np.array(s.genes, dtype=object), len(types)),
            "delta_ct": delta_ct.to_numpy(dtype=float).ravel(),
            "rq": rq.to_numpy(dtype=float).ravel(),
            "fold_change": fold.to_numpy(dtype=float).ravel(),
        }
    )
    return IfnScoreResult(scores, long, replicates, tuple(warnings))


def _check_cycles(plate: pd.DataFrame, s: QpcrSettings, source: str) -> None:
    """A Ct counts PCR cycles: above the run's cycle count it cannot have been measured (MIQE)."""
    above = plate["ct"].to_numpy(dtype=float) > s.max_cycle
    if above.any():
        row = plate[above].iloc[0]
        where = f"{source}: line {row['line']}" if "line" in plate.columns else source
        raise PlateFileError(
            f"{where}: ct: {float(row['ct']):g} (sample {row['sample']}, gene {row['gene']}) is "
            f"above the run's {s.max_cycle:g} cycles; allowed: 0 to max_cycle (set it to the "
            "cycle count of the run)"
        )


def _fold_changes(
    ct: pd.DataFrame, is_control: pd.Series, s: QpcrSettings, source: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """dCt, RQ, fold changes and scores (module docstring); a non-finite result is an error."""
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        delta_ct = ct[list(s.genes)].sub(ct[list(s.reference_genes)].mean(axis=1), axis=0)
        calibrator = delta_ct[is_control].mean(axis=0)
        rq: pd.DataFrame = 2.0 ** (-(delta_ct - calibrator))
        fold = rq / rq[is_control].median(axis=0)
        score = fold.median(axis=1)
    values = fold.to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i, j = (int(k[0]) for k in np.nonzero(bad))
        raise PlateFileError(
            f"{source}: sample {fold.index[i]}, gene {fold.columns[j]}: the fold change "
            f"underflows or overflows floating point ({float(values[i, j])!r}); the Cts of "
            "this gene are too far apart from its controls' to be scored"
        )
    return delta_ct, rq, fold, score


def _apply_undetermined(plate: pd.DataFrame, s: QpcrSettings, warnings: list[str]) -> pd.DataFrame:
    plate = plate.copy()
    undetermined = plate["undetermined"].astype(bool) | plate["ct"].isna()
    for _, row in plate[undetermined].iterrows():
        where = f"sample {row['sample']}, gene {row['gene']}"
        if "well" in plate.columns and row["well"]:
            where += f", well {row['well']}"
        if s.undetermined == "drop":
            warnings.append(f"{where}: Undetermined Ct dropped")
        else:
            warnings.append(f"{where}: Undetermined Ct set to the maximum cycle {s.max_cycle:g}")
    if s.undetermined == "drop":
        return plate[~undetermined]
    plate.loc[undetermined, "ct"] = s.max_cycle
    return plate


def _summarise_replicates(
    plate: pd.DataFrame, s: QpcrSettings, warnings: list[str]
) -> pd.DataFrame:
    grouped = plate.groupby(["sample", "gene"], sort=False)["ct"]
    summary = grouped.agg(["mean", "std", "count"]).reset_index()
    summary.columns = pd.Index(["sample", "gene", "ct_mean", "ct_sd", "n_replicates"])
    for rec in summary.to_dict("records"):
        sd = float(rec["ct_sd"])
        if math.isfinite(sd) and sd > s.replicate_sd_max:
            warnings.append(
                f"sample {rec['sample']}, gene {rec['gene']}: replicate Ct SD {sd:.3g} "
                f"exceeds {s.replicate_sd_max:g}; replicates averaged"
            )
    return summary


def _sample_types(plate: pd.DataFrame, s: QpcrSettings) -> pd.Series:
    types = plate.groupby("sample", sort=False)["sample_type"].agg(
        lambda v: sorted({str(x).strip().lower() for x in v})
    )
    for sample, values in types.items():
        if len(values) != 1:
            raise PlateFileError(
                f"sample {sample}: sample type must be one value, got {', '.join(values)}"
            )
    return types.map(lambda v: v[0])


def ifn_score_records(result: IfnScoreResult, genes: Sequence[str]) -> list[dict[str, object]]:
    """One JSON-ready object per case sample: ``sample, ifn_score, positive, fold_changes``."""
    fold = {
        (str(r["sample"]), str(r["gene"])): float(r["fold_change"])
        for r in result.fold_changes.to_dict("records")
    }
    out: list[dict[str, object]] = []
    for rec in result.scores[~result.scores["is_control"]].to_dict("records"):
        sample = str(rec["sample"])
        out.append(
            {
                "sample": sample,
                "ifn_score": float(rec["ifn_score"]),
                "positive": bool(rec["positive"]),
                "fold_changes": {g: fold[(sample, g)] for g in genes},
            }
        )
    return out
