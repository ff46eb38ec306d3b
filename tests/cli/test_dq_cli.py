"""``clestudy dq``: run, list (JSON, CSV, filters), exclude and revoke, with their exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.cli._support import OPEN_LABEL, Capsys, new_study
from tests.cli._support import run as _run

STUDY = OPEN_LABEL


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    path = new_study(tmp_path, capsys, monkeypatch, actor="monitor1")
    return path


def test_run_list_exclude_and_revoke(db: str, tmp_path: Path, capsys: Capsys) -> None:
    code, out, err = _run(capsys, "dq", "run", "--study", STUDY, "--json")
    assert (code, err) == (0, "")
    run = json.loads(out)
    assert run["run"] == 1 and run["counts"]["subjects"] == 1
    # an enrolled subject without records: each non-repeating form of the baseline visit is due
    code, out, _ = _run(capsys, "dq", "list", "--study", STUDY, "--json", "--csv",
                        str(tmp_path / "dq.csv"))  # fmt: skip
    items = json.loads(out)
    assert code == 0 and items and {i["rule"] for i in items} == {"dq.missing_form"}
    assert {i["source"] for i in items} == {"dq-rule"} and items[0]["visit_id"] == "week_0"
    with open(tmp_path / "dq.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == [i["key"] for i in items]
    key = items[0]["key"]
    code, _, err = _run(capsys, "dq", "exclude", key, "--study", STUDY, "--reason", " ")
    assert (code, err) == (2, f"error: excluding {key}: a reason is required\n")
    code, out, _ = _run(capsys, "dq", "exclude", key, "--study", STUDY, "--reason", "not done")
    assert (code, out) == (0, f"excluded {key}\n")
    code, out, _ = _run(capsys, "dq", "list", "--study", STUDY, "--status", "excluded")
    header, row = out.splitlines()
    assert header == "key\tsource\tstatus\tsite\tfields\tmessage"
    assert row.startswith(f"{key}\tdq-rule\texcluded\tsite01\t")
    code, out, _ = _run(capsys, "dq", "revoke", key, "--study", STUDY, "--reason", "done now")
    assert (code, out) == (0, f"revoked the exclusion of {key}\n")
    code, out, _ = _run(capsys, "dq", "list", "--study", STUDY, "--status", "excluded", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_bad_filters_and_unknown_findings_exit_2(db: str, capsys: Capsys) -> None:
    code, _, err = _run(capsys, "dq", "list", "--study", STUDY, "--status", "closed")
    assert (code, err) == (2, "error: status 'closed' is not one of open, resolved, excluded\n")
    code, _, err = _run(capsys, "dq", "exclude", "L01/x/y/z", "--study", STUDY, "--reason", "r")
    assert code == 2
    assert err == "error: no data-quality finding L01/x/y/z in the latest run (no run yet)\n"
