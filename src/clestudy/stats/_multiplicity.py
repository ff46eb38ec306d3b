"""Multiplicity adjustment across a plan's secondary endpoints: Holm and Benjamini-Hochberg."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from clestudy.errors import InputError

__all__ = ["METHOD_BH", "METHOD_HOLM", "adjust_p_values"]

METHOD_HOLM = "Holm step-down (family-wise error rate; statsmodels multipletests method='holm')"
METHOD_BH = (
    "Benjamini-Hochberg step-up (false discovery rate; statsmodels multipletests method='fdr_bh')"
)


def adjust_p_values(
    p_values: Mapping[str, float] | pd.Series, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Holm and Benjamini-Hochberg adjusted p-values, side by side with the raw ones.

    With m p-values sorted p_(1) <= ... <= p_(m):

    * Holm (1979), Scand. J. Statist. 6:65-70: p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j));
      controls the family-wise error rate.
    * Benjamini & Hochberg (1995), J. R. Stat. Soc. B 57:289-300,
      doi:10.1111/j.2517-6161.1995.tb02031.x: p~_(i) = min_{j >= i} min(1, m p_(j) / j); controls
      the false discovery rate under independence or positive dependence.

    Missing (NaN) p-values are not part of the family: they stay NaN and do not count in m.
    Validated against R 4.2.2 ``p.adjust(p, "holm")`` and ``p.adjust(p, "BH")``
    (tests/stats/data/r_reference.json).

    Parameters
    ----------
    p_values : mapping or pandas.Series
        Endpoint name -> raw two-sided p-value.
    alpha : float
        Level at which ``significant_*`` is decided.

    Returns
    -------
    pandas.DataFrame
        One row per endpoint, in the order given: ``endpoint``, ``p_raw``, ``p_holm``, ``p_bh``,
        ``significant_raw``, ``significant_holm``, ``significant_bh``, ``n_tests``,
        ``method_holm``, ``method_bh``.

    Examples
    --------
    >>> out = adjust_p_values({"clasi_a": 0.01, "esr": 0.04, "c3": 0.03})
    >>> out["p_holm"].round(6).tolist(), out["p_bh"].round(6).tolist()
    ([0.03, 0.06, 0.06], [0.03, 0.04, 0.04])
    """
    if not 0 < alpha < 1:
        raise InputError(f"adjust_p_values: alpha = {alpha!r}; allowed: 0 < alpha < 1")
    series = pd.Series(p_values, dtype=object)
    names = [str(name) for name in series.index]
    if len(set(names)) != len(names):
        raise InputError(f"adjust_p_values: an endpoint is named twice in {names!r}")
    raw = np.empty(len(series))
    for i, (name, value) in enumerate(zip(names, series.tolist(), strict=True)):
        try:
            number = math.nan if value is None else float(value)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"adjust_p_values: endpoint {name!r}: p = {value!r} is not a number"
            ) from exc
        if not (math.isnan(number) or 0 <= number <= 1):
            raise InputError(
                f"adjust_p_values: endpoint {name!r}: p = {value!r}; allowed: 0 <= p <= 1"
            )
        raw[i] = number
    present = ~np.isnan(raw)
    holm = np.full(raw.shape, math.nan)
    bh = np.full(raw.shape, math.nan)
    if present.any():
        holm[present] = multipletests(raw[present], alpha=alpha, method="holm")[1]
        bh[present] = multipletests(raw[present], alpha=alpha, method="fdr_bh")[1]
    return pd.DataFrame(
        {
            "endpoint": names,
            "p_raw": raw,
            "p_holm": holm,
            "p_bh": bh,
            "significant_raw": raw < alpha,
            "significant_holm": holm < alpha,
            "significant_bh": bh < alpha,
            "n_tests": int(present.sum()),
            "method_holm": METHOD_HOLM,
            "method_bh": METHOD_BH,
        }
    )
