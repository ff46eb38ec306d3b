"""The protocol's ``sdtm:`` block: checked at load with clear errors, applied by the export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.interop._sdtm_support import read_both

from clestudy.errors import ProtocolError
from clestudy.interop import export_sdtm
from clestudy.interop._sdtm_vars import DOMAINS, variable_label
from clestudy.protocol import load_protocol, parse_protocol
from clestudy.protocol._sdtm_mapping import SDTM_VARIABLES
from clestudy.store import open_store

BASE = """\
id: mapped
title: Mapped study
version: '1'
arms: [{id: a, name: Arm A}]
sites: [{id: s1, name: Site 1}]
visits: [{id: day_0, name: Day 0, day: 0, forms: [ae, vitals]}]
forms:
- id: ae
  name: Adverse events
  domain: AE
  repeating: true
  fields:
  - {id: aeterm, label: Reported term, type: text, cdash: AETERM}
  - {id: aestdat, label: Start date, type: date, cdash: AESTDAT}
  - {id: aenote, label: Investigator note, type: text}
  - {id: aewhat, label: Other term, type: text}
- id: vitals
  name: Vitals
  fields:
  - {id: measured, label: Date measured, type: date}
  - {id: pulse, label: Pulse rate, type: integer}
  - {id: crp, label: C-reactive protein, type: decimal, unit: mg/L}
"""

GOOD = (
    BASE
    + """\
sdtm:
  forms:
  - {form: vitals, domain: VS}
  fields:
  - {form: vitals, field: pulse, testcd: PULSE}
  - {form: vitals, field: measured, variable: VSDTC}
  - {form: vitals, field: crp, domain: LB, testcd: CRP}
  - {form: ae, field: aenote, qnam: INVNOTE}
"""
)


def test_sdtm_block_errors_name_the_line_and_the_problem() -> None:
    bad = (
        BASE
        + """\
sdtm:
  forms:
  - {form: vitals, domain: QQ}
  - {form: nowhere, domain: VS}
  fields:
  - {form: ae, field: aewhat, variable: AEFOO}
  - {form: ae, field: aewhat, variable: AETERM}
  - {form: ae, field: missing, variable: AETERM}
  - {form: ae, field: aenote, variable: AEVERYLONGNAME}
  - {form: ae, field: aestdat, testcd: WHEN}
"""
    )
    with pytest.raises(ProtocolError) as error:
        parse_protocol(bad, "m.yaml")
    lines = str(error.value).splitlines()
    assert lines == [
        "m.yaml:31: sdtm.fields[3].variable: 'AEVERYLONGNAME' is longer than 8 "
        "characters (SAS transport v5 names)",
    ]
    with pytest.raises(ProtocolError) as error:
        parse_protocol(bad.replace("AEVERYLONGNAME", "AETERM"), "m.yaml")
    assert str(error.value).splitlines() == [
        "m.yaml:25: sdtm.forms[0].domain: 'QQ' is not a domain the SDTM export writes "
        "(DM, AE, CM, EX, LB, VS, RS)",
        "m.yaml:26: sdtm.forms[1].form: unknown form 'nowhere'",
        "m.yaml:28: sdtm.fields[0].variable: 'AEFOO' is not one of the AE variables the SDTM export writes "
        "(AEACN, AEENDTC, AEOUT, AEREL, AESER, AESTDTC, AETERM, AETOXGR)",
        "m.yaml:29: sdtm.fields[1]: field 'ae.aewhat' is mapped twice",
        "m.yaml:30: sdtm.fields[2].field: 'missing' is not a field of form 'ae'",
        "m.yaml:32: sdtm.fields[4].testcd: a test code applies only to a findings result (AEORRES)",
    ]


def test_only_findings_move_to_another_domain() -> None:
    bad = BASE + "sdtm:\n  fields: [{form: ae, field: aenote, domain: LB, testcd: NOTE}]\n"
    with pytest.raises(ProtocolError) as error:
        parse_protocol(bad, "m.yaml")
    assert str(error.value) == (
        "m.yaml:24: sdtm.fields[0].domain: a field moves to another domain only between "
        "findings domains (LB, VS, RS), not from AE to LB: move the whole form under sdtm.forms"
    )


def test_findings_field_needs_a_test_code() -> None:
    bad = (
        BASE
        + "sdtm:\n  forms: [{form: vitals, domain: VS}]\n  fields: [{form: vitals, field: pulse}]\n"
    )
    with pytest.raises(
        ProtocolError, match=r"m.yaml:25: sdtm.fields\[0\].testcd: a VS result needs a test code"
    ):
        parse_protocol(bad, "m.yaml")


def test_protocol_without_block_serialises_as_before() -> None:
    protocol = load_protocol("lenalidomide-cle-open-label")
    assert protocol.sdtm is None and "sdtm" not in protocol.model_dump(mode="json")
    mapped = parse_protocol(GOOD, "m.yaml")
    dumped = mapped.model_dump(mode="json")
    assert dumped["sdtm"]["fields"][0] == {"form": "vitals", "field": "pulse", "domain": None, "variable": None,
                                           "testcd": "PULSE", "qnam": None}  # fmt: skip
    assert type(mapped).model_validate(dumped) == mapped


def test_export_follows_the_sdtm_block(tmp_path: Path) -> None:
    protocol = parse_protocol(GOOD, "m.yaml")
    with open_store(f"sqlite:///{tmp_path / 's.db'}", protocol, actor="t") as store:
        store.add_subject("P1", arm="a", site="s1", actor="t")
        store.save_record(
            "P1",
            "day_0",
            "vitals",
            {"measured": "2024-02-01", "pulse": 72, "crp": "4.5"},
            actor="t",
        )
        store.save_record("P1", "day_0", "ae", {"aeterm": "Headache", "aestdat": "2024-02-01",
                                                 "aenote": "mild", "aewhat": "x"}, actor="t",
                          instance="next")  # fmt: skip
        export_sdtm(store, tmp_path / "out")
    vs, _ = read_both(tmp_path / "out" / "vs.xpt")
    assert list(vs["VSTESTCD"]) == ["PULSE"] and list(vs["VSSTRESN"]) == [72.0]
    assert list(vs["VSDTC"]) == ["2024-02-01"] and list(vs["VSDY"]) == [1.0]
    lb, _ = read_both(tmp_path / "out" / "lb.xpt")  # the finding moved to LB, with the date
    assert list(lb["LBTESTCD"]) == ["CRP"] and list(lb["LBSTRESN"]) == [4.5]
    assert list(lb["LBDTC"]) == ["2024-02-01"] and list(lb["LBORRESU"]) == ["mg/L"]
    supp, _ = read_both(tmp_path / "out" / "suppae.xpt")
    assert dict(zip(supp["QNAM"], supp["QVAL"], strict=True)) == {"INVNOTE": "mild", "AEWHAT": "x"}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sdtm"]["forms_not_tabulated"] == []


def test_the_block_vocabulary_matches_the_export() -> None:
    assert list(SDTM_VARIABLES) == list(DOMAINS)
    for variables in SDTM_VARIABLES.values():
        for name in variables:
            assert variable_label(name) != name, name  # the export has a label for each
