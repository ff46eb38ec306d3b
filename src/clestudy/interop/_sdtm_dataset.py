"""SDTM dataset assembly: rows of one domain into a sorted, typed, labelled dataset and its SUPPxx.

Rows are ordered by the domain's keys (:data:`clestudy.interop._sdtm_vars.DOMAINS`), ``--SEQ`` is
numbered within each subject in that order, columns are put in the SDTM order (identifiers,
topic, qualifiers, then timing), numeric variables become floats and character ones text (empty,
never missing), and each variable gets its label and origin for the Define-XML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clestudy.interop._sdtm_rules import MAX_CHAR_BYTES
from clestudy.interop._sdtm_vars import DomainSpec, is_numeric, variable_label

__all__ = ["Dataset", "Row", "build_datasets", "cut_long_values"]

_SUPP_COLUMNS = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL",
                 "QORIG")  # fmt: skip
_FRONT = ("STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SEQ", "TESTCD", "TEST", "TERM", "DECOD",
          "TRT", "CAT")  # fmt: skip
_ASSIGNED = frozenset({"STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SITEID", "ARMCD", "ARM",
                       "ACTARMCD", "ACTARM", "VISITNUM", "VISIT", "RSEVAL", "AGEU", "RDOMAIN",
                       "IDVAR", "QORIG"})  # fmt: skip
_BACK = ("VISITNUM", "VISIT", "DTC", "STDTC", "ENDTC", "DY", "STDY", "ENDY")


@dataclass
class Dataset:
    """One SDTM dataset: its rows, variable labels and origins, keys and codelists."""

    name: str
    label: str
    frame: pd.DataFrame
    labels: tuple[str, ...]
    keys: tuple[str, ...]
    domain_class: str
    structure: str
    origins: dict[str, str] = field(default_factory=dict)
    codelists: dict[str, dict[str, str]] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)


@dataclass
class Row:
    """One row of a domain and the SUPPxx qualifiers that belong to it."""

    values: dict[str, Any]
    supp: list[tuple[str, str, str]] = field(default_factory=list)


def _ordered_columns(columns: list[str], domain: str) -> list[str]:
    def rank(name: str) -> tuple[int, int]:
        role = name[len(domain) :] if name.startswith(domain) and name != "DOMAIN" else name
        if role in _FRONT or name in _FRONT:
            return (0, _FRONT.index(role if role in _FRONT else name))
        if role in _BACK or name in _BACK:
            return (2, _BACK.index(role if role in _BACK else name))
        return (1, columns.index(name))

    return sorted(columns, key=rank)


def build_datasets(spec: DomainSpec, rows: list[Row], study: str) -> list[Dataset]:
    domain = spec.name
    frame = pd.DataFrame([r.values for r in rows])
    keys = [k for k in spec.keys if k in frame.columns]
    order = list(frame.sort_values(keys, kind="stable", na_position="first").index)
    frame = frame.loc[order].reset_index(drop=True)
    rows = [rows[i] for i in order]
    if domain != "DM":
        frame[f"{domain}SEQ"] = frame.groupby("USUBJID").cumcount().astype(float) + 1
    frame = frame[_ordered_columns(list(frame.columns), domain)]
    for column in frame.columns:
        if is_numeric(column):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
        else:
            frame[column] = frame[column].fillna("").astype(str).astype(object)
    origins = {c: _origin(c) for c in frame.columns}
    out = [Dataset(domain, spec.label, frame, tuple(variable_label(c) for c in frame.columns),
                   ("STUDYID", "USUBJID", *(() if domain == "DM" else (f"{domain}SEQ",))),
                   spec.domain_class, spec.structure, origins, truncated=cut_long_values(
                       domain, frame))]  # fmt: skip
    supp = _supp_frame(domain, rows, frame, study)
    if supp is not None:
        out.append(supp)
    return out


def cut_long_values(dataset: str, frame: pd.DataFrame) -> list[str]:
    """Cut character values to the 200 bytes SAS transport v5 holds (in place); return where.

    >>> frame = pd.DataFrame({"AETERM": ["x" * 201, "short"]}, dtype=object)
    >>> cut_long_values("AE", frame), len(frame.loc[0, "AETERM"])
    (['AE.AETERM row 1: 201 characters cut to 200'], 200)
    """
    notes = []
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        for row, value in enumerate(frame[column]):
            if len(str(value)) > MAX_CHAR_BYTES:
                notes.append(f"{dataset}.{column} row {row + 1}: {len(str(value))} characters "
                             f"cut to {MAX_CHAR_BYTES}")  # fmt: skip
                frame.at[frame.index[row], column] = str(value)[:MAX_CHAR_BYTES]
    return notes


def _origin(name: str) -> str:
    if name in _ASSIGNED:
        return "Assigned"
    derived = ("SEQ", "DY", "STDY", "ENDY", "STRESC", "STRESN", "STRESU", "TOXGR")
    if name.endswith(derived) or name in ("RFSTDTC", "RFENDTC", "IDVARVAL", "AEDECOD"):
        return "Derived"
    return "Collected"


def _supp_frame(domain: str, rows: list[Row], frame: pd.DataFrame, study: str) -> Dataset | None:
    records = []
    for row, (_, parent) in zip(rows, frame.iterrows(), strict=True):
        for qnam, qlabel, qval in row.supp:
            idvar = "" if domain == "DM" else f"{domain}SEQ"
            idval = "" if domain == "DM" else str(int(parent[f"{domain}SEQ"]))
            records.append(dict(zip(_SUPP_COLUMNS, (study, domain, parent["USUBJID"], idvar, idval,
                                                     qnam, qlabel, qval, "CRF"), strict=True)))  # fmt: skip
    if not records:
        return None
    supp = pd.DataFrame(records, columns=list(_SUPP_COLUMNS)).astype(object)
    keys = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM")
    supp["_order"] = pd.to_numeric(supp["IDVARVAL"].replace("", "0"))
    supp = supp.sort_values(["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "_order", "QNAM"],
                            kind="stable").drop(columns="_order").reset_index(drop=True)  # fmt: skip
    truncated = cut_long_values(f"SUPP{domain}", supp)
    return Dataset(f"SUPP{domain}", f"Supplemental Qualifiers for {domain}", supp,
                   tuple(variable_label(c) for c in supp.columns), keys, "RELATIONSHIP",
                   "One record per supplemental qualifier per related record",
                   {c: _origin(c) for c in supp.columns}, truncated=truncated)  # fmt: skip
