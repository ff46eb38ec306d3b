"""From population tables to form values: which gate and metric fills which field.

A field map says, per form field, ``FIELD=GATE:METRIC``, e.g. ``treg_pct_cd4=Treg:percent_parent``
or ``hladr_mfi_monocytes=Monocytes:median_HLA-DR``. Metrics are the columns of a population table
(:data:`~clestudy.immuno.POPULATION_COLUMNS` and ``median_<channel>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from clestudy.errors import InputError
from clestudy.immuno._errors import ManifestError
from clestudy.immuno._gating import BeadCount, SampleResult

__all__ = ["beads_from_manifest", "flow_field_values", "parse_field_map", "population_rows"]


def parse_field_map(specs: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Parse ``FIELD=GATE:METRIC`` items into ``{field: (gate, metric)}``.

    Examples
    --------
    >>> parse_field_map(["treg_pct_cd4=Treg:percent_parent"])
    {'treg_pct_cd4': ('Treg', 'percent_parent')}
    """
    out: dict[str, tuple[str, str]] = {}
    for item in specs:
        name, _, spec = item.partition("=")
        gate, _, metric = spec.partition(":")
        if not (name.strip() and gate.strip() and metric.strip()):
            raise InputError(
                f"--field {item!r}: expected FIELD=GATE:METRIC, e.g. treg_pct_cd4=Treg:percent_parent"
            )
        out[name.strip()] = (gate.strip(), metric.strip())
    return out


def flow_field_values(result: SampleResult, fields: dict[str, tuple[str, str]]) -> dict[str, float]:
    """The values a field map takes from one sample's populations (NaN values are left out).

    Raises
    ------
    InputError
        A gate or metric the table does not have; the message names the file.
    """
    table = result.populations
    values: dict[str, float] = {}
    for name, (gate, metric) in fields.items():
        hit = table[table["gate"] == gate]
        if hit.empty or metric not in table.columns:
            metrics = ", ".join(str(c) for c in table.columns[4:])
            raise InputError(
                f"{result.path}: --field {name}={gate}:{metric}: no gate {gate!r} or no metric "
                f"{metric!r} (metrics: {metrics})"
            )
        value = float(hit[metric].iloc[0])
        if math.isfinite(value):
            values[name] = value
    return values


def population_rows(
    results: Sequence[SampleResult], extra: Sequence[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every population of every sample as a JSON-ready dict (NaN as ``None``), plus ``extra[i]``
    (e.g. subject and visit) on the rows of sample ``i``."""
    rows: list[dict[str, Any]] = []
    for i, result in enumerate(results):
        added = dict(extra[i]) if extra else {}
        for rec in result.populations.to_dict("records"):
            row = {str(k): (None if _missing(v) else v) for k, v in rec.items()}
            rows.append({**row, **added})
    return rows


def _missing(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def beads_from_manifest(manifest: pd.DataFrame, path: str | Path) -> list[BeadCount | None]:
    """Counting beads per manifest row from ``beads_per_test`` and ``volume_ul`` (both or neither).

    Raises
    ------
    ManifestError
        A value that is not a positive number, or only one of the two columns filled.
    """
    out: list[BeadCount | None] = []
    for rec in manifest.to_dict("records"):
        per_test, volume = str(rec.get("beads_per_test", "")), str(rec.get("volume_ul", ""))
        if not per_test and not volume:
            out.append(None)
            continue
        try:
            beads = BeadCount(float(per_test), float(volume))
        except ValueError:
            beads = BeadCount(math.nan, math.nan)
        if not (beads.beads_per_test > 0 and beads.volume_ul > 0):
            raise ManifestError(
                f"{path}: line {rec['line']}: beads_per_test {per_test!r} and volume_ul "
                f"{volume!r} must both be positive numbers"
            )
        out.append(beads)
    return out
