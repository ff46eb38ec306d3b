"""SDTM dataset and variable metadata: labels, types, key variables and classes of the domains
clestudy writes (SDTM v1.7 / SDTMIG v3.3, docs/references.md [SDTMIG 3.3]).

Labels are the standard ones, at most 40 characters; a findings domain's variables share their
labels through their suffix (``--TESTCD`` gives ``LBTESTCD`` "Lab Test or Examination Short
Name" and ``VSTESTCD`` "Vital Signs Test Short Name").

Controlled terminology: the values clestudy writes for coded variables are the protocol's choice
codes, which the built-in protocols take from CDISC CT submission values (``SEX`` F/M/U, ``NY``
Y/N, ``AGEU`` YEARS, ``VSTESTCD`` WEIGHT/HEIGHT, ``LBTESTCD`` from the CDASH annotations). The
CT package named in the output is :data:`CT_VERSION`. The NCI concept codes (C-codes) of the
codelists and terms are written only where :mod:`clestudy.interop._sdtm_terminology` holds them
(a code is never invented); any other codelist is given with its submission values and decodes
only. Test codes for items that have no CDISC code (the CLASI's items, the immune profile) are
sponsor-defined (``short_code``), as the SDTMIG allows for QRS instruments without a CDISC
supplement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CT_VERSION",
    "DOMAINS",
    "NUMERIC",
    "SDTMIG_VERSION",
    "DomainSpec",
    "is_numeric",
    "variable_label",
]

SDTMIG_VERSION = "3.3"
CT_VERSION = "2024-03-29"
"""The CDISC SDTM Controlled Terminology package named in the Define-XML and the manifest."""

DomainClass = Literal["SPECIAL PURPOSE", "EVENTS", "INTERVENTIONS", "FINDINGS", "RELATIONSHIP"]


@dataclass(frozen=True)
class DomainSpec:
    """One domain: its label, class, structure and sort keys (before ``--SEQ`` is assigned)."""

    name: str
    label: str
    domain_class: DomainClass
    structure: str
    keys: tuple[str, ...]


def _findings(name: str, label: str, testcd_label: str) -> DomainSpec:
    return DomainSpec(
        name, label, "FINDINGS", f"One record per {testcd_label} per visit per subject",
        ("STUDYID", "USUBJID", f"{name}TESTCD", "VISITNUM", f"{name}DTC"),
    )  # fmt: skip


DOMAINS: Mapping[str, DomainSpec] = MappingProxyType(
    {
        "DM": DomainSpec("DM", "Demographics", "SPECIAL PURPOSE", "One record per subject",
                         ("STUDYID", "USUBJID")),
        "AE": DomainSpec("AE", "Adverse Events", "EVENTS", "One record per adverse event per "
                         "subject", ("STUDYID", "USUBJID", "AESTDTC", "AETERM")),
        "CM": DomainSpec("CM", "Concomitant/Concurrent Medications", "INTERVENTIONS",
                         "One record per recorded medication occurrence per subject",
                         ("STUDYID", "USUBJID", "CMTRT", "CMSTDTC", "VISITNUM")),
        "EX": DomainSpec("EX", "Exposure", "INTERVENTIONS", "One record per constant dosing "
                         "interval per subject", ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC")),
        "LB": _findings("LB", "Laboratory Test Results", "lab test"),
        "VS": _findings("VS", "Vital Signs", "vital sign measurement"),
        "RS": _findings("RS", "Disease Response and Clin Classification", "assessment"),
    }
)  # fmt: skip

NUMERIC = frozenset({"AGE", "VISITNUM", "--SEQ", "--DOSE", "--STRESN", "--DY", "--STDY",
                     "--ENDY", "--LLTCD", "--PTCD", "--SOCCD", "--BDSYCD"})  # fmt: skip
"""Variables stored as numbers (the rest are character), by name or ``--`` suffix."""

_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "STUDYID": "Study Identifier",
        "DOMAIN": "Domain Abbreviation",
        "USUBJID": "Unique Subject Identifier",
        "SUBJID": "Subject Identifier for the Study",
        "RFSTDTC": "Subject Reference Start Date/Time",
        "RFENDTC": "Subject Reference End Date/Time",
        "SITEID": "Study Site Identifier",
        "BRTHDTC": "Date/Time of Birth",
        "AGE": "Age",
        "AGETXT": "Age Range",
        "AGEU": "Age Units",
        "SEX": "Sex",
        "RACE": "Race",
        "ETHNIC": "Ethnicity",
        "ARMCD": "Planned Arm Code",
        "ARM": "Description of Planned Arm",
        "ACTARMCD": "Actual Arm Code",
        "ACTARM": "Description of Actual Arm",
        "VISITNUM": "Visit Number",
        "VISIT": "Visit Name",
        "AETERM": "Reported Term for the Adverse Event",
        "AEDECOD": "Dictionary-Derived Term",
        "AELLT": "Lowest Level Term",
        "AELLTCD": "Lowest Level Term Code",
        "AEPTCD": "Preferred Term Code",
        "AESOC": "Primary System Organ Class",
        "AESOCCD": "Primary System Organ Class Code",
        "AEBODSYS": "Body System or Organ Class",
        "AEBDSYCD": "Body System or Organ Class Code",
        "AESER": "Serious Event",
        "AEACN": "Action Taken with Study Treatment",
        "AEREL": "Causality",
        "AEOUT": "Outcome of Adverse Event",
        "AETOXGR": "Standard Toxicity Grade",
        "AESTDTC": "Start Date/Time of Adverse Event",
        "AEENDTC": "End Date/Time of Adverse Event",
        "AESTDY": "Study Day of Start of Adverse Event",
        "AEENDY": "Study Day of End of Adverse Event",
        "CMTRT": "Reported Name of Drug, Med, or Therapy",
        "CMDOSE": "Dose per Administration",
        "CMDOSU": "Dose Units",
        "CMSTDTC": "Start Date/Time of Medication",
        "CMENDTC": "End Date/Time of Medication",
        "CMSTDY": "Study Day of Start of Medication",
        "CMENDY": "Study Day of End of Medication",
        "EXTRT": "Name of Treatment",
        "EXDOSE": "Dose",
        "EXDOSU": "Dose Units",
        "EXSTDTC": "Start Date/Time of Treatment",
        "EXENDTC": "End Date/Time of Treatment",
        "EXSTDY": "Study Day of Start of Treatment",
        "EXENDY": "Study Day of End of Treatment",
        "LBTESTCD": "Lab Test or Examination Short Name",
        "LBTEST": "Lab Test or Examination Name",
        "LBTOXGR": "Standard Toxicity Grade",
        "LBDTC": "Date/Time of Specimen Collection",
        "VSTESTCD": "Vital Signs Test Short Name",
        "VSTEST": "Vital Signs Test Name",
        "VSDTC": "Date/Time of Measurements",
        "RSTESTCD": "Assessment Short Name",
        "RSTEST": "Assessment Name",
        "RSEVAL": "Evaluator",
        "RSDTC": "Date/Time of Assessment",
        "RDOMAIN": "Related Domain Abbreviation",
        "IDVAR": "Identifying Variable",
        "IDVARVAL": "Identifying Variable Value",
        "QNAM": "Qualifier Variable Name",
        "QLABEL": "Qualifier Variable Label",
        "QVAL": "Data Value",
        "QORIG": "Origin",
        "--SEQ": "Sequence Number",
        "--CAT": "Category",
        "--ORRES": "Result or Finding in Original Units",
        "--ORRESU": "Original Units",
        "--STRESC": "Character Result/Finding in Std Format",
        "--STRESN": "Numeric Result/Finding in Standard Units",
        "--STRESU": "Standard Units",
        "--STAT": "Completion Status",
        "--REASND": "Reason Test Not Done",
        "--DY": "Study Day of Visit/Collection/Exam",
    }
)


def _generic(name: str) -> str:
    return "--" + name[2:] if len(name) > 2 else name


def variable_label(name: str) -> str:
    """The standard label of a variable (``LBORRES`` -> "Result or Finding in Original Units").

    >>> variable_label("VSTESTCD"), variable_label("LBSEQ")
    ('Vital Signs Test Short Name', 'Sequence Number')
    """
    return _LABELS.get(name) or _LABELS.get(_generic(name)) or name


def is_numeric(name: str) -> bool:
    """Whether the variable ``name`` is numeric in SDTM (:data:`NUMERIC`)."""
    return name in NUMERIC or _generic(name) in NUMERIC
