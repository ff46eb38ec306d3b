"""More than two visits: the Friedman test and a linear mixed model of change from baseline."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from statsmodels.regression.mixed_linear_model import MixedLM

from clestudy.errors import InputError
from clestudy.stats._descriptive import quartiles
from clestudy.stats._long_table import check_columns, numeric_column, visit_rows

__all__ = ["change_from_baseline", "friedman_test"]

METHOD_FRIEDMAN = (
    "Friedman rank test (scipy.stats.friedmanchisquare), tie-corrected, chi-square "
    "approximation with k - 1 df; complete cases only"
)
METHOD_MIXED = (
    "linear mixed model (statsmodels MixedLM, REML): visit as a fixed effect (treatment coding, "
    "baseline as reference), random intercept per subject; fixed-effect covariance (X' V^-1 X)^-1 as in R "
    "nlme; Wald z test and interval; uses every observed value (valid if missing values are missing at random)"
)


def _wide(
    data: pd.DataFrame,
    *,
    subject: str,
    visit: str,
    visits: Sequence[Hashable],
    measure: str,
    source: str,
) -> pd.DataFrame:
    """Subjects (rows, in order of first appearance) x visits (columns), NaN where missing."""
    if len(visits) != len(set(visits)):
        raise InputError(f"{source}: a visit label is given twice in {list(visits)!r}")
    check_columns(data, [subject, visit, measure], source=source)
    order = pd.Index(pd.unique(data[subject].astype(str)))
    columns = {}
    for label in visits:
        rows = visit_rows(data, subject=subject, visit=visit, label=label, source=source)
        values = numeric_column(rows, measure, source=source)
        columns[label] = values.set_axis(pd.Index(rows[subject].astype(str))).reindex(order)
    wide = pd.DataFrame(columns, index=order)
    return wide[wide.notna().any(axis=1)]


def friedman_test(
    data: pd.DataFrame,
    *,
    subject: str,
    visit: str,
    visits: Sequence[Hashable],
    measures: Sequence[str],
    source: str = "data",
) -> pd.DataFrame:
    """Friedman's test of a measure across k >= 3 visits, one row per measure.

    Each subject's values are ranked across the visits (mid-ranks for ties); the statistic is
    Q = 12 / (n k (k + 1)) sum_j R_j^2 - 3 n (k + 1), divided by the tie correction
    1 - sum(t^3 - t) / (n (k^3 - k)), and compared with chi-square on k - 1 df (Friedman 1937,
    J. Am. Stat. Assoc. 32:675-701, doi:10.1080/01621459.1937.10503522). Subjects missing any of
    the visits are dropped and named. Validated against R ``friedman.test``.

    Examples
    --------
    >>> long = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 3 + ["c"] * 3,
    ...     "visit": ["w0", "w4", "w12"] * 3, "clasi": [10, 6, 3, 8, 7, 2, 12, 9, 5]})
    >>> row = friedman_test(long, subject="id", visit="visit", visits=["w0", "w4", "w12"],
    ...                     measures=["clasi"]).iloc[0]
    >>> float(row["statistic"]), round(float(row["p_value"]), 6)
    (6.0, 0.049787)
    """
    if len(visits) < 3:
        raise InputError(
            f"{source}: the Friedman test needs at least 3 visits, got {list(visits)!r}; "
            "use paired_comparison for two"
        )
    rows = []
    for measure in measures:
        wide = _wide(
            data, subject=subject, visit=visit, visits=visits, measure=measure, source=source
        )
        complete = wide.notna().all(axis=1)
        table = wide[complete].to_numpy()
        row: dict[str, Any] = {
            "measure": measure,
            "n_subjects": int(complete.sum()),
            "n_visits": len(visits),
            "df": len(visits) - 1,
            "dropped_subjects": wide.index[~complete].tolist(),
        }
        if table.shape[0] < 2 or np.all(np.ptp(table, axis=1) == 0):
            row.update(
                statistic=math.nan,
                p_value=math.nan,
                method="not computed: fewer than 2 complete subjects or no variation",
            )
        else:
            result = stats.friedmanchisquare(*table.T)
            row.update(
                statistic=float(result.statistic),
                p_value=float(result.pvalue),
                method=METHOD_FRIEDMAN,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _gls_covariance(
    exog: npt.NDArray[np.float64],
    groups: npt.NDArray[Any],
    subject_variance: float,
    residual_variance: float,
) -> npt.NDArray[np.float64]:
    """(X' V^-1 X)^-1 with V_i = sigma^2 I + sigma_u^2 J: the fixed-effect covariance that R's
    nlme and lme4 report (statsmodels' ``bse_fe`` comes from the joint Hessian and differs)."""
    information = np.zeros((exog.shape[1], exog.shape[1]))
    for label in pd.unique(groups):
        x = exog[groups == label]
        n_i = x.shape[0]
        shrink = subject_variance / (residual_variance + n_i * subject_variance)
        column_sums = x.sum(axis=0)
        information += (x.T @ x - shrink * np.outer(column_sums, column_sums)) / residual_variance
    result: npt.NDArray[np.float64] = np.asarray(np.linalg.inv(information), dtype=np.float64)
    return result


_CONTRAST_KEYS = ("model_estimate", "model_se", "model_ci_low", "model_ci_high", "model_p")


def _mixed_design(wide: pd.DataFrame) -> tuple[pd.DataFrame, npt.NDArray[np.float64]]:
    """The observed values in long form and the design: intercept + one indicator per later visit."""
    long = wide.reset_index(names="subject").melt(
        id_vars="subject", var_name="visit_index", value_name="value"
    )
    long = long.dropna(subset=["value"])
    k = wide.shape[1]
    codes = long["visit_index"].map({label: i for i, label in enumerate(wide.columns)}).to_numpy()
    exog = np.zeros((len(long), k))
    exog[:, 0] = 1.0
    for j in range(1, k):
        exog[:, j] = codes == j
    return long, exog


def _reml_fit(
    values: npt.NDArray[np.float64], exog: npt.NDArray[np.float64], groups: npt.NDArray[Any]
) -> tuple[Any, list[dict[str, str]]]:
    """Fit the random-intercept model by REML; statsmodels' warnings and failure become notes."""
    model = MixedLM(values, exog, groups=groups)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = model.fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            fit = None
            failure = str(exc)
    notes = [
        {"code": "mixed_model_warning", "message": f"statsmodels: {w.message}".replace("\n", " ")}
        for w in caught
    ]
    if fit is None:
        notes.append({"code": "mixed_model_failed", "message": f"statsmodels: {failure}"})
    elif not fit.converged:
        notes.append(
            {
                "code": "mixed_model_not_converged",
                "message": "the REML fit did not converge; estimates are unreliable",
            }
        )
    return fit, notes


def _visit_contrasts(
    fit: Any, standard_errors: npt.NDArray[np.float64], level: float
) -> list[dict[str, Any]]:
    """Each later visit's fixed effect against the first, with a Wald interval and p."""
    z = float(stats.norm.isf((1 - level) / 2))
    contrasts = []
    for j in range(1, len(standard_errors)):
        estimate, se = float(fit.fe_params[j]), float(standard_errors[j])
        contrasts.append(
            {
                "model_estimate": estimate,
                "model_se": se,
                "model_ci_low": estimate - z * se,
                "model_ci_high": estimate + z * se,
                "model_p": float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else math.nan,
            }
        )
    return contrasts


def _fit_mixed(wide: pd.DataFrame, level: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    long, exog = _mixed_design(wide)
    k = wide.shape[1]
    not_fitted = [dict.fromkeys(_CONTRAST_KEYS, math.nan) for _ in range(1, k)]
    model_info: dict[str, Any] = {
        "model_n_subjects": int(long["subject"].nunique()),
        "model_n_observations": len(long),
        "model_subject_variance": math.nan,
        "model_residual_variance": math.nan,
        "model_converged": False,
        "warnings": [],
    }
    values = long["value"].to_numpy(float)
    if len(long) <= k or np.ptp(values) == 0:
        model_info["warnings"].append(
            {
                "code": "mixed_model_not_fitted",
                "message": "too few observations or no variation: the mixed model is not fitted",
            }
        )
        return not_fitted, model_info
    groups = long["subject"].to_numpy()
    fit, notes = _reml_fit(values, exog, groups)
    model_info["warnings"] = notes
    if fit is None:
        return not_fitted, model_info
    subject_variance = float(np.asarray(fit.cov_re)[0, 0])
    residual_variance = float(fit.scale)
    model_info.update(
        model_subject_variance=subject_variance,
        model_residual_variance=residual_variance,
        model_converged=bool(fit.converged),
    )
    if residual_variance > 0:
        covariance = _gls_covariance(exog, groups, subject_variance, residual_variance)
        standard_errors = np.sqrt(np.diag(covariance))
    else:
        notes.append(
            {
                "code": "mixed_model_zero_residual_variance",
                "message": "the residual variance is 0: no standard errors",
            }
        )
        standard_errors = np.full(k, math.nan)
    return _visit_contrasts(fit, standard_errors, level), model_info


def change_from_baseline(
    data: pd.DataFrame,
    *,
    subject: str,
    visit: str,
    visits: Sequence[Hashable],
    measure: str,
    confidence_level: float = 0.95,
    source: str = "data",
) -> pd.DataFrame:
    """Change from baseline (the first of ``visits``) at every later visit, observed and modelled.

    Observed: n, mean and SD at the visit; for subjects with both values, n, mean, SD, median and
    quartiles of the change (visit - baseline). Modelled: the visit effect of a linear mixed model
    y_ij = mu + beta_j + u_i + e_ij with u_i ~ N(0, sigma_u^2) (Laird & Ware 1982, Biometrics
    38:963-974, doi:10.2307/2529876), fitted by REML on every observed value, with its Wald
    interval and p. Validated against R ``nlme::lme(value ~ visit, random = ~ 1 | subject)``.
    Model warnings (convergence) are returned in ``warnings``, never raised.

    Examples
    --------
    >>> long = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"] * 3,
    ...     "visit": ["w0", "w4", "w12"] * 4,
    ...     "clasi": [10, 6, 3, 8, 7, 2, 12, 9, 5, 9, 5, 4]})
    >>> out = change_from_baseline(long, subject="id", visit="visit",
    ...                            visits=["w0", "w4", "w12"], measure="clasi")
    >>> out[["visit", "mean_change", "model_estimate"]].round(6).values.tolist()
    [['w4', -3.0, -3.0], ['w12', -6.25, -6.25]]
    """
    if len(visits) < 2:
        raise InputError(f"{source}: change from baseline needs at least 2 visits")
    if not 0 < confidence_level < 1:
        raise InputError(
            f"{source}: confidence_level = {confidence_level!r}; allowed: 0 < level < 1"
        )
    wide = _wide(data, subject=subject, visit=visit, visits=visits, measure=measure, source=source)
    baseline = wide.iloc[:, 0]
    contrasts, model_info = _fit_mixed(wide, confidence_level)
    rows = []
    for j, label in enumerate(wide.columns[1:], start=1):
        observed = wide.iloc[:, j]
        change = (observed - baseline).dropna().to_numpy()
        q1, median, q3 = quartiles(change) if change.size else (math.nan,) * 3
        rows.append(
            {
                "measure": measure,
                "visit": label,
                "baseline_visit": wide.columns[0],
                "n_observed": int(observed.notna().sum()),
                "mean": float(observed.mean()),
                "sd": float(observed.std(ddof=1)),
                "n_change": int(change.size),
                "mean_change": float(change.mean()) if change.size else math.nan,
                "sd_change": float(np.std(change, ddof=1)) if change.size > 1 else math.nan,
                "median_change": median,
                "q1_change": q1,
                "q3_change": q3,
                **contrasts[j - 1],
                "confidence_level": confidence_level,
                "method_model": METHOD_MIXED,
                **model_info,
            }
        )
    return pd.DataFrame(rows)
