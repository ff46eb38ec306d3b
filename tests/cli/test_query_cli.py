"""``clestudy query``: raise, answer, send back, close, re-open, show and list (with CSV), and the
exit code 2 with one line for a refused transition or a missing text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.cli._support import OPEN_LABEL, Capsys, new_study
from tests.cli._support import run as _run

STUDY = OPEN_LABEL
FIELD = ("--study", STUDY, "--subject", "L01", "--visit", "week_0", "--form", "vs",
         "--field", "weight")  # fmt: skip


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    path = new_study(tmp_path, capsys, monkeypatch, actor="coordinator")
    values = tmp_path / "vs.json"
    values.write_text(json.dumps({"vsdat": "2025-01-06", "weight": "70"}), encoding="utf-8")
    assert _run(capsys, "record", "save", str(values), "--study", STUDY, "--subject", "L01",
                "--visit", "week_0", "--form", "vs")[0] == 0  # fmt: skip
    return path


def test_the_life_cycle_from_the_cli(db: str, tmp_path: Path, capsys: Capsys) -> None:
    assert _run(capsys, "query", "raise", *FIELD, "--text", "72 kg?", "--actor", "monitor") == (
        0, "query on L01/week_0/vs/weight raised: now open\n", "",
    )  # fmt: skip
    code, out, err = _run(capsys, "query", "answer", *FIELD)
    assert (code, out) == (2, "")
    assert err == "error: query on L01/week_0/vs/weight: 'answer' needs a message text\n"
    assert _run(capsys, "query", "answer", *FIELD, "--text", "70 measured")[0] == 0
    assert _run(capsys, "query", "return", *FIELD, "--text", "log?", "--actor", "monitor")[0] == 0
    assert _run(capsys, "query", "answer", *FIELD, "--text", "attached")[0] == 0
    code, out, _ = _run(capsys, "query", "close", *FIELD, "--actor", "monitor", "--json")
    assert code == 0 and json.loads(out)["status"] == "closed"
    code, _, err = _run(capsys, "query", "close", *FIELD, "--actor", "monitor")
    assert code == 2
    assert err == (
        "error: query on L01/week_0/vs/weight: cannot close: the field holds a query that is "
        "closed (close is allowed from open or answered)\n"
    )
    assert _run(capsys, "query", "reopen", *FIELD, "--text", "again", "--actor", "monitor")[0] == 0
    code, out, _ = _run(capsys, "query", "show", *FIELD)
    lines = out.splitlines()
    assert lines[0] == "L01/week_0/vs/weight: open"
    assert [line.split()[3] for line in lines[2:]] == [
        "raise", "answer", "return", "answer", "close", "reopen",
    ]  # fmt: skip
    export = tmp_path / "queries.csv"
    code, out, _ = _run(capsys, "query", "list", "--study", STUDY, "--status", "open", "--csv",
                        str(export))  # fmt: skip
    assert code == 0
    assert out.splitlines() == [
        "query\tsite\tstatus\tdays_open\traised_by\tlast_message",
        "L01/week_0/vs/weight\tsite01\topen\t0\tmonitor\tagain",
    ]
    (row,) = csv.DictReader(export.read_text(encoding="utf-8").splitlines())
    assert (row["subject"], row["field"], row["status"], row["messages"]) == (
        "L01", "weight", "open", "6",
    )  # fmt: skip
    code, out, _ = _run(capsys, "query", "list", "--study", STUDY, "--site", "site02", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, _, err = _run(capsys, "query", "list", "--study", STUDY, "--status", "new")
    assert (code, err.startswith("error: query status 'new' is not one of")) == (2, True)
    code, _, err = _run(capsys, "audit", "verify")
    assert code == 0, err
