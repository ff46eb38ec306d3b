"""A new SQLite database is built aside and appears whole or not at all (``_build_aside``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clestudy.errors import ClestudyError
from clestudy.protocol import load_protocol
from clestudy.store import (
    building_new_database,
    list_studies,
    open_store,
    save_import,
    verify_audit,
)
from clestudy.store._enrol import SubjectInput

STUDY = "pediatric-cle-chart-review"


def _build(url: str) -> None:
    with open_store(url, STUDY, actor="importer") as store:
        save_import(
            store, subjects=[SubjectInput("P01", "lenalidomide", "site01")], actor="importer",
            reason="subjects.csv",
        )  # fmt: skip


def _pragma(url: str, name: str) -> object:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


def test_a_new_file_is_built_aside_then_named(tmp_path: Path) -> None:
    target = tmp_path / "study.db"
    url = f"sqlite:///{target}"
    with building_new_database(url) as into:
        assert into != url and Path(into.removeprefix("sqlite:///")).parent == tmp_path
        assert Path(into.removeprefix("sqlite:///")).name.startswith(".study.db.building-")
        with open_store(into, STUDY, actor="importer") as store:
            with store.engine.connect() as conn:  # rollback journal, no sync per commit
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0
            save_import(
                store, subjects=[SubjectInput("P01", "lenalidomide", "site01")],
                actor="importer", reason="subjects.csv",
            )  # fmt: skip
        assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    assert _pragma(url, "journal_mode") == "wal"  # as every clestudy database
    assert list_studies(url) == [STUDY]
    assert verify_audit(url).ok
    with open_store(url, STUDY) as store:
        assert [s.subject_id for s in store.subjects()] == ["P01"]


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(RuntimeError, match="refused"), building_new_database(url) as into:
        _build(into)
        raise RuntimeError("refused")
    assert list(tmp_path.iterdir()) == []


def test_a_database_created_meanwhile_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "study.db"
    url = f"sqlite:///{target}"
    with (
        pytest.raises(ClestudyError, match=r"study\.db: another process created this database "
                      r"while the import was being built; nothing was imported"),
        building_new_database(url) as into,
    ):  # fmt: skip
        _build(into)
        with open_store(url, load_protocol("lenalidomide-cle-open-label")):
            pass  # someone else's study, created at the target meanwhile
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    assert list_studies(url) == ["lenalidomide-cle-open-label"]


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@localhost/db", "not a url"],
)
def test_other_urls_are_used_as_they_are(url: str) -> None:
    with building_new_database(url) as into:
        assert into == url


def test_an_existing_file_is_imported_into_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    _build(url)
    with building_new_database(url) as into:
        assert into == url
    missing_folder = f"sqlite:///{tmp_path / 'no-such-folder' / 'study.db'}"
    with building_new_database(missing_folder) as into:
        assert into == missing_folder  # the engine names the problem, as before
