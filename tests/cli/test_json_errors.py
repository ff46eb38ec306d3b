"""With ``--json`` every error is one JSON object on stderr, with the text form's exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clestudy.cli import main

SUMMARY = ["stats", "check-summary", "--n", "5", "--mean-before", "23", "--sd-before", "10.9"]
SUMMARY += ["--mean-after", "11", "--sd-after", "7.4", "--p", "0.005"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    line, *rest = captured.err.splitlines()
    assert rest == [], "one line only"
    error = json.loads(line)
    assert set(error) == {"error", "field", "where"}
    return code, error


def test_bad_input_is_exit_2_naming_where_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("subject,visit,value\nS1,pre,1\nS1,post,n/a\n", encoding="utf-8")
    argv = ["stats", "paired", "--csv", str(data), "--subject", "subject", "--visit", "visit"]
    argv += ["--before", "pre", "--after", "post", "--measure", "value", "--json"]
    code, error = _run(argv, capsys)
    assert code == 2
    assert error["field"] == "value"
    assert error["where"] == str(data)
    assert error["error"].startswith(f"{data}: row ") and "'n/a' is not a number" in error["error"]


def test_a_missing_file_is_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.csv"
    argv = ["stats", "paired", "--csv", str(missing), "--subject", "s", "--visit", "v"]
    argv += ["--before", "a"]
    code, error = _run([*argv, "--after", "b", "--measure", "x", "--json"], capsys)
    assert code == 2
    assert str(missing) in error["error"]
    assert error["where"] is not None and str(missing) in error["where"]


def test_a_usage_error_is_exit_2_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, error = _run([*SUMMARY, "--test", "paired-t", "--n", "five", "--json"], capsys)
    assert code == 2
    assert error["field"] == "--n"
    assert error["where"] == "clestudy stats check-summary"
    assert "'--n'" in error["error"]


def test_a_broken_audit_chain_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    assert main(["demo", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    with sqlite3.connect(tmp_path / "clestudy.db") as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET reason = 'edited' WHERE seq = 7")
    code = main(["audit", "verify", "--db", str(tmp_path / "clestudy.db"), "--json"])
    assert code == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["first_broken_seq"] == 7  # the report a program reads


def test_an_internal_error_is_exit_1_in_the_same_shape(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr("clestudy.stats.check_published_summary", broken)
    code, error = _run([*SUMMARY, "--test", "paired-t", "--json"], capsys)
    assert code == 1
    assert error == {
        "error": "internal error (RuntimeError: something unforeseen); rerun with "
        "CLESTUDY_DEBUG=1 for the traceback and report it",
        "field": None,
        "where": None,
    }


def test_without_json_the_error_stays_one_text_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SUMMARY, "--test", "t-test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
