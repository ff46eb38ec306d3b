"""De-identification: every Safe Harbor identifier planted in a study is gone from every format.

The fixture study plants names, a phone number, an e-mail address, a medical record number, free
text naming a person, dates (birth, visits, an adverse event) and an age of 93 (HIPAA Safe
Harbor, 45 CFR 164.514(b)(2)). Each format is exported with ``--deidentify``, every output file
is decoded (XPT, SAV, DTA and Parquet read back into tables; XML, CSV and JSON read as text) and
scanned: no planted string or date survives, and the intervals between a subject's dates do.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from clestudy.cli import main
from clestudy.interop._deidentify import (
    Deidentification,
    date_shift,
    default_key_path,
    deidentified_protocol,
    load_key,
    pseudonym,
)
from clestudy.protocol import Protocol
from clestudy.store import RecordInput, open_store

FORMATS = ("csv", "wide-csv", "parquet", "sav", "dta", "redcap", "odm", "sdtm")
STUDY = "planted-identifiers"
PLANTED = ("Jane", "Doe", "555-0142", "jane.doe@example.org", "MRN-0048213", "Alice Wong",
           "JDOE1931", "MSMITH77", "Marc Smith")  # fmt: skip
DATES = ("1931-04-17", "1978-09-02", "2024-03-05", "2024-04-02", "2024-03-20", "2024-03-07",
         "2024-04-04")  # fmt: skip
AGE_93 = re.compile(r"(?<![\w.])93(\.0+)?(?![\w.])")
KEY = bytes(range(32)).hex()
"""A fixed key, so that the test is deterministic: with a random one, a shifted date could land
on another subject's planted date and read as a survivor."""


def _protocol() -> Protocol:
    text = {"type": "text", "identifier": True}
    return Protocol.model_validate({
        "id": STUDY, "title": "Planted identifiers", "version": "1",
        "arms": [{"id": "a", "name": "Arm A"}], "sites": [{"id": "s1", "name": "Site 1"}],
        "visits": [{"id": "screening", "name": "Screening", "day": 0,
                    "forms": ["dm", "contact", "vs"]},
                   {"id": "week_4", "name": "Week 4", "day": 28, "forms": ["vs", "ae"]}],
        "forms": [
            {"id": "dm", "name": "Demographics", "domain": "DM", "fields": [
                {"id": "brthdat", "label": "Date of birth", "type": "date", "cdash": "BRTHDAT"},
                {"id": "age", "label": "Age", "type": "integer", "unit": "years", "cdash": "AGE"},
                {"id": "sex", "label": "Sex", "type": "single_choice", "cdash": "SEX",
                 "choices": [{"code": "F", "label": "Female"}, {"code": "M", "label": "Male"}]}]},
            {"id": "contact", "name": "Contact", "fields": [
                {"id": "full_name", "label": "Name", **text},
                {"id": "phone", "label": "Phone", **text},
                {"id": "email", "label": "E-mail", **text},
                {"id": "mrn", "label": "Medical record number", **text},
                {"id": "notes", "label": "Notes", "type": "text"},
                {"id": "consented", "label": "Consented", "type": "boolean"}]},
            {"id": "vs", "name": "Vital signs", "domain": "VS", "visit_date": "vsdat", "fields": [
                {"id": "vsdat", "label": "Date", "type": "date", "cdash": "VSDAT"},
                {"id": "weight", "label": "Weight", "type": "decimal", "unit": "kg",
                 "cdash": "VSORRES (VSTESTCD=WEIGHT)"}]},
            {"id": "ae", "name": "Adverse events", "domain": "AE", "repeating": True, "fields": [
                {"id": "aeterm", "label": "Term", "type": "text", "cdash": "AETERM"},
                {"id": "aestdat", "label": "Start", "type": "date", "cdash": "AESTDAT"},
                {"id": "aetoxgr", "label": "Grade", "type": "integer", "cdash": "AETOXGR"}]},
        ],
    })  # fmt: skip


def _values(n: int) -> list[dict[str, dict[str, object]]]:
    jane: dict[str, dict[str, object]] = {
        "dm": {"brthdat": "1931-04-17", "age": 93, "sex": "F"},
        "contact": {"full_name": "Jane Doe", "phone": "555-0142", "email": "jane.doe@example.org",
                    "mrn": "MRN-0048213", "notes": "Seen with Dr. Alice Wong; Jane Doe is well",
                    "consented": True},
        "vs": {"vsdat": "2024-03-05", "weight": "61.5"},
        "vs4": {"vsdat": "2024-04-02", "weight": "60.9"},
        "ae": {"aeterm": "Headache after call from Jane", "aestdat": "2024-03-20", "aetoxgr": 1},
    }  # fmt: skip
    marc: dict[str, dict[str, object]] = {
        "dm": {"brthdat": "1978-09-02", "age": 45, "sex": "M"},
        "contact": {"full_name": "Marc Smith", "phone": "555-0142", "notes": "Marc Smith"},
        "vs": {"vsdat": "2024-03-07", "weight": "80.2"},
        "vs4": {"vsdat": "2024-04-04", "weight": "79.8"},
    }  # fmt: skip
    return [jane, marc][:n]


@pytest.fixture(scope="module")
def planted_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('planted') / 'planted.db'}"
    with open_store(url, _protocol(), actor="coordinator") as store:
        batch = []
        for subject, values in zip(("JDOE1931", "MSMITH77"), _values(2), strict=True):
            store.add_subject(subject, arm="a", site="s1", actor="coordinator")
            for key, form_values in values.items():
                visit, form = ("week_4", "vs") if key == "vs4" else (
                    "week_4" if key == "ae" else "screening", key)  # fmt: skip
                batch.append(RecordInput(subject, visit, form, dict(form_values)))
        store.save_records(batch, actor="coordinator")
        store.verify_record("MSMITH77", "screening", "vs", expected_version=1, actor="monitor")
        store.lock_record("JDOE1931", "screening", "dm", expected_version=1, actor="monitor")
    return url


def _decoded(path: Path) -> str:
    """A file's text: tables read back through their readers, the rest as text."""
    readers = {
        ".xpt": lambda p: pyreadstat.read_xport(str(p))[0],
        ".sav": lambda p: pyreadstat.read_sav(str(p))[0],
        ".dta": lambda p: pyreadstat.read_dta(str(p))[0],
        ".parquet": lambda p: pd.read_parquet(p),
    }
    raw = path.read_bytes().decode("latin-1")
    reader = readers.get(path.suffix)
    return raw if reader is None else raw + "\n" + reader(path).to_csv(index=False)


def _export(url: str, fmt: str, out: Path, key: Path, *extra: str) -> list[Path]:
    if not key.exists():
        key.write_text(KEY + "\n", encoding="ascii")
    args = ["export", fmt, "--study", STUDY, "--db", url, "--out", str(out), "--deidentify",
            "--pseudonym-key", str(key), *extra]  # fmt: skip
    assert main(args) == 0
    return sorted(out.iterdir())


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_planted_identifier_survives(planted_url: str, tmp_path: Path, fmt: str) -> None:
    files = _export(planted_url, fmt, tmp_path / "out", tmp_path / "key")
    assert files
    for path in files:
        text = _decoded(path)
        for planted in (*PLANTED, *DATES, *(d.replace("-", "") for d in DATES)):
            assert planted not in text, f"{planted!r} survives in {path.name}"
        assert not AGE_93.search(text), f"the age 93 survives in {path.name}"
        for user in ("coordinator", "monitor", "exported_at"):
            assert user not in text, f"{user!r} survives in {path.name}"
    assert any("90+" in _decoded(p) for p in files)


def _vs_dates(folder: Path) -> dict[str, list[dt.date]]:
    frame = pd.read_csv(folder / "vs.csv", dtype=str)
    out: dict[str, list[dt.date]] = {}
    for _, row in frame.sort_values("visit").iterrows():
        out.setdefault(row["subject"], []).append(dt.date.fromisoformat(row["vsdat"]))
    return out


def test_intervals_kept_and_pseudonyms_stable(planted_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key"
    first = _export(planted_url, "wide-csv", tmp_path / "a", key)
    again = _export(planted_url, "wide-csv", tmp_path / "b", key)
    assert [p.read_bytes() for p in first if p.suffix == ".csv"] == [
        p.read_bytes() for p in again if p.suffix == ".csv"
    ]
    dates = _vs_dates(tmp_path / "a")
    assert len(dates) == 2
    for screening, week_4 in dates.values():
        assert (week_4 - screening).days == 28
    loaded = load_key(key, tmp_path / "a")
    assert loaded is not None
    settings = Deidentification(loaded)
    jane = pseudonym(settings, STUDY, "JDOE1931")
    shift = date_shift(settings, STUDY, "JDOE1931")
    assert -364 <= shift <= -1
    assert dates[jane][0] == dt.date(2024, 3, 5) + dt.timedelta(days=shift)
    sdtm = _export(planted_url, "sdtm", tmp_path / "sdtm", key)
    vs, _ = pyreadstat.read_xport(str(next(p for p in sdtm if p.name == "vs.xpt")))
    assert sorted(vs["VSDY"]) == [1.0, 1.0, 29.0, 29.0]


def test_statuses_are_kept(planted_url: str, tmp_path: Path) -> None:
    _export(planted_url, "csv", tmp_path / "out", tmp_path / "key")
    tidy = pd.read_csv(tmp_path / "out" / "tidy.csv")
    statuses = dict(zip(tidy["visit"] + "/" + tidy["form"] + "/" + tidy["subject"],
                        tidy["status"], strict=False))  # fmt: skip
    settings = Deidentification(bytes.fromhex(KEY))
    marc, jane = (pseudonym(settings, STUDY, s) for s in ("MSMITH77", "JDOE1931"))
    assert statuses[f"screening/vs/{marc}"] == "verified"
    assert statuses[f"screening/dm/{jane}"] == "locked"
    assert statuses[f"screening/vs/{jane}"] == "complete"


def test_study_day_mode(planted_url: str, tmp_path: Path) -> None:
    _export(planted_url, "wide-csv", tmp_path / "out", tmp_path / "key", "--dates", "study-day")
    frame = pd.read_csv(tmp_path / "out" / "vs.csv")
    assert sorted(frame["vsdat"]) == [1, 1, 29, 29]
    ae = pd.read_csv(tmp_path / "out" / "ae.csv")
    assert list(ae["aestdat"]) == [16]  # 2024-03-20 is day 16 from 2024-03-05
    sdtm = tmp_path / "sdtm"
    _export(planted_url, "sdtm", sdtm, tmp_path / "key", "--dates", "study-day")
    vs, _ = pyreadstat.read_xport(str(sdtm / "vs.xpt"))
    assert sorted(vs["VSDY"]) == [1.0, 1.0, 29.0, 29.0] and set(vs["VSDTC"]) == {""}
    dm, _ = pyreadstat.read_xport(str(sdtm / "dm.xpt"))
    assert set(dm["BRTHDTC"]) == {""} and set(dm["RFSTDTC"]) == {""}


def test_protocol_whitelist_keeps_text(tmp_path: Path) -> None:
    protocol = _protocol()
    data = protocol.model_dump(mode="json")
    data["forms"][3]["fields"][0]["annotations"] = {"deidentify": "keep"}
    settings = Deidentification(bytes.fromhex(KEY))
    copy, removed = deidentified_protocol(Protocol.model_validate(data), settings)
    ae = copy.form("ae")
    assert ae is not None and ae.field("aeterm") is not None
    assert removed == ["contact.full_name", "contact.phone", "contact.email", "contact.mrn",
                       "contact.notes"]  # fmt: skip
    age = copy.form("dm")
    assert age is not None and age.fields[1].type == "text"


def test_whitelisted_text_is_kept(planted_url: str, tmp_path: Path) -> None:
    _export(planted_url, "wide-csv", tmp_path / "out", tmp_path / "key", "--keep-text", "ae.aeterm")
    ae = pd.read_csv(tmp_path / "out" / "ae.csv")
    assert list(ae["aeterm"]) == ["Headache after call from Jane"]
    assert "notes" not in pd.read_csv(tmp_path / "out" / "contact.csv").columns


def test_key_is_written_beside_the_output(planted_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["export", "csv", "--study", STUDY, "--db", planted_url, "--out", str(out)]
    assert main([*args, "--deidentify"]) == 0
    key = default_key_path(out)
    assert key == tmp_path / "out.pseudonym-key" and len(key.read_text().strip()) == 64
    assert not any("key" in p.name for p in out.iterdir())
    code = main([*args, "--deidentify", "--forms", "nope", "--out", str(tmp_path / "o2")])
    assert code == 2 and not default_key_path(tmp_path / "o2").exists()  # nothing written


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--deidentify", "--pseudonym-key", "{out}/key"), "is inside the output folder"),
        (("--deidentify", "--dates", "month"), "--dates: 'month' is not one of shift, study-day"),
        (("--dates", "study-day"), "--pseudonym-key/--dates/--keep-text: only with --deidentify"),
        (("--deidentify", "--pseudonym-key", "{bad}"), "line 1: not a key"),
    ],
)
def test_bad_options_exit_2(
    planted_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    out, bad = tmp_path / "out", tmp_path / "bad.key"
    bad.write_text("not hex\n")
    args = ["export", "csv", "--study", STUDY, "--db", planted_url, "--out", str(out)]
    code = main([*args, *(e.format(out=out, bad=bad) for e in extra)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
