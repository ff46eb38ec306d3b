"""SDTM export: XPT v5 files that re-read with their labels, conform, and agree with the store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from clestudy.cli import main
from clestudy.errors import ClestudyError
from clestudy.instruments._sledai import SLEDAI2K_DESCRIPTORS
from clestudy.interop import export_sdtm
from clestudy.interop._define_xml import DEF_NS
from clestudy.interop._sdtm import Dataset, sdtm_datasets
from clestudy.interop._sdtm_export import write_xpt
from clestudy.interop._sdtm_rules import dataset_problems, short_code, study_day
from clestudy.interop._sdtm_vars import CT_VERSION
from clestudy.protocol import Protocol
from clestudy.store import Store

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


@pytest.fixture
def exported(demo_store: Store, tmp_path: Path) -> tuple[Store, Path]:
    export_sdtm(demo_store, tmp_path / "sdtm")
    return demo_store, tmp_path / "sdtm"


def _read(path: Path) -> tuple[pd.DataFrame, pyreadstat.metadata_container]:
    frame, meta = pyreadstat.read_xport(str(path))
    return frame, meta


def test_every_xpt_rereads_with_labels_and_conforms(exported: tuple[Store, Path]) -> None:
    store, folder = exported
    datasets = {d.name: d for d in sdtm_datasets(store)}
    assert {"DM", "AE", "EX", "LB", "VS"} <= set(datasets)
    for name, dataset in datasets.items():
        path = folder / f"{name.lower()}.xpt"
        frame, meta = _read(path)
        with path.open("rb") as handle:
            assert b"LIB" in handle.read(80)  # SAS transport v5 library header
        assert meta.table_name == name and meta.file_label == dataset.label
        labels = [str(label) for label in meta.column_labels]
        assert labels == list(dataset.labels)
        assert list(frame.columns) == list(dataset.frame.columns) and len(frame) > 0
        by_pandas = pd.read_sas(str(path), format="xport", encoding="ascii")
        assert list(by_pandas.columns) == list(frame.columns) and len(by_pandas) == len(frame)
        keys = dataset.keys
        assert dataset_problems(name, frame, labels, str(meta.file_label), keys) == []
        assert all(len(c) <= 8 for c in frame.columns)
        assert all(len(label) <= 40 for label in labels)


def test_seq_unique_and_sorted_by_subject(exported: tuple[Store, Path]) -> None:
    _, folder = exported
    for path in folder.glob("*.xpt"):
        frame, _ = _read(path)
        seq = [c for c in frame.columns if c.endswith("SEQ")]
        assert list(frame["USUBJID"]) == sorted(frame["USUBJID"])
        if seq:
            assert not frame.duplicated(["USUBJID", seq[0]]).any()
            for _, rows in frame.groupby("USUBJID"):
                assert list(rows[seq[0]]) == list(range(1, len(rows) + 1))


def test_study_days_count_from_rfstdtc(exported: tuple[Store, Path]) -> None:
    _, folder = exported
    dm, _ = _read(folder / "dm.xpt")
    start = dict(zip(dm["USUBJID"], dm["RFSTDTC"], strict=True))
    lb, _ = _read(folder / "lb.xpt")
    checked = 0
    for _, row in lb.iterrows():
        if row["LBDTC"]:
            days = (dt.date.fromisoformat(row["LBDTC"]) - dt.date.fromisoformat(
                start[row["USUBJID"]])).days  # fmt: skip
            assert row["LBDY"] == (days + 1 if days >= 0 else days)
            checked += 1
    assert checked == len(lb)


def test_aetoxgr_and_lbtoxgr_come_from_the_store(exported: tuple[Store, Path]) -> None:
    store, folder = exported
    ae, _ = _read(folder / "ae.xpt")
    stored = sorted(str(r.values["aetoxgr"]) for r in store.records(form_id="ae"))
    assert sorted(ae["AETOXGR"]) == stored
    lb, _ = _read(folder / "lb.xpt")
    grades = {
        (f"{store.protocol.id}-{r.subject_id}", r.visit_id, code[: -len("_grade")].upper()): value
        for r in store.records(form_id="labs")
        for score in r.derived.values()
        for code, value in score["values"].items()
        if code.endswith("_grade") and code != "worst_grade" and value is not None
    }
    visits = {n: v.id for n, v in enumerate(store.protocol.visits, 1)}
    written = {
        (row["USUBJID"], visits[int(row["VISITNUM"])], row["LBTESTCD"]): int(row["LBTOXGR"])
        for _, row in lb.iterrows()
        if "LBTOXGR" in lb.columns and row["LBTOXGR"]
    }
    assert written == grades
    assert ("LBTOXGR" in lb.columns) == bool(grades)  # the chart review grades no labs


def test_clasi_goes_to_rs_with_its_totals(demo_url: str, tmp_path: Path) -> None:
    from clestudy.store import open_store

    with open_store(demo_url, "lenalidomide-cle-open-label") as store:
        export_sdtm(store, tmp_path)
        totals = {
            (f"{store.protocol.id}-{r.subject_id}", r.visit_id): r.derived["clasi"]["values"]
            for r in store.records(form_id="clasi")
            if r.derived
        }
        visits = {n: v.id for n, v in enumerate(store.protocol.visits, 1)}
    rs, _ = _read(tmp_path / "rs.xpt")
    assert set(rs["RSCAT"]) == {"CLASI"} and set(rs["RSEVAL"]) == {"INVESTIGATOR"}
    activity = rs[rs["RSTESTCD"] == "CLASIACT"]
    got = {(r["USUBJID"], visits[int(r["VISITNUM"])]): r["RSSTRESN"] for _, r in
           activity.iterrows()}  # fmt: skip
    assert got == {k: float(v["clasi_activity"]) for k, v in totals.items()}


def test_define_xml_names_every_dataset_and_variable(exported: tuple[Store, Path]) -> None:
    _, folder = exported
    tree = etree.parse(str(folder / "define.xml"))
    root = tree.getroot()
    assert root.get(f"{{{DEF_NS}}}Context") == "Submission"
    groups = {g.get("Name"): g for g in root.iter(f"{ODM}ItemGroupDef")}
    items = {i.get("OID"): i for i in root.iter(f"{ODM}ItemDef")}
    standard = next(root.iter(f"{{{DEF_NS}}}Standard"))
    assert standard.getparent() is not None
    ct = [s for s in root.iter(f"{{{DEF_NS}}}Standard") if s.get("Type") == "CT"]
    assert [s.get("Version") for s in ct] == [CT_VERSION]
    for path in folder.glob("*.xpt"):
        frame, _ = _read(path)
        name = path.stem.upper()
        refs = [r.get("ItemOID") for r in groups[name].iter(f"{ODM}ItemRef")]
        assert refs == [f"IT.{name}.{c}" for c in frame.columns]
        assert all(items[r].get("Name") in frame.columns for r in refs)
        leaf = groups[name].find(f"{{{DEF_NS}}}leaf")
        assert leaf is not None and leaf.get("{http://www.w3.org/1999/xlink}href") == path.name
    codelists = {c.get("OID") for c in root.iter(f"{ODM}CodeList")}
    assert "CL.DM.SEX" in codelists and "CL.AE.AESER" in codelists
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sdtm"]["controlled_terminology"] == f"CDISC SDTM CT {CT_VERSION}"
    assert sorted(f["name"] for f in manifest["files"]) == sorted(
        p.name for p in folder.iterdir() if p.name != "manifest.json"
    )


def test_cli_export_sdtm(demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["export", "sdtm", "--study", "pediatric-cle-chart-review", "--db", demo_url]
    code = main([*args, "--out", str(out)])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert {Path(p).name for p in captured.out.split()} >= {"dm.xpt", "cm.xpt", "define.xml"}
    code = main([*args, "--out", str(tmp_path / "x"), "--forms", "dm"])
    assert code == 2
    assert "error: --forms/--visits: a sdtm export holds the whole study" in capsys.readouterr().err


def test_rules_name_each_violation() -> None:
    frame = pd.DataFrame(
        {"USUBJID": ["B", "A", "A"], "AESEQ": [1.0, 1.0, 1.0], "AETERMLONG": ["x", "é", "y"]}
    )
    problems = dataset_problems(
        "AE", frame, ["Subject", "Sequence", "L" * 41], "Adverse Events", ("USUBJID", "AESEQ")
    )
    assert problems == [
        "AE.AETERMLONG: name 'AETERMLONG' is not 1-8 upper-case letters, digits or '_'",
        f"AE.AETERMLONG: label '{'L' * 41}' is longer than 40 characters",
        "AE row 2 AETERMLONG: value 'é' is not ASCII",
        "AE: rows are not sorted by USUBJID, AESEQ",
        "AE: AESEQ is not unique within USUBJID",
    ]


def test_write_xpt_refuses_a_nonconforming_dataset(tmp_path: Path) -> None:
    frame = pd.DataFrame({"STUDYID": ["S"], "LBDTC": ["03/05/2024"]})
    dataset = Dataset("LB", "Lab", frame, ("Study", "Date"), ("STUDYID",), "FINDINGS", "x")
    with pytest.raises(ClestudyError, match=r"LB row 1 LBDTC: '03/05/2024' is not ISO 8601"):
        write_xpt(dataset, tmp_path / "lb.xpt")
    assert not (tmp_path / "lb.xpt").exists()


def test_short_codes_and_study_days() -> None:
    taken: set[str] = {"WBC"}
    assert short_code("wbc", taken) == "WBC2"
    assert short_code("posterior_neck_shoulders_erythema", taken) == "POSTENEC"
    assert all(len(c) <= 8 for c in taken)
    assert study_day("2024-02-29", "2024-02-01") == 29
    assert study_day("2024-01-31", "2024-02-01") == -1


def _sledai_protocol() -> Protocol:
    descriptors = [{"id": d, "label": d.replace("_", " "), "type": "boolean"}
                   for d in SLEDAI2K_DESCRIPTORS]  # fmt: skip
    return Protocol.model_validate({
        "id": "sledai-study", "title": "SLEDAI", "version": "1",
        "arms": [{"id": "a", "name": "Arm A"}], "sites": [{"id": "s1", "name": "Site 1"}],
        "visits": [{"id": "day_0", "name": "Day 0", "day": 0, "forms": ["sledai"]}],
        "forms": [{"id": "sledai", "name": "SLEDAI-2K", "domain": "RS", "visit_date": "rsdat",
                   "fields": [{"id": "rsdat", "label": "Date", "type": "date", "cdash": "RSDAT"},
                              *descriptors]}],
        "derived_scores": [{"id": "sledai", "instrument": "sledai2k", "form": "sledai"}],
    })  # fmt: skip


def test_sledai2k_goes_to_rs_as_a_clinician_reported_result(tmp_path: Path) -> None:
    from clestudy.store import open_store

    values: dict[str, object] = dict.fromkeys(SLEDAI2K_DESCRIPTORS, False)
    values.update(rsdat="2024-01-10", arthritis=True, rash=True, low_complement=True)
    with open_store(f"sqlite:///{tmp_path / 's.db'}", _sledai_protocol(), actor="t") as store:
        store.add_subject("P1", arm="a", site="s1", actor="t")
        record = store.save_record("P1", "day_0", "sledai", values, actor="t")
        assert record.derived["sledai"]["values"]["sledai2k_score"] == 8  # 4 + 2 + 2, Gladman
        export_sdtm(store, tmp_path / "out")
    rs, _ = _read(tmp_path / "out" / "rs.xpt")
    assert set(rs["RSCAT"]) == {"SLEDAI2K"} and set(rs["RSEVAL"]) == {"INVESTIGATOR"}
    assert len(rs) == len(SLEDAI2K_DESCRIPTORS) + 3  # the items, then score, clinical, window
    arthritis = rs[rs["RSTEST"] == "arthritis"]
    assert list(arthritis["RSORRES"]) == ["Y"] and list(arthritis["RSDY"]) == [1.0]
    total = rs[rs["RSTEST"] == "sledai2k score"]
    assert list(total["RSSTRESN"]) == [8.0]
    assert all(len(code) <= 8 for code in rs["RSTESTCD"]) and rs["RSTESTCD"].is_unique
