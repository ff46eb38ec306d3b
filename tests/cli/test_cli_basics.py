"""CLI behaviour common to every command: help, version, exit codes, one-line errors."""

from __future__ import annotations

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
