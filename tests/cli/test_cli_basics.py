"""CLI behaviour common to every command: help, version, exit codes, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from clestudy import __version__
from clestudy.cli import main


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "audit", "score", "stats"):
        assert command in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"clestudy {__version__}"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_audit_verify_on_a_missing_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    assert main(["audit", "verify", "--db", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --db: no database file at {missing}\n"
    assert not missing.exists()


def test_bad_database_url_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", "mysql://u@h/db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: database URL 'mysql://u@h/db': unsupported database 'mysql'")
    assert "Traceback" not in err


def test_audit_verify_refuses_a_file_that_is_not_a_clestudy_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verifying must never add clestudy's tables to a file and call it a clean trail."""
    empty = tmp_path / "empty.db"
    empty.touch()
    assert main(["audit", "verify", "--db", str(empty)]) == 2
    assert capsys.readouterr().err == (
        f"error: database sqlite:///{empty}: not a clestudy database (no clestudy tables)\n"
    )
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == []
    garbage = tmp_path / "notes.db"
    garbage.write_text("not a database at all, just text\n" * 100)
    assert main(["audit", "verify", "--db", str(garbage)]) == 1
    assert capsys.readouterr().err == (
        f"error: database sqlite:///{garbage}: cannot open (file is not a database)\n"
    )


def test_files_that_are_not_utf8_are_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "protocol.yaml"
    latin1.write_bytes("id: étude\n".encode("latin-1"))
    assert main(["protocol", "check", str(latin1)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {latin1}: byte 4: not UTF-8 text (invalid continuation byte); save the protocol as UTF-8\n"  # fmt: skip
    record = tmp_path / "clasi.json"
    record.write_bytes(b'{"areas": "\xff"}')
    assert main(["score", "clasi", str(record)]) == 2
    assert capsys.readouterr().err == f"error: {record}: byte 11: not UTF-8 text (invalid start byte)\n"  # fmt: skip
    assert main(["score", "clasi", str(record), "--json"]) == 2  # the same error, for programs
    assert json.loads(capsys.readouterr().err) == {
        "error": f"{record}: byte 11: not UTF-8 text (invalid start byte)",
        "field": None,
        "where": str(record),
    }


def test_unusable_output_paths_are_one_line_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["demo", "--out", str(a_file)]) == 2
    assert capsys.readouterr().err == f"error: {a_file}: File exists\n"
    demo = tmp_path / "demo"
    assert main(["demo", "--out", str(demo)]) == 0
    capsys.readouterr()
    db = str(demo / "clestudy.db")
    assert main(["report", "--db", db, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: Is a directory\n"
    missing = tmp_path / "no" / "such" / "report.html"
    assert main(["report", "--db", db, "--out", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: No such file or directory\n"


def test_an_unexpected_exception_is_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import clestudy.cli._audit as audit_cli

    def broken(db: str | None) -> str:
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(audit_cli, "database_url", broken)
    assert main(["audit", "verify", "--db", "x.db"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: internal error (RuntimeError: a bug); rerun with CLESTUDY_DEBUG=1 for the "
        "traceback and report it\n"
    )
    monkeypatch.setenv("CLESTUDY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        main(["audit", "verify", "--db", "x.db"])


def test_audit_verify_expect_head_shows_events_cut_from_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from clestudy.store import open_store

    db = tmp_path / "study.db"
    with open_store(f"sqlite:///{db}", "pediatric-cle-chart-review") as store:
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    assert main(["audit", "verify", "--db", str(db), "--json"]) == 0
    head = json.loads(capsys.readouterr().out)["head_hash"]
    with open_store(f"sqlite:///{db}", "pediatric-cle-chart-review") as store:
        store.add_subject("P02", arm="lenalidomide", site="site01", actor="coordinator")
    assert main(["audit", "verify", "--db", str(db), "--expect-head", head]) == 0  # still in it
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(db), "--json"]) == 0
    newer = json.loads(capsys.readouterr().out)["head_hash"]
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)")
        conn.execute("DELETE FROM subject WHERE subject_key = 'P02'")  # and what it recorded
    assert main(["audit", "verify", "--db", str(db)]) == 0  # a shorter chain is still a chain
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(db), "--expect-head", newer]) == 1
    assert capsys.readouterr().err == (
        f"error: the expected head hash {newer} is not in the chain of 2 events: events were "
        "deleted or rewritten (the chain cannot tell which), or this is another database\n"
    )


def test_empty_input_says_what_to_give(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing piped in is named as such, not as JSON "Expecting value" at line 1."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["score", "clasi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: <stdin>: empty: give one JSON document"), err
