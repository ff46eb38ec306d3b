"""Capture from the CLI: protocol check, study init, enrol, save, stale edits -- exit codes 0/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clestudy.cli import main

STUDY = "pediatric-cle-chart-review"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_protocol_list_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "protocol", "list")
    assert code == 0 and "lenalidomide-cle-open-label\t" in out
    code, out, _ = _run(capsys, "protocol", "check", STUDY)
    assert code == 0
    assert out.startswith("ok: pediatric-cle-chart-review version 1.2: 2 visits, 7 forms")


def test_malformed_protocol_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "study.yaml"
    bad.write_text(
        "id: s\ntitle: T\nversion: '1'\narms: [{id: a, name: A}]\nsites: [{id: s, name: S}]\n"
        "visits:\n  - {id: v0, name: V0, day: zero, forms: []}\n"
        "forms:\n  - {id: f, name: F, fields: [{id: x, label: X, type: integer}]}\n",
        encoding="utf-8",
    )
    code, out, err = _run(capsys, "protocol", "check", str(bad))
    assert code == 2 and out == ""
    assert (
        err
        == f"error: {bad}:7: visits[0].day: Input should be a valid integer, unable to parse string as an integer\n"
    )


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "study.db")
    assert _run(capsys, "study", "init", STUDY, "--db", path, "--actor", "dm")[0] == 0
    code, out, _ = _run(
        capsys, "subject", "add", "P01", "--study", STUDY, "--arm", "lenalidomide",
        "--site", "site01", "--db", path, "--actor", "coordinator",
    )  # fmt: skip
    assert code == 0 and out == f"enrolled P01 in {STUDY}\n"
    return path


def _save(
    capsys: pytest.CaptureFixture[str], db: str, values: Path, *extra: str
) -> tuple[int, str, str]:
    return _run(
        capsys, "record", "save", str(values), "--study", STUDY, "--subject", "P01",
        "--visit", "initiation", "--form", "labs", "--db", db, "--actor", "coordinator", *extra,
    )  # fmt: skip


def test_save_edit_and_stale_edit(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "labs.json"
    values.write_text(json.dumps({"lbdat": "2011-01-10", "esr": 26}), encoding="utf-8")
    assert _save(capsys, db, values) == (0, "saved P01/initiation/labs version 1 (complete)\n", "")
    values.write_text(json.dumps({"lbdat": "2011-01-10", "esr": 28}), encoding="utf-8")
    code, out, _ = _save(capsys, db, values, "--expected-version", "1", "--reason", "lab report")
    assert (code, out) == (0, "saved P01/initiation/labs version 2 (complete)\n")
    code, out, err = _save(capsys, db, values, "--expected-version", "1", "--reason", "again")
    assert code == 2 and out == ""
    assert err == (
        "error: record P01/initiation/labs: the edit was made on version 1 but the record is now "
        "at version 2; reload it and re-apply the edit\n"
    )
    code, out, _ = _run(capsys, "record", "show", "--study", STUDY, "--db", db, "--json")
    shown = json.loads(out)
    assert code == 0 and shown[0]["version"] == 2 and shown[0]["values"]["esr"] == 28
    assert _run(capsys, "audit", "verify", "--db", db)[0] == 0
    events = len(json.loads(_run(capsys, "audit", "log", "--db", db, "--json")[1]))
    # the same values again: nothing is written, and the message says so
    code, out, _ = _save(capsys, db, values, "--expected-version", "2", "--reason", "re-entry")
    assert (code, out) == (
        0,
        "unchanged P01/initiation/labs version 2: the values equal the stored ones\n",
    )
    assert len(json.loads(_run(capsys, "audit", "log", "--db", db, "--json")[1])) == events


def test_out_of_range_value_is_one_line_exit_2(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "labs.json"
    values.write_text(json.dumps({"lbdat": "2011-01-10", "esr": 260}), encoding="utf-8")
    code, out, err = _save(capsys, db, values)
    assert (code, out) == (2, "")
    assert err == (
        "error: P01/initiation/labs: field 'esr': 260 is out of range; allowed 0 to 200 mm/h\n"
    )


def test_invalid_json_names_file_and_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "labs.json"
    values.write_text('{"lbdat": "2011-01-10",\n "esr": }', encoding="utf-8")
    code, _, err = _save(capsys, db, values)
    assert code == 2
    assert err.startswith(f"error: {values}: line 2, column 9: invalid JSON")


def test_unknown_study_is_bad_input(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "subject", "list", "--study", "nope", "--db", db)
    assert code == 2 and err == f"error: study 'nope' is not in database sqlite:///{db}\n"


def test_report_command_writes_html(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "labs.json"
    values.write_text(json.dumps({"lbdat": "2011-01-10", "esr": 26}), encoding="utf-8")
    _save(capsys, db, values)
    out_file = tmp_path / "r.html"
    code, out, err = _run(capsys, "report", "--db", db, "--out", str(out_file))
    assert err == ""
    assert out == f"Report: {out_file.resolve()}\n"
    assert code == 0 and out_file.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_audit_log_shows_who_what_when_why(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "labs.json"
    values.write_text(json.dumps({"lbdat": "2011-01-10", "esr": 26}), encoding="utf-8")
    _save(capsys, db, values)
    values.write_text(json.dumps({"lbdat": "2011-01-10", "esr": 62}), encoding="utf-8")
    _save(capsys, db, values, "--expected-version", "1", "--reason", "transcription error")
    code, out, _ = _run(
        capsys, "audit", "log", "--db", db, "--entity", f"{STUDY}/P01/initiation/labs", "--json"
    )
    events = json.loads(out)
    assert code == 0 and [e["action"] for e in events] == ["create", "update"]
    update = events[1]
    assert update["actor"] == "coordinator" and update["reason"] == "transcription error"
    assert update["before"]["values"]["esr"] == 26 and update["after"]["values"]["esr"] == 62
    code, out, _ = _run(capsys, "audit", "log", "--db", db)
    assert code == 0
    assert out.splitlines()[-1].endswith(
        f"coordinator update form_record {STUDY}/P01/initiation/labs -- transcription error"
    )
