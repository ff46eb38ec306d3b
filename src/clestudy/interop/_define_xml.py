"""Define-XML 2.1 describing the SDTM datasets of an export (``define.xml``).

One ``ItemGroupDef`` per dataset (class, structure, keys, the XPT file as ``def:leaf``), one
``ItemDef`` per variable (data type, length, label, origin), one ``CodeList`` per coded variable
(the protocol's choice codes with their decodes) and the standards used: the SDTMIG version and
the CDISC Controlled Terminology package (:data:`~clestudy.interop._sdtm_vars.CT_VERSION`).

A codelist whose NCI codes are in the reference table of
:mod:`clestudy.interop._sdtm_terminology` refers to the CT standard (``def:StandardOID``) and
carries ``<Alias Context="nci:ExtCodeID">`` with the codelist's code, and each term its own
(Define-XML 2.1, ``CodeList``); any other codelist is written as the sponsor's, with its values
and decodes and no code. A variable coded by an external dictionary (``AELLT`` from CTCAE v5.0,
``AEDECOD`` from the sponsor's MedDRA coding) gets a codelist holding an ``ExternalCodeList``
naming the dictionary and its version. Written with lxml, which the ODM export already uses;
odmlib's Define-XML 2.1 model would add a dependency for one flat document.

References
----------
CDISC Define-XML v2.1 specification (2019-05-15), https://www.cdisc.org/standards/data-exchange/define-xml;
docs/references.md [Define-XML 2.1].
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from lxml import etree

from clestudy import __version__
from clestudy.interop._sdtm import Dataset
from clestudy.interop._sdtm_terminology import codelist_for
from clestudy.interop._sdtm_vars import CT_VERSION, SDTMIG_VERSION, is_numeric
from clestudy.protocol import Protocol

__all__ = ["DEF_NS", "define_document"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_IG = "STD.SDTMIG"
_CT = "STD.CT"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    ns = DEF_NS if tag.startswith("def:") else ODM_NS
    node = etree.SubElement(parent, f"{{{ns}}}{tag.removeprefix('def:')}", attrs)
    if text is not None:
        node.text = text
    return node


def _description(parent: etree._Element, text: str) -> None:
    _el(_el(parent, "Description"), "TranslatedText", text, **{XML_LANG: "en"})


def _data_type(name: str, column: pd.Series) -> tuple[str, str | None]:
    """Define-XML data type and length of a variable."""
    if is_numeric(name):
        values = column.dropna()
        whole = bool(values.empty or (values == values.round()).all())
        digits = max((len(str(int(abs(v)))) for v in values), default=1)
        return ("integer", str(digits)) if whole else ("float", "8")
    if name.endswith("DTC"):
        return "date", None
    return "text", str(max(1, int(column.astype(str).str.len().max() or 1)))


def _standards(mdv: etree._Element) -> None:
    standards = _el(mdv, "def:Standards")
    _el(standards, "def:Standard", OID=_IG, Name="SDTMIG", Type="IG", Version=SDTMIG_VERSION,
        Status="Final")  # fmt: skip
    _el(standards, "def:Standard", OID=_CT, Name="CDISC/NCI", Type="CT", PublishingSet="SDTM",
        Version=CT_VERSION, Status="Final")  # fmt: skip


def _item_oid(dataset: Dataset, name: str) -> str:
    return f"IT.{dataset.name}.{name}"


def _item_group(mdv: etree._Element, dataset: Dataset) -> None:
    domain = dataset.name.removeprefix("SUPP")
    attrs = {
        "OID": f"IG.{dataset.name}", "Name": dataset.name, "Repeating": "No" if dataset.name ==
        "DM" else "Yes", "IsReferenceData": "No", "SASDatasetName": dataset.name,
        "Domain": domain, "Purpose": "Tabulation", f"{{{DEF_NS}}}Structure": dataset.structure,
        f"{{{DEF_NS}}}StandardOID": _IG, f"{{{DEF_NS}}}ArchiveLocationID": f"LF.{dataset.name}",
    }  # fmt: skip
    group = _el(mdv, "ItemGroupDef", **attrs)
    _description(group, dataset.label)
    for order, name in enumerate(dataset.frame.columns, 1):
        ref = {"ItemOID": _item_oid(dataset, name), "OrderNumber": str(order),
               "Mandatory": "Yes" if name in ("STUDYID", "DOMAIN", "USUBJID") else "No"}  # fmt: skip
        if name in dataset.keys:
            ref["KeySequence"] = str(dataset.keys.index(name) + 1)
        _el(group, "ItemRef", **ref)
    _el(group, "def:Class", Name=dataset.domain_class)
    leaf = _el(group, "def:leaf", ID=f"LF.{dataset.name}",
               **{f"{{{XLINK_NS}}}href": f"{dataset.name.lower()}.xpt"})  # fmt: skip
    _el(leaf, "def:title", f"{dataset.name.lower()}.xpt")


def _item_def(mdv: etree._Element, dataset: Dataset, name: str, label: str) -> None:
    data_type, length = _data_type(name, dataset.frame[name])
    attrs = {"OID": _item_oid(dataset, name), "Name": name, "DataType": data_type,
             "SASFieldName": name}  # fmt: skip
    if length is not None:
        attrs["Length"] = length
    item = _el(mdv, "ItemDef", **attrs)
    _description(item, label)
    if name in dataset.codelists or name in dataset.external:
        _el(item, "CodeListRef", CodeListOID=f"CL.{dataset.name}.{name}")
    origin = dataset.origins.get(name, "Collected")
    source = {"Collected": "Investigator", "Derived": "Sponsor", "Assigned": "Sponsor"}[origin]
    _el(item, "def:Origin", Type=origin, Source=source)


def _nci_alias(parent: etree._Element, code: str) -> None:
    _el(parent, "Alias", Context="nci:ExtCodeID", Name=code)


def _code_list(mdv: etree._Element, dataset: Dataset, name: str, codes: dict[str, str]) -> None:
    """A ``CodeList``: CDISC CT (with its NCI codes) when the reference table has the codelist,
    else the sponsor's; its terms are ``EnumeratedItem`` when one has no decode (the two kinds
    are not mixed in one codelist: ODM 1.3.2 ``CodeList``)."""
    cdisc = codelist_for(name, codes)
    attrs = {f"{{{DEF_NS}}}StandardOID": _CT} if cdisc else {}
    code_list = _el(mdv, "CodeList", OID=f"CL.{dataset.name}.{name}", Name=f"{dataset.name} "
                    f"{name}", DataType="text", **attrs)  # fmt: skip
    tag = "CodeListItem" if all(codes.values()) else "EnumeratedItem"
    for order, (value, decode) in enumerate(codes.items(), 1):
        item = _el(code_list, tag, CodedValue=value, OrderNumber=str(order))
        if tag == "CodeListItem":
            _el(_el(item, "Decode"), "TranslatedText", decode, **{XML_LANG: "en"})
        if cdisc and value in cdisc.terms:
            _nci_alias(item, cdisc.terms[value])
    if cdisc:
        _nci_alias(code_list, cdisc.code)


def _external_list(mdv: etree._Element, dataset: Dataset, name: str) -> None:
    dictionary, version = dataset.external[name]
    code_list = _el(mdv, "CodeList", OID=f"CL.{dataset.name}.{name}",
                    Name=f"{dataset.name} {name}", DataType="text")  # fmt: skip
    _el(code_list, "ExternalCodeList", Dictionary=dictionary, Version=version)


def define_document(
    protocol: Protocol, datasets: Sequence[Dataset], *, created: str
) -> etree._ElementTree:
    """The Define-XML 2.1 document of ``datasets`` (see the module docstring)."""
    nsmap = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}
    root = etree.Element(f"{{{ODM_NS}}}ODM", nsmap=nsmap)  # type: ignore[arg-type]
    root.attrib.update({
        "FileType": "Snapshot", "FileOID": f"DEF.{protocol.id}", "CreationDateTime": created,
        "ODMVersion": "1.3.2", "Originator": "clestudy", "SourceSystem": "clestudy",
        "SourceSystemVersion": __version__, f"{{{DEF_NS}}}Context": "Submission",
    })  # fmt: skip
    study = _el(root, "Study", OID=f"S.{protocol.id}")
    globals_ = _el(study, "GlobalVariables")
    _el(globals_, "StudyName", protocol.id)
    _el(globals_, "StudyDescription", protocol.title)
    _el(globals_, "ProtocolName", protocol.id)
    mdv = _el(study, "MetaDataVersion", OID=f"MDV.{protocol.id}.{protocol.version}",
              Name=f"{protocol.id} SDTM", **{f"{{{DEF_NS}}}DefineVersion": "2.1.0"})  # fmt: skip
    _standards(mdv)
    for dataset in datasets:
        _item_group(mdv, dataset)
    for dataset in datasets:
        for name, label in zip(dataset.frame.columns, dataset.labels, strict=True):
            _item_def(mdv, dataset, name, label)
    for dataset in datasets:
        for name, codes in dataset.codelists.items():
            _code_list(mdv, dataset, name, codes)
        for name in dataset.external:
            _external_list(mdv, dataset, name)
    return etree.ElementTree(root)
