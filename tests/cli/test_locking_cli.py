"""``clestudy verify``, ``lock form|visit|subject|status`` and ``unlock`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli._support import OPEN_LABEL, Capsys, new_study
from tests.cli._support import run as _run

STUDY = OPEN_LABEL


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    path = new_study(tmp_path, capsys, monkeypatch, actor="monitor", subjects=("L01", "L02"))
    values = tmp_path / "vs.json"
    values.write_text(json.dumps({"weight": "70", "height": "170"}), encoding="utf-8")
    for subject in ("L01", "L02"):
        assert _run(capsys, "record", "save", str(values), "--study", STUDY, "--subject",
                    subject, "--visit", "week_0", "--form", "vs")[0] == 0  # fmt: skip
    return path


def test_verify_fields_then_the_whole_form(db: str, capsys: Capsys) -> None:
    where = ["--study", STUDY, "--subject", "L01", "--visit", "week_0", "--form", "vs"]
    code, out, err = _run(capsys, "verify", "weight", *where, "--expected-version", "1")
    assert (code, out, err) == (0, "L01/week_0/vs is complete (version 1); verified: weight\n", "")
    code, out, _ = _run(capsys, "verify", *where, "--expected-version", "1", "--json")
    assert json.loads(out) == {"record": "L01/week_0/vs", "status": "verified", "version": 2,
                               "verified": ["height", "vsdat", "weight"]}  # fmt: skip
    code, out, err = _run(capsys, "verify", "bmi", *where, "--expected-version", "2")
    assert (code, out) == (2, "")
    assert err == "error: record L01/week_0/vs: bmi: not a field of form vs\n"


def test_lock_a_visit_refuses_a_save_and_unlock_needs_a_reason(
    db: str, tmp_path: Path, capsys: Capsys
) -> None:
    code, out, err = _run(capsys, "lock", "visit", "--study", STUDY, "--visit", "week_0",
                          "--reason", "monitoring visit")  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines() == ["locked\tL01/week_0", "locked\tL02/week_0",
                                "2 visit(s) locked, 0 skipped"]  # fmt: skip
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"weight": "71"}), encoding="utf-8")
    code, _, err = _run(capsys, "record", "save", str(edit), "--study", STUDY, "--subject", "L01",
                        "--visit", "week_0", "--form", "vs", "--expected-version", "1",
                        "--reason", "scale")  # fmt: skip
    assert code == 2
    assert err.startswith("error: record L01/week_0/vs is locked (visit week_0 of L01 is locked)")
    code, out, err = _run(capsys, "lock", "status", "--study", STUDY, "--form", "vs",
                          "--status", "locked")  # fmt: skip
    assert out.splitlines() == [
        "subject\tvisit\tform\tstatus\tverified\tlock_level\tlocked_by",
        "L01\tweek_0\tvs\tlocked\t0/3\tvisit\tmonitor",
        "L02\tweek_0\tvs\tlocked\t0/3\tvisit\tmonitor",
    ]
    code, _, err = _run(capsys, "unlock", "visit", "--study", STUDY, "--visit", "week_0")
    assert code == 2 and "--reason" in err
    code, out, err = _run(capsys, "unlock", "visit", "--study", STUDY, "--visit", "week_0",
                          "--subject", "L01", "--reason", "correction", "--json")  # fmt: skip
    assert json.loads(out) == {"level": "visit", "locked": False, "changed": ["L01/week_0"],
                               "skipped": []}  # fmt: skip


def test_a_bulk_lock_needs_a_selection_and_the_listing_writes_csv(
    db: str, tmp_path: Path, capsys: Capsys
) -> None:
    code, _, err = _run(capsys, "lock", "subject", "--study", STUDY)
    assert code == 2
    assert err == (
        "error: lock subject: give --site, --subject, --visit or --form, or --all for the "
        "whole study\n"
    )
    assert _run(capsys, "lock", "form", "--study", STUDY, "--all")[0] == 0
    target = tmp_path / "status.csv"
    code, out, _ = _run(capsys, "lock", "status", "--study", STUDY, "--visit", "week_0",
                        "--form", "vs", "--csv", str(target))  # fmt: skip
    assert (code, out) == (0, f"2 row(s) written to {target}\n")
    rows = target.read_text(encoding="utf-8").splitlines()
    assert rows[1].startswith("L01,site01,week_0,vs,1,locked,locked,2,0,3,form,monitor,")
