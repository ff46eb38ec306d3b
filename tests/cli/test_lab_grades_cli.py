"""``clestudy record show --json`` shows the CTCAE grades of a saved lab record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clestudy.cli import main

STUDY = "lenalidomide-cle-open-label"
Capsys = pytest.CaptureFixture[str]


def _run(capsys: Capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _save(capsys: Capsys, tmp_path: Path, visit: str, form: str, values: object) -> int:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return _run(capsys, "record", "save", str(path), "--study", STUDY, "--subject", "L01",
                "--visit", visit, "--form", form)[0]  # fmt: skip


def test_week_12_labs_show_their_grades(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLESTUDY_DATABASE_URL", f"sqlite:///{tmp_path / 'labs.db'}")
    monkeypatch.setenv("CLESTUDY_ACTOR", "coordinator")
    assert _run(capsys, "study", "init", STUDY)[0] == 0
    assert _run(capsys, "subject", "add", "L01", "--study", STUDY, "--arm", "lenalidomide",
                "--site", "site01")[0] == 0  # fmt: skip
    assert (
        _save(capsys, tmp_path, "week_0", "dm", {"brthdat": "1980-05-01", "sex": "F", "age": 45})
        == 0
    )
    assert _save(capsys, tmp_path, "week_0", "labs", {"lbdat": "2025-01-06", "alt": "30"}) == 0
    assert _save(capsys, tmp_path, "week_12", "labs", {"lbdat": "2025-03-31", "alt": "320"}) == 0
    code, out, err = _run(capsys, "record", "show", "--study", STUDY, "--json", "--visit",
                          "week_12", "--form", "labs")  # fmt: skip
    assert (code, err) == (0, "")
    grades = json.loads(out)[0]["derived"]["ctcae_labs"]["values"]
    # ALT 320 U/L > 5.0 x ULN 63 (315): grade 3; creatinine has no range: not graded
    assert (grades["alt_grade"], grades["worst_grade"], grades["creat_grade"]) == (3, 3, None)
