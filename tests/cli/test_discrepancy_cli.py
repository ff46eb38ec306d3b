"""Edit checks from the CLI: every error of a save at once (exit 2), warnings as discrepancies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli._support import OPEN_LABEL, Capsys, new_study
from tests.cli._support import run as _run

STUDY = OPEN_LABEL


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    path = new_study(tmp_path, capsys, monkeypatch, actor="coordinator")
    return path


def _save(
    capsys: Capsys, tmp_path: Path, visit: str, form: str, values: object
) -> tuple[int, str, str]:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return _run(capsys, "record", "save", str(path), "--study", STUDY, "--subject", "L01",
                "--visit", visit, "--form", form, "--instance", "next" if form == "ae" else "1")  # fmt: skip


def test_a_save_reports_every_error_at_once(db: str, tmp_path: Path, capsys: Capsys) -> None:
    ae = {"aeterm": "Rash", "aestdat": "2025-03-10", "aeendat": "2025-03-01", "aetoxgr": 7,
          "aeser": False, "aeout": "RECOVERED/RESOLVED"}  # fmt: skip
    code, out, err = _save(capsys, tmp_path, "week_6", "ae", ae)
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == "error: L01/week_6/ae: field 'aetoxgr': 7 is out of range; allowed 1 to 5"
    assert lines[1].startswith("L01/week_6/ae: aestdat, aeendat: ")
    assert lines[1].endswith(" [builtin.end_not_before_start]")
    assert len(lines) == 2


def test_discrepancy_list_and_resolve(db: str, tmp_path: Path, capsys: Capsys) -> None:
    assert _save(capsys, tmp_path, "week_0", "vs", {"vsdat": "2025-01-06"})[0] == 0
    code, out, _ = _save(capsys, tmp_path, "week_12", "vs", {"vsdat": "2025-01-01"})
    assert (code, out) == (0, "saved L01/week_12/vs version 1 (complete)\n")
    code, out, err = _run(capsys, "discrepancy", "list", "--study", STUDY, "--status", "open")
    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert header == "record\tcheck\tstatus\tfields\tmessage"
    assert row.startswith("L01/week_12/vs\tbuiltin.visit_window\topen\tvsdat\t")
    where = ("--study", STUDY, "--subject", "L01", "--visit", "week_12", "--form", "vs")
    code, _, err = _run(capsys, "discrepancy", "resolve", "builtin.visit_window", *where)
    assert code == 2 and "Missing option '--reason'" in err
    assert _run(capsys, "discrepancy", "resolve", "builtin.visit_window", *where, "--reason",
                "confirmed with the site") == (
        0, "resolved builtin.visit_window on L01/week_12/vs\n", "",
    )  # fmt: skip
    code, out, _ = _run(capsys, "discrepancy", "list", "--study", STUDY, "--json")
    (shown,) = json.loads(out)
    assert (shown["status"], shown["resolution"], shown["updated_by"]) == (
        "resolved", "confirmed with the site", "coordinator",
    )  # fmt: skip
    code, _, err = _run(capsys, "discrepancy", "list", "--study", STUDY, "--status", "closed")
    assert (code, err) == (2, "error: discrepancy status 'closed' is not 'open' or 'resolved'\n")


def test_a_discrepancy_of_a_locked_record_is_resolved_and_the_record_stays_locked(
    db: str, tmp_path: Path, capsys: Capsys
) -> None:
    """A lock refuses data changes; resolving records a review and changes no value (the same
    rule as queries: docs/data-management.md, "Verification and locking")."""
    assert _save(capsys, tmp_path, "week_0", "vs", {"vsdat": "2025-01-06"})[0] == 0
    assert _save(capsys, tmp_path, "week_12", "vs", {"vsdat": "2025-01-01"})[0] == 0
    where = ("--study", STUDY, "--subject", "L01", "--visit", "week_12", "--form", "vs")
    code, _, err = _run(capsys, "lock", "visit", *where[:-2], "--reason", "monitoring visit")
    assert (code, err) == (0, "")
    assert _run(capsys, "discrepancy", "resolve", "builtin.visit_window", *where, "--reason",
                "visit moved by the sponsor") == (
        0, "resolved builtin.visit_window on L01/week_12/vs\n", "",
    )  # fmt: skip
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"vsdat": "2025-04-01"}), encoding="utf-8")
    code, _, err = _run(capsys, "record", "save", str(values), *where, "--expected-version", "1",
                        "--reason", "visit date corrected")  # fmt: skip
    assert code == 2 and "is locked (visit week_12 of L01 is locked)" in err, err
