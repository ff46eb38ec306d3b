"""NCI concept codes (C-codes) of the CDISC Controlled Terminology the SDTM export writes.

Define-XML 2.1 ties a codelist and each of its terms to CDISC CT through an
``<Alias Context="nci:ExtCodeID" Name="C....."/>`` (CDISC Define-XML v2.1 specification, the
``CodeList`` element: the codelist's code on ``CodeList``, each term's on its ``CodeListItem`` or
``EnumeratedItem``; docs/references.md [Define-XML 2.1]). :data:`CODELISTS` is the reference table of the codes clestudy writes; a
code is written only when it is in this table, and no code is ever made up: a codelist or term
not in it is written with its values and decodes alone, and the manifest lists it
(:func:`missing_codes`).

Provenance of the table: the CDISC CT release of 2024-03-29, read from the CDISC CSV of its SEND
publishing set ("Standard and Date" column ``SEND CT 2024-03-29``), as shipped in the public
repository ``rubentalstra/Trial-Submission-Studio``, file
``crates/tss-standards/data/terminology/2024-03-29/SEND_CT_2024-03-29.csv`` at commit
``8753b121aaa8370978b2c144e70485bef840e1c5`` (:data:`CODE_SOURCE`). The codelists below are the
SDTM codelists that publishing set carries unchanged (their NCI preferred terms read "CDISC SDTM
Sex of Individual Terminology", "CDISC SDTM Age Unit Terminology", "CDISC SDTM Yes No Unknown or
Not Applicable Response Terminology", "CDISC SDTM Laboratory Test Code Terminology", "CDISC SDTM
Not Done Terminology", "CDISC SDTM Unit of Measure Terminology", "CDISC SDTM Unit for Vital Sign
Result Terminology", "CDISC SDTM Vital Sign Test Code Terminology"). A codelist is one NCI
Thesaurus subset, published unchanged in every publishing set of a release that uses it, so these
are the codes of the SDTM CT 2024-03-29 package the Define-XML names. The SDTM publishing set's
own file could not be read offline; the codelists it holds and the SEND set does not are written
without codes until a source for them is added here, with its provenance. Those the built-in
studies use are ``RACE`` (Race), ``ETHNIC`` (Ethnic Group), ``OUT`` (Outcome of Event), ``ACN``
(Action Taken with Study Treatment) and ``TOXGRV5``: the SEND CSV, sorted by codelist name, has
none of them where they would sort. Its first codelist is "Age Estimation Method Response" (no
"Action Taken ..."), and these pairs are adjacent: "ECG Test Name", "Expected Onset of Rad/Nuc
Targeted Injury Response" (no "Ethnic Group"); "Organ Measurement Test Name", "Pharmaceutical
Dosage Form" (no "Outcome of Event"); "Pregnancy Status Response", "Rad/Nuc Agent Ionizing
Radiation Type Response" (no "Race"); "Collected Summarized Value Type Response", "Consciousness
State" and "Test Site Activity Response", "Toxicokinetic Description Response" (no "Common
Terminology Criteria ..." nor "Toxicity Grade ...").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "CODELISTS",
    "CODE_SOURCE",
    "CodeSource",
    "Codelist",
    "codelist_for",
    "missing_codes",
]


@dataclass(frozen=True)
class CodeSource:
    """Where the codes of :data:`CODELISTS` were read."""

    release: str
    publishing_set: str
    package: str
    repository: str
    path: str
    commit: str

    def as_dict(self) -> dict[str, str]:
        """The provenance as written in the manifest."""
        return {
            "release": self.release,
            "publishing_set": self.publishing_set,
            "package": self.package,
            "repository": self.repository,
            "path": self.path,
            "commit": self.commit,
        }


CODE_SOURCE = CodeSource(
    release="2024-03-29",
    publishing_set="SEND",
    package="SEND CT 2024-03-29",
    repository="rubentalstra/Trial-Submission-Studio",
    path="crates/tss-standards/data/terminology/2024-03-29/SEND_CT_2024-03-29.csv",
    commit="8753b121aaa8370978b2c144e70485bef840e1c5",
)


@dataclass(frozen=True)
class Codelist:
    """One CDISC codelist: its NCI code, name, submission value and terms (value -> NCI code)."""

    code: str
    name: str
    submission_value: str
    extensible: bool
    terms: Mapping[str, str]


CODELISTS: Mapping[str, Codelist] = MappingProxyType(
    {
        # "C66781",,"No","Age Unit","AGEU",... and its five terms (CODE_SOURCE)
        "AGEU": Codelist("C66781", "Age Unit", "AGEU", False, MappingProxyType({
            "DAYS": "C25301", "HOURS": "C25529", "MONTHS": "C29846", "WEEKS": "C29844",
            "YEARS": "C29848",
        })),
        # "C66742",,"No","No Yes Response","NY",... and its four terms (CODE_SOURCE)
        "NY": Codelist("C66742", "No Yes Response", "NY", False, MappingProxyType({
            "N": "C49487", "NA": "C48660", "U": "C17998", "Y": "C49488",
        })),
        # "C65047",,"Yes","Laboratory Test Code","LBTESTCD",... and the terms the built-in
        # protocols use (CODE_SOURCE); the codelist is extensible, and a test code not here is
        # written without a code (the built-in DSDNAAB is not a term of this release)
        "LBTESTCD": Codelist("C65047", "Laboratory Test Code", "LBTESTCD", True, MappingProxyType({
            "ALT": "C64433", "AST": "C64467", "C3": "C80174", "C4": "C80177",
            "CREAT": "C64547", "ESR": "C74611", "HCG": "C64851", "HGB": "C64848",
            "LYM": "C51949", "NEUT": "C63321", "PLAT": "C51951", "WBC": "C51948",
        })),
        # "C66731",,"No","Sex","SEX",... and its four terms (CODE_SOURCE)
        "SEX": Codelist("C66731", "Sex", "SEX", False, MappingProxyType({
            "F": "C16576", "INTERSEX": "C45908", "M": "C20197", "U": "C17998",
        })),
        # "C66789",,"No","Not Done","ND",... and its one term (CODE_SOURCE): --STAT
        "ND": Codelist("C66789", "Not Done", "ND", False, MappingProxyType({
            "NOT DONE": "C49484",
        })),
        # "C71620",,"Yes","Unit","UNIT",... and the units the built-in protocols use that are
        # terms of it (CODE_SOURCE); the protocols' other units ("cells/mm2", "fold change",
        # "fraction", "MFI", "% of CD3+ T cells", ...) are not submission values of this release
        # and are written without a code
        "UNIT": Codelist("C71620", "Unit", "UNIT", True, MappingProxyType({
            "10^9/L": "C67255", "IU/mL": "C67377", "U/L": "C67456", "cm": "C49668",
            "g/dL": "C64783", "kg": "C28252", "mg": "C28253", "mg/dL": "C67015",
            "mg/day": "C67399", "mm/h": "C67419",
        })),
        # "C66770",,"Yes","Units for Vital Signs Results","VSRESU",... and the two units the
        # built-in protocols use (CODE_SOURCE)
        "VSRESU": Codelist("C66770", "Units for Vital Signs Results", "VSRESU", True,
                           MappingProxyType({"cm": "C49668", "kg": "C28252"})),
        # "C66741",,"Yes","Vital Signs Test Code","VSTESTCD",... and the two tests the built-in
        # protocols use (CODE_SOURCE)
        "VSTESTCD": Codelist("C66741", "Vital Signs Test Code", "VSTESTCD", True,
                             MappingProxyType({"HEIGHT": "C25347", "WEIGHT": "C25208"})),
    }
)  # fmt: skip
"""The codelists whose NCI codes clestudy writes, by submission value."""

_VARIABLE_CODELISTS: Mapping[str, str] = MappingProxyType({
    "SEX": "SEX", "AGEU": "AGEU", "LBTESTCD": "LBTESTCD", "VSTESTCD": "VSTESTCD",
    "VSORRESU": "VSRESU", "VSSTRESU": "VSRESU",
})  # fmt: skip
"""Variables with a codelist of their own (SDTMIG v3.3 domain tables)."""

_SUFFIX_CODELISTS: Mapping[str, str] = MappingProxyType(
    {"ORRESU": "UNIT", "STRESU": "UNIT", "DOSU": "UNIT", "STAT": "ND"}
)
"""Codelists of a ``--`` variable in every domain (SDTMIG v3.3: ``--ORRESU``, ``--STRESU`` and
``--DOSU`` take ``UNIT``, except the vital signs units above; ``--STAT`` takes ``ND``)."""


def codelist_for(variable: str, values: Mapping[str, str]) -> Codelist | None:
    """The CDISC codelist of ``variable`` whose codes are in :data:`CODELISTS`, or ``None``.

    ``SEX``, ``AGEU``, ``LBTESTCD``, ``VSTESTCD`` and the vital signs units (``VSRESU``) have
    their own codelists, a domain's ``--ORRESU``, ``--STRESU`` and ``--DOSU`` take ``UNIT`` and
    its ``--STAT`` takes ``ND`` (SDTMIG v3.3); a variable coded ``Y``/``N`` (a CDASH boolean)
    takes ``NY``, the codelist of the SDTMIG's yes/no variables.

    >>> codelist_for("SEX", {"F": "Female"}).code, codelist_for("AESER", {"Y": "Yes"}).code
    ('C66731', 'C66742')
    >>> [codelist_for(v, {}).name for v in ("LBORRESU", "EXDOSU", "VSORRESU", "LBSTAT")]
    ['Unit', 'Unit', 'Units for Vital Signs Results', 'Not Done']
    >>> codelist_for("AEREL", {"RELATED": "Related"}) is None
    True
    """
    name = _VARIABLE_CODELISTS.get(variable)
    if name is None:
        name = next((codelist for suffix, codelist in _SUFFIX_CODELISTS.items()
                     if len(variable) == 2 + len(suffix) and variable.endswith(suffix)), None)  # fmt: skip
    if name is None and values and set(values) <= {"Y", "N"}:
        name = "NY"
    return CODELISTS.get(name) if name else None


def missing_codes(variable: str, values: Mapping[str, str]) -> list[str]:
    """What the Define-XML writes without an NCI code for ``variable`` coded with ``values``:
    the whole codelist when :data:`CODELISTS` has none for it, else each term it lacks.

    >>> missing_codes("SEX", {"F": "Female", "X": "Other"})
    ["SEX: term 'X' has no NCI code in codelist C66731"]
    >>> missing_codes("AEREL", {"RELATED": "Related"})
    ['AEREL: no CDISC codelist with NCI codes in the reference table']
    """
    codelist = codelist_for(variable, values)
    if codelist is None:
        return [f"{variable}: no CDISC codelist with NCI codes in the reference table"]
    return [
        f"{variable}: term '{value}' has no NCI code in codelist {codelist.code}"
        for value in values
        if value not in codelist.terms
    ]
