"""SDTM export: NCI codes of CDISC CT in Define-XML, and long text continued in SUPP--."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree
from tests.interop._sdtm_support import read_both, small_protocol

from clestudy.interop import export_sdtm
from clestudy.interop._sdtm_dataset import split_qnam
from clestudy.interop._sdtm_terminology import CODE_SOURCE, CODELISTS
from clestudy.interop._sdtm_vars import CT_VERSION
from clestudy.store import Store, open_store

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
NCI = "nci:ExtCodeID"


def _aliases(node: etree._Element) -> list[str]:
    return [a.get("Name", "") for a in node.findall(f"{ODM}Alias") if a.get("Context") == NCI]


def test_every_nci_code_in_define_is_in_the_reference_table(
    demo_store: Store, tmp_path: Path
) -> None:
    export_sdtm(demo_store, tmp_path)
    root = etree.parse(str(tmp_path / "define.xml")).getroot()
    by_code = {c.code: c for c in CODELISTS.values()}
    standards = {s.get("OID"): s for s in root.iter(f"{DEF}Standard")}
    coded: dict[str, str] = {}
    uncoded: list[str] = []
    for code_list in root.iter(f"{ODM}CodeList"):
        codes = _aliases(code_list)
        if not codes:  # a sponsor codelist: no code on it, nor on its terms, nor a CT standard
            assert code_list.get(f"{DEF}StandardOID") is None
            assert not any(_aliases(item) for item in code_list)
            continue
        assert len(codes) == 1 and codes[0] in by_code, code_list.get("OID")
        standard = standards[code_list.get(f"{DEF}StandardOID")]
        assert (standard.get("Type"), standard.get("Version")) == ("CT", CT_VERSION)
        assert CODE_SOURCE.release == CT_VERSION  # the codes come from the release named
        terms = by_code[codes[0]].terms
        for item in code_list.iter(f"{ODM}CodeListItem", f"{ODM}EnumeratedItem"):
            value = item.get("CodedValue", "")
            expected = [terms[value]] if value in terms else []  # none made up for the others
            assert _aliases(item) == expected, (code_list.get("OID"), value)
            if not expected:
                uncoded.append(f"{code_list.get('Name', '').replace(' ', '.')}: term '{value}' "
                               f"has no NCI code in codelist {codes[0]}")  # fmt: skip
        coded[str(code_list.get("OID"))] = codes[0]
    assert coded["CL.DM.SEX"] == "C66731"  # Sex, in both demo studies
    assert coded["CL.DM.AGEU"] == "C66781"
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert set(uncoded) <= set(manifest["sdtm"]["nci_codes"]["without_code"])
    if demo_store.protocol.form("ae") is not None:
        assert coded["CL.AE.AESER"] == "C66742"  # No Yes Response
    if demo_store.protocol.id == "lenalidomide-cle-open-label":  # the study with the labs form
        assert coded["CL.LB.LBTESTCD"] == "C65047"  # Laboratory Test Code
        assert "LB.LBTESTCD: term 'DSDNAAB' has no NCI code in codelist C65047" in uncoded
        assert "LB.LBORRESU: term 'fold change' has no NCI code in codelist C71620" in uncoded
    # both demo studies weigh their subjects, dose in mg and measure labs in 10^9/L
    assert (coded["CL.VS.VSTESTCD"], coded["CL.VS.VSORRESU"]) == ("C66741", "C66770")
    assert coded["CL.LB.LBORRESU"] == coded["CL.LB.LBSTRESU"] == coded["CL.EX.EXDOSU"] == "C71620"
    manifest_text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    for variable in ("VSTESTCD", "VSORRESU", "VSSTRESU", "LBORRESU", "EXDOSU"):
        assert f"{variable}: no CDISC codelist" not in manifest_text


def test_define_writes_the_codes_read_from_the_send_csv(demo_store: Store, tmp_path: Path) -> None:
    """Term codes as read in SEND_CT_2024-03-29.csv (CODE_SOURCE): each pair below is that
    file's "Code" column of the row whose "Codelist Code" and "CDISC Submission Value" name it."""
    export_sdtm(demo_store, tmp_path)
    root = etree.parse(str(tmp_path / "define.xml")).getroot()
    terms = {
        (str(code_list.get("OID")), item.get("CodedValue")): _aliases(item)
        for code_list in root.iter(f"{ODM}CodeList")
        for item in code_list.iter(f"{ODM}CodeListItem", f"{ODM}EnumeratedItem")
    }
    assert terms[("CL.VS.VSTESTCD", "WEIGHT")] == ["C25208"]  # C66741 row WEIGHT
    assert terms[("CL.VS.VSORRESU", "kg")] == ["C28252"]  # C66770 row kg
    assert terms[("CL.EX.EXDOSU", "mg")] == ["C28253"]  # C71620 row mg
    assert terms[("CL.LB.LBORRESU", "10^9/L")] == ["C67255"]  # C71620 row 10^9/L
    assert terms[("CL.LB.LBSTRESU", "g/dL")] == ["C64783"]  # C71620 row g/dL
    if demo_store.protocol.id == "lenalidomide-cle-open-label":
        assert terms[("CL.VS.VSTESTCD", "HEIGHT")] == ["C25347"]  # C66741 row HEIGHT
        assert terms[("CL.LB.LBORRESU", "cells/mm2")] == []  # not a term of UNIT: none made up
    else:
        assert terms[("CL.CM.CMDOSU", "mg/day")] == ["C67399"]  # C71620 row mg/day


def test_codelists_without_codes_are_listed_in_the_manifest(
    demo_store: Store, tmp_path: Path
) -> None:
    export_sdtm(demo_store, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["sdtm"]
    assert manifest["nci_codes"]["source"] == CODE_SOURCE.as_dict()
    assert (
        "DM.RACE: no CDISC codelist with NCI codes in the reference table"
        in (manifest["nci_codes"]["without_code"])
    )
    root = etree.parse(str(tmp_path / "define.xml")).getroot()
    race = next(c for c in root.iter(f"{ODM}CodeList") if c.get("OID") == "CL.DM.RACE")
    assert _aliases(race) == [] and race.get(f"{DEF}StandardOID") is None


def test_reference_table_holds_well_formed_codes() -> None:
    for name, codelist in CODELISTS.items():
        assert name == codelist.submission_value
        for code in (codelist.code, *codelist.terms.values()):
            assert code[0] == "C" and code[1:].isdigit(), (name, code)


def test_long_text_is_continued_in_supp_not_cut(tmp_path: Path) -> None:
    term = "".join(f"word{i:03d} " for i in range(60)).strip()  # 479 characters
    note = "n" * 230
    with open_store(f"sqlite:///{tmp_path / 's.db'}", small_protocol(), actor="t") as store:
        store.add_subject("P1", arm="a", site="s1", actor="t")
        store.save_record("P1", "day_0", "ae", {"aeterm": term, "aestdat": "2024-01-10",
                                                 "aeser": False, "aenote": note}, actor="t")  # fmt: skip
        export_sdtm(store, tmp_path / "out")
    ae, ae_pandas = read_both(tmp_path / "out" / "ae.xpt")
    supp, _ = read_both(tmp_path / "out" / "suppae.xpt")
    assert ae.loc[0, "AETERM"] == term[:199] == ae_pandas.loc[0, "AETERM"]  # the blank moves on
    parts = dict(zip(supp["QNAM"], supp["QVAL"], strict=True))
    assert sorted(parts) == ["AENOTE", "AENOTE1", "AETERM1", "AETERM2"]
    assert ae.loc[0, "AETERM"] + parts["AETERM1"] + parts["AETERM2"] == term
    assert parts["AENOTE"] + parts["AENOTE1"] == note and len(parts["AENOTE"]) == 200
    assert set(supp["IDVAR"]) == {"AESEQ"} and set(supp["IDVARVAL"]) == {"1"}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert "truncated_values" not in manifest["sdtm"]
    assert manifest["sdtm"]["long_text_in_supp"] == [
        "AE.AETERM row 1: 479 characters, 280 in SUPPAE AETERM1, AETERM2"
    ]


def test_split_qnam_fits_eight_characters() -> None:
    assert [split_qnam("AETERM", n) for n in (1, 2, 12)] == ["AETERM1", "AETERM2", "AETERM12"]
    assert split_qnam("CMINDCXX", 1) == "CMINDCX1" and len(split_qnam("CMINDCXX", 10)) == 8
