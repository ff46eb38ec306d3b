"""Migration 0002 keeps old data (snapshot and record versions backfilled); readers never migrate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from clestudy.cli import main
from clestudy.errors import NotFoundError
from clestudy.protocol import load_protocol
from clestudy.store import make_engine, open_store
from clestudy.store._audit import snapshot_sha256
from clestudy.store._migrate import _config

STUDY = "pediatric-cle-chart-review"


def _database_at_0001(url: str) -> None:
    """A database at the first schema, holding a study, a subject and one record."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            protocol_json = load_protocol(STUDY).model_dump_json()
            connection.execute(
                text(
                    "INSERT INTO study (id, study_key, protocol_version, protocol_json, "
                    "created_at) VALUES (1, :k, :v, :j, '2026-01-01T00:00:00.000000Z')"
                ),
                {"k": STUDY, "v": load_protocol(STUDY).version, "j": protocol_json},
            )
            connection.execute(
                text(
                    "INSERT INTO subject (id, study_id, subject_key, arm, site, status, "
                    "created_at) VALUES (1, 1, 'P01', 'lenalidomide', 'site01', 'enrolled', "
                    "'2026-01-01T00:00:00.000000Z')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO form_record (id, study_id, subject_id, visit_key, form_key, "
                    "instance, values_json, status, version, created_at, updated_at, updated_by) "
                    "VALUES (1, 1, 1, 'initiation', 'vs', 1, '{\"weight\":\"30\"}', 'complete', "
                    "1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'c')"
                )
            )
    finally:
        engine.dispose()


def test_reading_commands_refuse_an_old_schema_and_upgrade_keeps_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    _database_at_0001(url)
    refused = (
        f"error: database {url}: its schema is older (or newer) than this clestudy's, and "
        "reading never migrates; upgrade it first with `clestudy study upgrade --db URL`\n"
    )
    for command_line in (
        ["report", "--db", str(path), "--out", str(tmp_path / "r.html")],
        ["audit", "log", "--db", str(path)],
    ):
        assert main(command_line) == 2
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("", refused)
    assert not (tmp_path / "r.html").exists()
    assert main(["study", "upgrade", "--db", str(path)]) == 0
    assert capsys.readouterr().out == f"database {url} is at the current schema\n"
    with open_store(url, STUDY, migrate=False) as store:
        (record,) = store.records()
        assert (record.protocol_version, record.values) == (
            load_protocol(STUDY).version,
            {"weight": "30"},
        )
        with store.engine.connect() as connection:
            stored, digest, pointer = connection.execute(
                text(
                    "SELECT s.protocol_json, s.sha256, st.current_snapshot_id = s.id "
                    "FROM protocol_snapshot s JOIN study st ON st.id = s.study_id"
                )
            ).one()
    assert json.loads(stored) == json.loads(load_protocol(STUDY).model_dump_json())
    assert digest == snapshot_sha256(stored) and pointer


def test_a_missing_database_is_not_created_by_a_reader(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(NotFoundError, match=r"not a clestudy database \(no clestudy tables\)"):
        open_store(url, STUDY, migrate=False)
