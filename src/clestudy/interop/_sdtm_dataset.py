"""SDTM dataset assembly: rows of one domain into a sorted, typed, labelled dataset and its SUPPxx.

Rows are ordered by the domain's keys (:data:`clestudy.interop._sdtm_vars.DOMAINS`), ``--SEQ`` is
numbered within each subject in that order, columns are put in the SDTM order (identifiers,
topic, qualifiers, then timing), numeric variables become floats and character ones text (empty,
never missing), and each variable gets its label and origin for the Define-XML.

Text longer than the 200 characters a SAS transport v5 variable holds is split as the SDTMIG
v3.3 section 4.5.3.2 ("Text Strings Greater than 200 Characters in Other Variables") says: the
first 200 characters stay in the variable, and each further 200 go to a SUPP-- record whose
``QNAM`` is the variable's name with a number appended (``AETERM1``, ``AETERM2``; an 8-character
name gives up its last characters to the number). A SUPP-- value that long is split the same way
under its own ``QNAM``. Nothing is cut (docs/references.md [SDTMIG 3.3]). A piece never ends in
a blank, which SAS transport would drop: a split falling on blanks moves before them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clestudy.interop._sdtm_rules import MAX_CHAR_BYTES, MAX_NAME
from clestudy.interop._sdtm_vars import DomainSpec, is_numeric, variable_label

__all__ = ["Dataset", "Row", "build_datasets", "split_long_values", "split_qnam"]

_SUPP_COLUMNS = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL",
                 "QORIG")  # fmt: skip
_FRONT = ("STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SEQ", "TESTCD", "TEST", "TERM", "DECOD",
          "TRT", "CAT")  # fmt: skip
_ASSIGNED = frozenset({"STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SITEID", "ARMCD", "ARM",
                       "ACTARMCD", "ACTARM", "VISITNUM", "VISIT", "RSEVAL", "AGEU", "RDOMAIN",
                       "IDVAR", "QORIG"})  # fmt: skip
_DICTIONARY = frozenset({"AEDECOD", "AEPTCD", "AELLT", "AELLTCD", "AESOC", "AESOCCD", "AEBODSYS",
                         "AEBDSYCD"})  # fmt: skip
_RESULT = frozenset({"ORRES", "ORRESU", "STRESC", "STRESN", "STRESU"})
_AFTER_RESULT = ("STAT", "REASND")
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
    long_text: list[str] = field(default_factory=list)
    external: dict[str, tuple[str, str]] = field(default_factory=dict)
    uncoded_terms: list[str] = field(default_factory=list)


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

    ordered = sorted(columns, key=rank)
    # a test not done's status and reason follow the result variables, whichever row came first
    # (SDTMIG v3.3 findings order: ... --STRESU, ..., --STAT, --REASND, ..., --TOXGR, VISITNUM)
    moved = [f"{domain}{role}" for role in _AFTER_RESULT if f"{domain}{role}" in ordered]
    if not moved:
        return ordered
    rest = [c for c in ordered if c not in moved]
    results = [i for i, c in enumerate(rest) if c[len(domain) :] in _RESULT]
    at = max(results) + 1 if results else len(rest)
    return rest[:at] + moved + rest[at:]


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
    long_text = split_long_values(domain, frame, rows)
    out = [Dataset(domain, spec.label, frame, tuple(variable_label(c) for c in frame.columns),
                   ("STUDYID", "USUBJID", *(() if domain == "DM" else (f"{domain}SEQ",))),
                   spec.domain_class, spec.structure, origins, long_text=long_text)]  # fmt: skip
    supp = _supp_frame(domain, rows, frame, study)
    if supp is not None:
        out.append(supp)
    return out


def split_qnam(name: str, part: int) -> str:
    """The ``QNAM`` of the ``part``-th 200-character continuation of variable ``name``
    (SDTMIG v3.3 section 4.5.3.2): the name with the number appended, shortened to fit 8.

    >>> split_qnam("AETERM", 1), split_qnam("AECONTRT", 2), split_qnam("AETERM", 10)
    ('AETERM1', 'AECONTR2', 'AETERM10')
    """
    suffix = str(part)
    return name[: MAX_NAME - len(suffix)] + suffix


def _chunks(text: str) -> list[str]:
    """``text`` in pieces of at most 200 characters, none ending in a blank (SAS transport drops
    trailing blanks, so a blank at a split starts the next piece instead).

    >>> [len(c) for c in _chunks("a" * 199 + "  " + "b" * 5)]
    [199, 7]
    """
    chunks, start = [], 0
    while start < len(text):
        end = min(start + MAX_CHAR_BYTES, len(text))
        while end < len(text) and end > start + 1 and text[end - 1] == " ":
            end -= 1
        chunks.append(text[start:end])
        start = end
    return chunks


def split_long_values(domain: str, frame: pd.DataFrame, rows: list[Row]) -> list[str]:
    """Keep the first 200 characters of each longer character value in ``frame`` (in place) and
    append the rest to its row's SUPP-- qualifiers, 200 characters each (module docstring);
    return one note per value split.

    >>> frame = pd.DataFrame({"AETERM": ["x" * 450, "short"]}, dtype=object)
    >>> rows = [Row({}), Row({})]
    >>> split_long_values("AE", frame, rows)
    ['AE.AETERM row 1: 450 characters, 250 in SUPPAE AETERM1, AETERM2']
    >>> len(frame.loc[0, "AETERM"]), [(q, len(v)) for q, _, v in rows[0].supp]
    (200, [('AETERM1', 200), ('AETERM2', 50)])
    """
    notes = []
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        for index, value in enumerate(frame[column]):
            text = str(value)
            if len(text) <= MAX_CHAR_BYTES:
                continue
            first, *rest = _chunks(text)
            frame.at[frame.index[index], column] = first
            label = variable_label(str(column))
            qnams = [split_qnam(str(column), n) for n in range(1, len(rest) + 1)]
            for qnam, chunk in zip(qnams, rest, strict=True):
                rows[index].supp.append((qnam, label, chunk))
            notes.append(f"{domain}.{column} row {index + 1}: {len(text)} characters, "
                         f"{len(text) - len(first)} in SUPP{domain} {', '.join(qnams)}")  # fmt: skip
    return notes


def _origin(name: str) -> str:
    if name in _ASSIGNED or name in _DICTIONARY:  # a dictionary coding is assigned (Define 2.1)
        return "Assigned"
    derived = ("SEQ", "DY", "STDY", "ENDY", "STRESC", "STRESN", "STRESU", "TOXGR")
    if name.endswith(derived) or name in ("RFSTDTC", "RFENDTC", "IDVARVAL"):
        return "Derived"
    return "Collected"


def _supp_frame(domain: str, rows: list[Row], frame: pd.DataFrame, study: str) -> Dataset | None:
    records = []
    for row, (_, parent) in zip(rows, frame.iterrows(), strict=True):
        for qnam, qlabel, qval in _split_supp(row.supp):
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
    return Dataset(f"SUPP{domain}", f"Supplemental Qualifiers for {domain}", supp,
                   tuple(variable_label(c) for c in supp.columns), keys, "RELATIONSHIP",
                   "One record per supplemental qualifier per related record",
                   {c: _origin(c) for c in supp.columns})  # fmt: skip


def _split_supp(supp: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """A qualifier value over 200 characters as its first 200 under its ``QNAM`` and the rest
    under ``QNAM1``, ``QNAM2``... (SDTMIG v3.3 section 4.5.3.2)."""
    out = []
    for qnam, qlabel, qval in supp:
        first, *rest = _chunks(qval) or [""]
        out.append((qnam, qlabel, first))
        out += [(split_qnam(qnam, n), qlabel, chunk) for n, chunk in enumerate(rest, 1)]
    return out
