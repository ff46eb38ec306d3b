"""Lab results as form values: which result fills which field of the ``immune_profile`` form.

These rules were in the CLI; here the web and the Python API reuse them. Each function returns
one :class:`LabValues` per subject and visit; :func:`clestudy.store.save_lab_values` merges them
into the visit's record in one audited transaction.

* flow: the field map (``FIELD=GATE:METRIC``, :func:`~clestudy.immuno.parse_field_map`) picks
  the values, and the manifest's ``sample_date`` is stored with them;
* qPCR: the score is stored as ``ifn_score``;
* IHC: ``skin_`` + the columns of :func:`~clestudy.immuno.ihc_wide` (``skin_cd3_per_mm2``,
  ``skin_mucin_area_fraction``).

A value that is not a finite number (a marker not measured) is left out, never stored as NaN;
``-0.0`` is stored as ``0.0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clestudy.immuno._fields import flow_field_values
from clestudy.immuno._gating import SampleResult
from clestudy.immuno._ihc import ihc_wide

__all__ = ["LabValues", "flow_lab_values", "ihc_lab_values", "qpcr_lab_values"]


@dataclass(frozen=True)
class LabValues:
    """Form values of one subject at one visit, from one lab file or plate."""

    subject_id: str
    visit_id: str
    values: dict[str, Any]


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, float):
            if not math.isfinite(value):
                continue
            value = value + 0.0  # -0.0 + 0.0 is +0.0: a stored zero has no sign
        out[name] = value
    return out


def flow_lab_values(
    results: Sequence[SampleResult],
    samples: Sequence[Mapping[str, str]],
    fields: dict[str, tuple[str, str]],
) -> list[LabValues]:
    """Values of a field map per gated file; ``samples[i]`` has the ``subject_id``, ``visit_id``
    and ``sample_date`` of ``results[i]`` (a manifest row). A file none of whose mapped values is
    finite gives no values (and no ``sample_date``)."""
    out = []
    for result, sample in zip(results, samples, strict=True):
        values = _clean(flow_field_values(result, fields))
        if values:
            values["sample_date"] = str(sample["sample_date"])
        out.append(LabValues(str(sample["subject_id"]), str(sample["visit_id"]), values))
    return out


def qpcr_lab_values(records: Sequence[Mapping[str, Any]]) -> list[LabValues]:
    """``ifn_score`` per case sample (records of :func:`~clestudy.immuno.ifn_score_records` with
    ``subject_id`` and ``visit_id`` from the manifest)."""
    return [
        LabValues(str(r["subject_id"]), str(r["visit_id"]), _clean({"ifn_score": r["ifn_score"]}))
        for r in records
    ]


def ihc_lab_values(densities: pd.DataFrame) -> list[LabValues]:
    """``skin_<marker>_per_mm2`` and ``skin_mucin_area_fraction`` per subject and visit (from
    :func:`~clestudy.immuno.ihc_densities`).

    Examples
    --------
    >>> d = pd.DataFrame({"subject_id": ["S01"], "visit_id": ["d0"], "marker": ["CD3"],
    ...                   "positive_per_mm2": [-0.0], "stained_area_fraction": [float("nan")]})
    >>> ihc_lab_values(d)
    [LabValues(subject_id='S01', visit_id='d0', values={'skin_cd3_per_mm2': 0.0})]
    """
    out = []
    for row in ihc_wide(densities).to_dict("records"):
        subject, visit = str(row.pop("subject_id")), str(row.pop("visit_id"))
        out.append(LabValues(subject, visit, _clean({f"skin_{k}": v for k, v in row.items()})))
    return out
