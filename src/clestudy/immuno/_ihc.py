"""Skin biopsy immunohistochemistry from QuPath measurement exports.

QuPath (Bankhead P et al., *Sci Rep* 2017;7:16878, doi:10.1038/s41598-017-17204-5) exports one
row per annotation ("Measure > Export measurements", annotations) or per detected cell
(detections). Per image, with the tissue annotations' total area ``A`` (um^2)::

    positive cells per mm^2 = positive cells / (A / 1e6)
    stained area fraction   = stained area (um^2) / A

Annotation exports carry ``Num Positive`` per annotation (positive cell detection); detection
exports are counted by class (``Positive``, or the intensity classes ``1+``/``2+``/``3+``) and need
the annotation export for the area. Mucin comes from a pixel classifier's area measurement on the
annotations (a column such as ``Mucin area µm^2``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from clestudy.immuno._csv import parse_number, read_text_table
from clestudy.immuno._errors import MeasurementFileError
from clestudy.immuno._manifest import read_manifest

__all__ = [
    "IHC_MANIFEST_COLUMNS",
    "IHC_MARKERS",
    "ihc_densities",
    "ihc_wide",
    "read_ihc_manifest",
    "read_qupath_csv",
]

#: Markers of the lupus skin panel; ``mucin`` is measured as a stained area, the others as cells.
IHC_MARKERS = ("CD3", "CD4", "CD8", "CXCL10", "mucin")

#: Columns of an IHC manifest: the QuPath image name, its subject, visit and stained marker.
IHC_MANIFEST_COLUMNS = ("image", "subject_id", "visit_id", "marker")

_AREA = re.compile(r"^area (µm|um|μm)\^2$", re.IGNORECASE)
_MUCIN_AREA = re.compile(r"mucin.*area (µm|um|μm)\^2$", re.IGNORECASE)
_POSITIVE_CLASS = re.compile(r"(?:^|:\s*)(?:positive|[123]\+)$", re.IGNORECASE)


def read_qupath_csv(path: str | Path) -> pd.DataFrame:
    """Read a QuPath measurement export (comma- or tab-separated) as text-preserving columns.

    Returns
    -------
    pandas.DataFrame
        The columns as stripped text, indexed by file line (``line``); :func:`ihc_densities`
        parses the numbers it uses, naming the line of a bad one.

    Raises
    ------
    MeasurementFileError
        A missing, empty or malformed file (a row wider or narrower than the header, an unclosed
        quote: see :func:`~clestudy.immuno._csv.read_text_table`) or no ``Image`` column.
    """
    path = Path(path)
    table = read_text_table(path, what="measurement export", error=MeasurementFileError, sep=None)
    if "Image" not in table.columns:
        raise MeasurementFileError(
            f"{path}: no 'Image' column; is this a QuPath measurement export? "
            f"(columns: {', '.join(table.columns[:8])})"
        )
    table.attrs["source"] = str(path)
    return table


def read_ihc_manifest(
    path: str | Path,
    *,
    known_subjects: Collection[str] | None = None,
    known_visits: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read an IHC manifest (:data:`IHC_MANIFEST_COLUMNS`): one image per subject, visit, marker.

    Raises
    ------
    ManifestError
        As :func:`~clestudy.immuno.read_manifest`.
    """
    return read_manifest(
        path,
        key="image",
        required=IHC_MANIFEST_COLUMNS,
        files=False,
        known_subjects=known_subjects,
        known_visits=known_visits,
        unique_by=("subject_id", "visit_id", "marker"),
    )


def _column(table: pd.DataFrame, pattern: re.Pattern[str], what: str) -> str:
    found = [c for c in table.columns if pattern.search(c)]
    if len(found) != 1:
        problem = "no" if not found else "several"
        raise MeasurementFileError(
            f"{table.attrs.get('source', 'measurements')}: {problem} {what} column "
            f"(columns: {', '.join(table.columns)})"
        )
    return found[0]


def _image_areas_um2(annotations: pd.DataFrame) -> pd.Series:
    area = _column(annotations, _AREA, "'Area µm^2' (calibrated image)")
    return _numbers(annotations, area).groupby(annotations["Image"]).sum()


def _numbers(table: pd.DataFrame, column: str, *, whole: bool = False) -> pd.Series:
    """A column of counts or areas as floats >= 0 (NaN where blank); a bad cell names its line."""
    source = table.attrs.get("source", "measurements")
    label = "line" if table.index.name == "line" else "row"
    out = []
    for index, value in table[column].items():
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
            out.append(np.nan)
            continue
        where = f"{source}: {label} {index}: {column}"
        if isinstance(value, bool | np.bool_):
            raise MeasurementFileError(f"{where}: {value!r} is not a number")
        number = parse_number(
            str(value).strip(), where=where, error=MeasurementFileError, minimum=0.0, whole=whole
        )
        out.append(number)
    return pd.Series(out, index=table.index, dtype=float)


def _check_detections(measurements: pd.DataFrame, positive: pd.Series) -> None:
    """Positive cells are among the detected cells: ``Num Positive <= Num Detections``."""
    if "Num Detections" not in measurements.columns:
        return
    detections = _numbers(measurements, "Num Detections", whole=True)
    over = (positive > detections).to_numpy()
    if over.any():
        index = measurements.index[over][0]
        label = "line" if measurements.index.name == "line" else "row"
        raise MeasurementFileError(
            f"{measurements.attrs.get('source', 'measurements')}: {label} {index}: Num Positive "
            f"{positive[index]:g} is more than Num Detections {detections[index]:g}"
        )


def ihc_densities(
    measurements: pd.DataFrame,
    manifest: pd.DataFrame,
    *,
    annotations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Positive cells per mm^2 and mucin area fraction per image, joined to subject and visit.

    Parameters
    ----------
    measurements
        A QuPath annotation export (with ``Num Positive``) or detection export (with ``Class``).
    manifest
        Validated manifest with ``image, subject_id, visit_id, marker`` (see
        :func:`~clestudy.immuno.read_manifest`); ``marker`` is one of :data:`IHC_MARKERS`.
    annotations
        The annotation export giving tissue areas, required with a detection export.

    Returns
    -------
    pandas.DataFrame
        ``subject_id, visit_id, image, marker, area_mm2, positive_cells, positive_per_mm2,
        stained_area_mm2, stained_area_fraction``.

    Raises
    ------
    MeasurementFileError
        An image of the manifest absent from the export (a cell marker's image without detection
        rows, or without a ``Num Positive`` value), an unknown marker, a missing column, a count
        or area that is not a finite number >= 0 (a count must be whole), more positive cells
        than detections, a stained area larger than the tissue, or a density that overflows.

    Examples
    --------
    >>> m = pd.DataFrame({"Image": ["s1.svs"], "Area µm^2": [2_000_000.0], "Num Positive": [300]})
    >>> man = pd.DataFrame({"image": ["s1.svs"], "subject_id": ["S01"], "visit_id": ["d0"],
    ...                     "marker": ["CD3"]})
    >>> float(ihc_densities(m, man)["positive_per_mm2"].iloc[0])  # 300 / 2 mm^2
    150.0
    """
    source = measurements.attrs.get("source", "measurements")
    is_detection = "Num Positive" not in measurements.columns
    area_table = measurements if annotations is None else annotations
    if is_detection and annotations is None:
        raise MeasurementFileError(
            f"{source}: a detection export has no tissue area; give the annotation export too"
        )
    areas = _image_areas_um2(area_table)
    if is_detection:
        if "Class" not in measurements.columns:
            raise MeasurementFileError(f"{source}: neither 'Num Positive' nor 'Class' column")
        positive = measurements["Class"].astype(str).str.strip().str.contains(_POSITIVE_CLASS)
        counts = positive.groupby(measurements["Image"]).sum()
    else:
        # min_count: an image whose annotations carry no Num Positive at all is NaN, not 0 cells
        positive_cells = _numbers(measurements, "Num Positive", whole=True)
        _check_detections(measurements, positive_cells)
        counts = positive_cells.groupby(measurements["Image"]).sum(min_count=1)
    mucin_col = None
    rows = []
    manifest_name = manifest.attrs.get("source", "manifest")
    for rec in manifest.to_dict("records"):
        image, marker = str(rec["image"]), str(rec["marker"])
        where = f"{manifest_name}: line {rec.get('line', '?')} ({image})"
        if marker.lower() not in {m.lower() for m in IHC_MARKERS}:
            raise MeasurementFileError(
                f"{where}: marker {marker!r} is not one of {', '.join(IHC_MARKERS)}"
            )
        if image not in areas.index:
            raise MeasurementFileError(f"{where}: image not found in {source}")
        area_um2 = float(areas[image])
        if not area_um2 / 1e6 > 0:  # zero, or so small that mm^2 underflow to zero
            raise MeasurementFileError(f"{where}: annotated tissue area is {area_um2} µm^2")
        row = {
            "subject_id": rec["subject_id"],
            "visit_id": rec["visit_id"],
            "image": image,
            "marker": marker,
            "area_mm2": area_um2 / 1e6,
            "positive_cells": np.nan,
            "positive_per_mm2": np.nan,
            "stained_area_mm2": np.nan,
            "stained_area_fraction": np.nan,
        }
        if marker.lower() == "mucin":
            mucin_col = mucin_col or _column(area_table, _MUCIN_AREA, "'Mucin area µm^2'")
            mucin = _numbers(area_table, mucin_col)
            stained = float(mucin[(area_table["Image"] == image).to_numpy()].sum())
            if stained > area_um2:
                raise MeasurementFileError(
                    f"{where}: {mucin_col} {stained:g} is larger than the tissue area "
                    f"{area_um2:g} µm^2 it was measured in"
                )
            row["stained_area_mm2"] = stained / 1e6
            row["stained_area_fraction"] = stained / area_um2
        else:
            n = _positive_cells(counts, image, is_detection, where, source)
            row["positive_cells"] = n
            row["positive_per_mm2"] = n / (area_um2 / 1e6)
        _check_finite(row, where)
        rows.append(row)
    return pd.DataFrame(rows)


def _check_finite(row: dict[str, object], where: str) -> None:
    """Densities of a tissue area too small for floating point overflow: refuse, never print inf."""
    for name, value in row.items():
        if isinstance(value, float) and np.isinf(value):
            raise MeasurementFileError(
                f"{where}: {name} is not a finite number (tissue area {row['area_mm2']!r} mm^2)"
            )


def _positive_cells(
    counts: pd.Series, image: str, is_detection: bool, where: str, source: str
) -> int:
    # a true zero is an image with detections none of which is positive (or Num Positive 0);
    # an image without any detection row, or with no Num Positive value, was never counted
    if is_detection and image not in counts.index:
        raise MeasurementFileError(
            f"{where}: image has tissue annotations but no rows in the detection export "
            f"{source}; export its detections (an image without positive cells still lists its "
            "negative ones)"
        )
    if not is_detection and pd.isna(counts.get(image)):
        raise MeasurementFileError(
            f"{where}: image has no 'Num Positive' value in {source}; run positive cell "
            "detection on it, or give its detection export with the annotations"
        )
    return int(counts[image])


def ihc_wide(densities: pd.DataFrame) -> pd.DataFrame:
    """One row per subject and visit: ``<marker>_per_mm2`` and ``mucin_area_fraction``.

    Examples
    --------
    >>> d = pd.DataFrame({"subject_id": ["S01"], "visit_id": ["d0"], "marker": ["CD3"],
    ...                   "positive_per_mm2": [150.0], "stained_area_fraction": [np.nan]})
    >>> ihc_wide(d).columns.tolist()
    ['subject_id', 'visit_id', 'cd3_per_mm2']
    """
    out: dict[tuple[str, str], dict[str, float]] = {}
    for rec in densities.to_dict("records"):
        key = (str(rec["subject_id"]), str(rec["visit_id"]))
        marker = str(rec["marker"]).lower()
        values = out.setdefault(key, {})
        if marker == "mucin":
            values["mucin_area_fraction"] = float(rec["stained_area_fraction"])
        else:
            values[f"{marker}_per_mm2"] = float(rec["positive_per_mm2"])
    rows = [{"subject_id": s, "visit_id": v, **vals} for (s, v), vals in out.items()]
    return pd.DataFrame(rows)
