"""A missing-data code in a findings form is an SDTM test not done (SDTMIG v3.3 section 4.5.1.2):
an empty result, ``--STAT`` ``NOT DONE`` and the code's label in ``--REASND``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lxml import etree
from tests.interop._sdtm_support import read_both

from clestudy.interop import export_sdtm
from clestudy.interop._sdtm import sdtm_datasets
from clestudy.interop._sdtm_dataset import _ordered_columns
from clestudy.protocol import MissingCode, load_protocol
from clestudy.store import open_store

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
CODES = (MissingCode(code="NASK", label="Not asked"), MissingCode(code="-999", label="Not done"))


def _study(tmp_path: Path) -> str:
    protocol = load_protocol("pediatric-cle-chart-review").model_copy(
        update={"missing_codes": CODES}
    )
    url = f"sqlite:///{tmp_path / 'nd.db'}"
    with open_store(url, protocol, actor="tester") as store:
        for subject in ("P01", "P02"):
            store.add_subject(subject, arm=protocol.arms[0].id, site=protocol.sites[0].id,
                              actor="tester")  # fmt: skip
        # P01: ESR and C3 not done (coded), WBC measured; P02: both measured
        store.save_record("P01", "initiation", "labs", {"lbdat": "2024-01-10", "wbc": 6.1,
                          "_missing": {"esr": "NASK", "c3": "-999"}}, actor="tester")  # fmt: skip
        store.save_record("P02", "initiation", "labs", {"lbdat": "2024-01-12", "wbc": 5.0,
                          "esr": 30}, actor="tester")  # fmt: skip
    return url


def test_a_coded_lab_is_a_row_not_done_with_the_codes_label(tmp_path: Path) -> None:
    url = _study(tmp_path)
    with open_store(url, "pediatric-cle-chart-review") as store:
        lb = next(d for d in sdtm_datasets(store) if d.name == "LB").frame
    rows: dict[tuple[str, str], dict[Any, Any]] = {
        (str(r["USUBJID"]), str(r["LBTESTCD"])): r for r in lb.to_dict("records")
    }
    p01_esr = rows[("pediatric-cle-chart-review-P01", "ESR")]
    assert (p01_esr["LBORRES"], p01_esr["LBSTRESC"], p01_esr["LBORRESU"]) == ("", "", "")
    assert math.isnan(p01_esr["LBSTRESN"])  # no numeric result
    assert (p01_esr["LBSTAT"], p01_esr["LBREASND"]) == ("NOT DONE", "Not asked")
    assert rows[("pediatric-cle-chart-review-P01", "C3")]["LBREASND"] == "Not done"
    measured = rows[("pediatric-cle-chart-review-P02", "ESR")]
    assert (measured["LBORRES"], measured["LBSTRESN"]) == ("30", 30.0)
    assert (measured["LBSTAT"], measured["LBREASND"]) == ("", "")
    columns = list(lb.columns)  # status and reason follow the results
    assert columns.index("LBSTRESU") < columns.index("LBSTAT") < columns.index("LBREASND")
    assert columns.index("LBREASND") < columns.index("VISITNUM")


def test_status_and_reason_follow_the_results_whichever_row_came_first() -> None:
    head = ["STUDYID", "DOMAIN", "USUBJID", "LBTESTCD", "LBORRES", "LBSTRESC", "LBSTRESN",
            "LBORRESU", "LBSTRESU"]  # fmt: skip
    measured_first = [*head, "LBTOXGR", "LBSTAT", "LBREASND", "VISITNUM"]
    not_done_first = [*head, "LBSTAT", "LBREASND", "LBTOXGR", "VISITNUM"]
    for columns in (measured_first, not_done_first):
        ordered = _ordered_columns(columns, "LB")
        assert ordered[ordered.index("LBSTRESU") + 1 :] == [
            "LBSTAT", "LBREASND", "LBTOXGR", "VISITNUM"
        ]  # fmt: skip


def test_the_xpt_and_define_xml_carry_the_status_and_its_codelist(tmp_path: Path) -> None:
    url = _study(tmp_path)
    with open_store(url, "pediatric-cle-chart-review") as store:
        export_sdtm(store, tmp_path / "sdtm")
    frame, _ = read_both(tmp_path / "sdtm" / "lb.xpt")
    not_done = frame[frame["LBSTAT"] == "NOT DONE"]
    assert sorted(not_done["LBTESTCD"]) == ["C3", "ESR"]
    assert set(not_done["LBORRES"]) == {""}
    define = etree.parse(str(tmp_path / "sdtm" / "define.xml"))
    names = {e.get("Name"): e for e in define.iter(f"{ODM}ItemDef")}
    assert names["LBSTAT"].findtext(f"{ODM}Description/{ODM}TranslatedText") == "Completion Status"
    assert "LBREASND" in names
    code_list = define.find(f"{ODM}Study/{ODM}MetaDataVersion/{ODM}CodeList[@OID='CL.LB.LBSTAT']")
    assert code_list is not None, "LBSTAT has its codelist"
    assert [e.get("CodedValue") for e in code_list.iter(f"{ODM}EnumeratedItem")] == ["NOT DONE"]
    # CDISC codelist ND and its one term, as read in SEND_CT_2024-03-29.csv (CODE_SOURCE)
    nci = [a.get("Name") for a in code_list.iter(f"{ODM}Alias")]
    assert nci == ["C49484", "C66789"]  # the term's code, then the codelist's
    manifest = json.loads((tmp_path / "sdtm" / "manifest.json").read_text())
    assert not [n for n in manifest["sdtm"]["nci_codes"]["without_code"] if "LBSTAT" in n]
