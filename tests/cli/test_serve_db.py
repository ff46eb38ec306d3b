"""``clestudy serve --db`` takes what every other command takes: a URL or a SQLite file path, and
a missing file is refused with what to do instead of serving an empty database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from clestudy.cli import main
from clestudy.store import open_store


def test_a_missing_sqlite_file_is_refused_saying_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.db"
    assert main(["serve", "--db", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--db: no database file at {missing}: run `make demo`" in err
    assert not missing.exists()


@pytest.mark.parametrize("as_url", [False, True])
def test_a_path_or_a_url_serves_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_url: bool
) -> None:
    path = tmp_path / "study.db"
    open_store(f"sqlite:///{path}", "lenalidomide-cle-open-label").close()
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kw: started.append(kw))
    monkeypatch.delenv("CLESTUDY_WEB_DB", raising=False)
    assert main(["serve", "--db", f"sqlite:///{path}" if as_url else str(path)]) == 0
    assert len(started) == 1
    assert os.environ["CLESTUDY_WEB_DB"] == f"sqlite:///{path}"
