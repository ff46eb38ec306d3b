"""SDTM AE: MedDRA variables from CTCAE v5.0 terms or the sponsor's coding file, never made up.

The MedDRA codes in these tests are the CTCAE v5.0 codes of the package's reference table
(``CTCAE_V5_LLT``: "Fatigue" 10016256, "Pruritus" 10037087), used as the sponsor's coding of a
preferred term of the same name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from tests.interop._sdtm_support import read_both, small_protocol

from clestudy.cli import main
from clestudy.errors import InputError
from clestudy.interop import export_sdtm, read_ae_coding
from clestudy.interop._sdtm_meddra import CTCAE_V5_LLT
from clestudy.store import open_store

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
TERMS = ("Fatigue", "tired all day", "itching", "Pruritus")


def _study(path: Path) -> str:
    url = f"sqlite:///{path}"
    with open_store(url, small_protocol(), actor="t") as store:
        store.add_subject("P1", arm="a", site="s1", actor="t")
        for day, term in enumerate(TERMS, 10):
            values = {"aeterm": term, "aestdat": f"2024-01-{day}", "aeser": False}
            store.save_record("P1", "day_0", "ae", values, actor="t", instance="next")
    return url


def _externals(folder: Path) -> dict[str, tuple[str | None, str | None]]:
    root = etree.parse(str(folder / "define.xml")).getroot()
    out = {}
    for code_list in root.iter(f"{ODM}CodeList"):
        ext = code_list.find(f"{ODM}ExternalCodeList")
        if ext is not None:
            out[str(code_list.get("OID"))] = (ext.get("Dictionary"), ext.get("Version"))
    return out


def test_ctcae_terms_fill_only_the_lowest_level_term(tmp_path: Path) -> None:
    url = _study(tmp_path / "s.db")
    with open_store(url, "sdtm-small") as store:
        export_sdtm(store, tmp_path / "out")
    ae, by_pandas = read_both(tmp_path / "out" / "ae.xpt")
    rows = {r["AETERM"]: r for _, r in ae.iterrows()}
    assert rows["Fatigue"]["AELLT"] == "Fatigue" and rows["Pruritus"]["AELLT"] == "Pruritus"
    assert rows["Fatigue"]["AELLTCD"] == float(CTCAE_V5_LLT["Fatigue"])
    assert rows["itching"]["AELLT"] == "" and set(ae["AEDECOD"]) == {""}
    assert list(by_pandas["AELLTCD"].fillna(0)) == list(ae["AELLTCD"].fillna(0))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    coding = manifest["sdtm"]["ae_coding"]
    assert (coding["dictionary"], coding["version"]) == ("MedDRA", "20.1")
    assert coding["uncoded_terms"] == sorted(TERMS)  # no AEDECOD without the sponsor's MedDRA
    assert _externals(tmp_path / "out") == {"CL.AE.AELLT": ("MEDDRA", "20.1")}


def _coding_file(path: Path, rows: list[str]) -> Path:
    path.write_text("AETERM,AEDECOD,AEPTCD,AESOC,MEDDRA_VERSION\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")  # fmt: skip
    return path


def test_sponsor_coding_fills_aedecod_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _study(tmp_path / "s.db")
    soc = "General disorders and administration site conditions"
    coding = _coding_file(tmp_path / "coding.csv", [
        f"fatigue,Fatigue,10016256,{soc},27.0", f"Tired all day ,Fatigue,10016256,{soc},27.0",
        "Pruritus,Pruritus,10037087,,27.0",
    ])  # fmt: skip
    args = ["export", "sdtm", "--study", "sdtm-small", "--db", url, "--out", str(tmp_path / "o")]
    assert main([*args, "--ae-coding", str(coding)]) == 0
    capsys.readouterr()
    ae, _ = read_both(tmp_path / "o" / "ae.xpt")
    rows = {r["AETERM"]: r for _, r in ae.iterrows()}
    assert rows["tired all day"]["AEDECOD"] == "Fatigue" == rows["Fatigue"]["AEDECOD"]
    assert rows["tired all day"]["AEPTCD"] == 10016256.0
    assert rows["Fatigue"]["AESOC"] == soc == rows["Fatigue"]["AEBODSYS"]
    assert rows["itching"]["AEDECOD"] == ""
    assert "AELLT" not in ae.columns  # the sponsor's file gave none; CTCAE is not mixed in
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    coding_note = manifest["sdtm"]["ae_coding"]
    assert coding_note["version"] == "27.0" and coding_note["uncoded_terms"] == ["itching"]
    assert coding_note["source"] == "sponsor coding file coding.csv"
    assert _externals(tmp_path / "o") == {
        "CL.AE.AEDECOD": ("MEDDRA", "27.0"),
        "CL.AE.AESOC": ("MEDDRA", "27.0"),
        "CL.AE.AEBODSYS": ("MEDDRA", "27.0"),
    }


def test_bad_coding_file_names_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _coding_file(tmp_path / "bad.csv", [
        "fatigue,Fatigue,1001625,,27.0", "itching,,10037087,,27.0", "rash,Rash,10037847,,26.1",
        "fatigue,Tiredness,10016256,,27.0",
    ])  # fmt: skip
    with pytest.raises(InputError) as error:
        read_ae_coding(bad)
    message = str(error.value)
    assert f"{bad}:2: AEPTCD: '1001625' is not an 8-digit MedDRA code" in message
    assert f"{bad}:3: AEDECOD: empty" in message
    assert f"{bad}: MEDDRA_VERSION: one version expected, found 26.1 (line 4), 27.0 (line 5)" in (
        message
    )
    url = _study(tmp_path / "s.db")
    out = tmp_path / "never"
    args = ["export", "sdtm", "--study", "sdtm-small", "--db", url, "--out", str(out)]
    assert main([*args, "--ae-coding", str(bad)]) == 2
    assert "AEPTCD: '1001625' is not an 8-digit MedDRA code" in capsys.readouterr().err
    assert not out.exists()
    missing = tmp_path / "missing.csv"
    missing.write_text("AETERM,AEDECOD\nx,y\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"missing.csv:1: missing column\(s\) AEPTCD, MEDDRA_VERSION"
    ):
        read_ae_coding(missing)
    assert main(["export", "csv", "--study", "sdtm-small", "--db", url, "--out", str(out),
                 "--ae-coding", str(missing)]) == 2  # fmt: skip
    assert "--ae-coding: only with the sdtm format" in capsys.readouterr().err


def test_demo_ae_terms_are_listed_uncoded_not_made_up(demo_url: str, tmp_path: Path) -> None:
    with open_store(demo_url, "lenalidomide-cle-open-label") as store:
        export_sdtm(store, tmp_path)
    ae, _ = read_both(tmp_path / "ae.xpt")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert len(ae) > 0 and set(ae["AEDECOD"]) == {""}
    assert manifest["sdtm"]["ae_coding"]["uncoded_terms"] == sorted(set(ae["AETERM"]))
