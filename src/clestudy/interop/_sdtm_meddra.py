"""MedDRA coding of adverse events in SDTM AE: what clestudy knows, and the sponsor's coding file.

SDTM requires ``AEDECOD``, the MedDRA preferred term of ``AETERM`` (SDTMIG v3.3, AE). MedDRA is
licensed (MedDRA MSSO) and clestudy cannot ship it, so an ``AEDECOD`` is written only from a
**sponsor's coding file** (:func:`read_ae_coding`), made with the sponsor's own MedDRA licence:
one row per reported term, with the columns

* ``AETERM`` (the reported term, matched ignoring case and surrounding blanks), ``AEDECOD``
  (preferred term), ``AEPTCD`` (its code) and ``MEDDRA_VERSION`` (the same on every row), and
* optionally ``AELLT``/``AELLTCD`` (lowest level term), ``AESOC``/``AESOCCD`` (primary system organ
  class) and ``AEBODSYS``/``AEBDSYCD`` (body system used in the analysis; the primary SOC when
  absent).

Without a coding file, what is honestly known is filled: NCI CTCAE v5.0 terms are MedDRA v20.1
lowest level terms (NCI CTCAE v5.0, 27 Nov 2017), so an ``AETERM`` that is a CTCAE
v5.0 term gets it as ``AELLT`` with its MedDRA code as ``AELLTCD`` (:data:`CTCAE_V5_LLT`);
``AEDECOD`` stays empty, since the preferred term an LLT belongs to is MedDRA's to say. Every
reported term left without ``AEDECOD`` is listed in the export manifest; none is made up.

:data:`CTCAE_V5_LLT` holds the CTCAE v5.0 terms of the shared reference
``ctcae_v5_selected_terms.json`` with their MedDRA codes, itself a "transcription of NCI CTCAE
v5.0 (Nov 27 2017) from github.com/oncohub/CTCAE5 ctcaev5.js @ d46f46c (2020-05-26)" to be
verified against NCI's own Excel file; its "Infections and infestations - Other, specify" row is
left out (an "Other, specify" entry is not a lowest level term: its code is the SOC's).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from clestudy.errors import InputError

__all__ = [
    "CTCAE_MEDDRA_VERSION",
    "CTCAE_V5_LLT",
    "AeCoding",
    "CodedTerm",
    "ae_coding_values",
    "read_ae_coding",
]

CTCAE_MEDDRA_VERSION = "20.1"
"""The MedDRA version whose lowest level terms the CTCAE v5.0 terms are."""

CTCAE_V5_LLT: Mapping[str, str] = MappingProxyType(
    {
        "Anemia": "10002272",
        "Febrile neutropenia": "10016288",
        "Sinus bradycardia": "10040741",
        "Hypothyroidism": "10021114",
        "Constipation": "10010774",
        "Edema limbs": "10050068",
        "Fatigue": "10016256",
        "Herpes simplex reactivation": "10080137",
        "Kidney infection": "10023424",
        "Lung infection": "10061229",
        "Sepsis": "10040047",
        "Shingles": "10040555",
        "Skin infection": "10040872",
        "Upper respiratory infection": "10046300",
        "Urinary tract infection": "10046571",
        "Alanine aminotransferase increased": "10001551",
        "Aspartate aminotransferase increased": "10003481",
        "Blood bilirubin increased": "10005364",
        "Creatinine increased": "10011368",
        "Lymphocyte count decreased": "10025256",
        "Neutrophil count decreased": "10029366",
        "Platelet count decreased": "10035528",
        "White blood cell decreased": "10049182",
        "Dizziness": "10013573",
        "Peripheral motor neuropathy": "10034580",
        "Peripheral sensory neuropathy": "10034620",
        "Somnolence": "10041349",
        "Tremor": "10044565",
        "Acute kidney injury": "10069339",
        "Chronic kidney disease": "10064848",
        "Alopecia": "10001760",
        "Erythema multiforme": "10015218",
        "Photosensitivity": "10034966",
        "Pruritus": "10037087",
        "Rash acneiform": "10037847",
        "Rash maculo-papular": "10037868",
        "Stevens-Johnson syndrome": "10042033",
        "Toxic epidermal necrolysis": "10044223",
        "Urticaria": "10046735",
        "Thromboembolic event": "10043565",
    }
)
"""CTCAE v5.0 term -> its MedDRA (v20.1) lowest level term code (module docstring)."""

_CTCAE_BY_KEY = {term.casefold(): term for term in CTCAE_V5_LLT}
_REQUIRED = ("AETERM", "AEDECOD", "AEPTCD", "MEDDRA_VERSION")
_OPTIONAL = ("AELLT", "AELLTCD", "AESOC", "AESOCCD", "AEBODSYS", "AEBDSYCD")
_CODES = ("AEPTCD", "AELLTCD", "AESOCCD", "AEBDSYCD")


def _key(term: str) -> str:
    return term.strip().casefold()


@dataclass(frozen=True)
class CodedTerm:
    """The sponsor's MedDRA coding of one reported term: SDTM AE variable -> value."""

    values: Mapping[str, str]


@dataclass(frozen=True)
class AeCoding:
    """A sponsor's coding file: its MedDRA version and the coding of each reported term."""

    meddra_version: str
    terms: Mapping[str, CodedTerm] = field(default_factory=dict)
    source: str = ""

    def lookup(self, term: str) -> CodedTerm | None:
        """The coding of reported term ``term`` (ignoring case and surrounding blanks)."""
        return self.terms.get(_key(term))


def _row_problems(where: str, row: dict[str, str]) -> list[str]:
    problems = [f"{where}: {name}: empty" for name in _REQUIRED if not row.get(name, "").strip()]
    for name in _CODES:
        value = row.get(name, "").strip()
        if value and not (value.isdigit() and len(value) == 8):
            problems.append(f"{where}: {name}: '{value}' is not an 8-digit MedDRA code")
    return problems


def read_ae_coding(path: Path) -> AeCoding:
    """Read a sponsor's MedDRA coding file (module docstring), UTF-8 CSV with a header row.

    Raises
    ------
    InputError
        Naming the file, line and column of every problem at once: a missing column, an empty
        required value, a code that is not 8 digits, two MedDRA versions, a reported term coded
        twice differently.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--ae-coding: cannot read {path}: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise InputError(f"{path}:1: missing column(s) {', '.join(missing)} (need {_REQUIRED})")
    problems: list[str] = []
    terms: dict[str, CodedTerm] = {}
    versions: dict[str, int] = {}
    for line, raw in enumerate(reader, 2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        where = f"{path}:{line}"
        row_problems = _row_problems(where, row)
        problems += row_problems
        if row_problems:
            continue
        versions.setdefault(row["MEDDRA_VERSION"], line)
        values = {n: row[n] for n in ("AEDECOD", "AEPTCD", *_OPTIONAL) if row.get(n)}
        values.setdefault("AEBODSYS", values.get("AESOC", ""))
        values.setdefault("AEBDSYCD", values.get("AESOCCD", ""))
        coded = CodedTerm(MappingProxyType({k: v for k, v in values.items() if v}))
        key = _key(row["AETERM"])
        if key in terms and terms[key] != coded:
            problems.append(f"{where}: AETERM: '{row['AETERM']}' is already coded differently")
        terms[key] = coded
    if len(versions) > 1:
        problems.append(f"{path}: MEDDRA_VERSION: one version expected, found "
                        f"{', '.join(f'{v} (line {n})' for v, n in versions.items())}")  # fmt: skip
    if problems:
        raise InputError("; ".join(problems))
    if not versions:
        raise InputError(f"{path}: no coded term")
    return AeCoding(next(iter(versions)), MappingProxyType(terms), str(path))


def ae_coding_values(term: str, coding: AeCoding | None) -> dict[str, str]:
    """The MedDRA variables of an AE record whose reported term is ``term``: the sponsor's
    coding when given (and only it), else ``AELLT``/``AELLTCD`` of a CTCAE v5.0 term.

    >>> ae_coding_values("  neutrophil count DECREASED", None)
    {'AELLT': 'Neutrophil count decreased', 'AELLTCD': '10029366'}
    >>> ae_coding_values("headache after dosing", None)
    {}
    """
    if coding is not None:
        coded = coding.lookup(term)
        return dict(coded.values) if coded else {}
    ctcae = _CTCAE_BY_KEY.get(_key(term))
    return {"AELLT": ctcae, "AELLTCD": CTCAE_V5_LLT[ctcae]} if ctcae else {}
