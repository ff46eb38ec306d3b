"""The z-score interferon signature for RNA-seq or microarray matrices.

Formula (``reference/instruments.md`` §7.4; Kirou KA et al., *Arthritis Rheum* 2005;52:1491-503,
doi:10.1002/art.21031, sum form; Feng X et al., *Arthritis Rheum* 2006;54:2951-62,
doi:10.1002/art.22044)::

    z_gs    = (x_gs - mean_HC(x_g)) / sd_HC(x_g)      # x = log2 normalised expression
    score_s = sum_g z_gs      (aggregate="sum")   or   mean_g z_gs   (aggregate="mean")
    positive when score_s > mean_HC(score) + 2 * sd_HC(score)

The healthy-control scores that set the threshold are computed leave-one-out (each control is
scored against the other controls), so a control does not define its own reference. Median
fold-change (qPCR) scores and z-scores are not interchangeable.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from clestudy.immuno._errors import PlateFileError
from clestudy.immuno._qpcr import DEFAULT_IFN_GENES

__all__ = ["ifn_zscore"]

#: Fewest healthy controls with which the leave-one-out SD is defined (``instruments.md`` §7.4).
MIN_CONTROLS = 3


def ifn_zscore(
    expression: pd.DataFrame,
    control_samples: Collection[str],
    *,
    genes: Sequence[str] = DEFAULT_IFN_GENES,
    aggregate: Literal["sum", "mean"] = "sum",
) -> pd.DataFrame:
    """Score samples by summed (or mean) z-scores of interferon genes against healthy controls.

    Parameters
    ----------
    expression
        Rows are samples (index = sample id), columns genes, values log2 normalised expression.
    control_samples
        The ids of the healthy controls (at least 3).
    genes
        Genes to score; every one must be a column of ``expression``.
    aggregate
        ``"sum"`` (Kirou 2005) or ``"mean"`` of the gene z-scores; the threshold scale follows.

    Returns
    -------
    pandas.DataFrame
        ``sample, is_control, ifn_zscore, threshold, positive, method``.

    Raises
    ------
    PlateFileError
        A missing gene, an unknown control or fewer than 3 controls.

    Examples
    --------
    >>> x = pd.DataFrame({"IFI27": [1.0, 2.0, 3.0, 9.0]}, index=["c1", "c2", "c3", "p1"])
    >>> out = ifn_zscore(x, ["c1", "c2", "c3"], genes=["IFI27"])
    >>> float(out.set_index("sample").loc["p1", "ifn_zscore"])  # (9 - 2) / 1
    7.0
    """
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise PlateFileError(f"expression matrix: gene(s) {', '.join(missing)} not in the columns")
    controls = [str(c) for c in control_samples]
    unknown = [c for c in controls if c not in expression.index]
    if unknown:
        raise PlateFileError(f"expression matrix: control sample {unknown[0]} not in the rows")
    if len(set(controls)) < MIN_CONTROLS:
        raise PlateFileError(
            f"expression matrix: {len(set(controls))} healthy control(s); at least "
            f"{MIN_CONTROLS} are needed for a control SD"
        )
    x = expression[list(genes)].astype(float)
    hc = x.loc[controls]
    scores = _aggregate((x - hc.mean()) / hc.std(ddof=1), aggregate)
    loo = []
    for c in controls:
        others = hc.drop(index=c)
        z_c = (x.loc[[c]] - others.mean()) / others.std(ddof=1)
        loo.append(float(_aggregate(z_c, aggregate).iloc[0]))
    scores.loc[controls] = loo
    threshold = float(np.mean(loo) + 2 * np.std(loo, ddof=1))
    is_control = x.index.isin(controls)
    return pd.DataFrame(
        {
            "sample": x.index.astype(str),
            "is_control": is_control,
            "ifn_zscore": scores.to_numpy(dtype=float),
            "threshold": threshold,
            "positive": scores.to_numpy(dtype=float) > threshold,
            "method": f"zscore_{aggregate}",
        }
    )


def _aggregate(z: pd.DataFrame, aggregate: str) -> pd.Series:
    return z.sum(axis=1) if aggregate == "sum" else z.mean(axis=1)
