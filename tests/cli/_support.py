"""What the CLI tests share: running ``clestudy`` in-process, and a new study database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from clestudy.cli import main

__all__ = ["OPEN_LABEL", "Capsys", "new_study", "run"]

OPEN_LABEL = "lenalidomide-cle-open-label"
Capsys = pytest.CaptureFixture[str]


def run(capsys: Capsys, *args: str) -> tuple[int, str, str]:
    """``clestudy ARGS``: the exit code, standard output and standard error."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def new_study(
    tmp_path: Path,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
    *,
    actor: str,
    protocol: str = OPEN_LABEL,
    study: str = OPEN_LABEL,
    subjects: Sequence[str] = ("L01",),
    arm: str | None = "lenalidomide",
) -> str:
    """A SQLite study at ``tmp_path/study.db`` (the default database and actor set in the
    environment), with ``subjects`` enrolled at site01 (``arm=None``: no arm, as a randomized
    study enrols)."""
    path = str(tmp_path / "study.db")
    monkeypatch.setenv("CLESTUDY_DATABASE_URL", path)
    monkeypatch.setenv("CLESTUDY_ACTOR", actor)
    assert run(capsys, "study", "init", protocol)[0] == 0
    for subject in subjects:
        arm_option = ["--arm", arm] if arm is not None else []
        code = run(capsys, "subject", "add", subject, "--study", study, *arm_option,
                   "--site", "site01")[0]  # fmt: skip
        assert code == 0
    return path
