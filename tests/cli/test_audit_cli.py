"""``clestudy audit anchor`` and ``audit verify --anchor / --key-file``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.store import open_store

STUDY = "pediatric-cle-chart-review"


def _study(db: Path) -> None:
    with open_store(f"sqlite:///{db}", STUDY) as store:
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"}, actor="c")


def test_anchor_then_verify_against_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, anchor = tmp_path / "study.db", tmp_path / "anchor.json"
    _study(db)
    assert main(["audit", "anchor", "--db", str(db), "--out", str(anchor)]) == 0
    assert capsys.readouterr().out == f"anchor of 3 events in 2 chains written to {anchor}\n"
    data = json.loads(anchor.read_text())
    assert data["events"] == 3 and sorted(data["chains"]) == [STUDY, f"{STUDY}/P01"]
    assert data["chains"][f"{STUDY}/P01"]["count"] == 1
    with open_store(f"sqlite:///{db}", STUDY) as store:  # the trail grows: it still extends it
        store.save_record("P01", "month_6", "steroids", {"prednisone_mg_day": "5"}, actor="c")
    assert main(["audit", "verify", "--db", str(db), "--anchor", str(anchor)]) == 0
    assert capsys.readouterr().out.startswith("audit trail OK: 4 events in 2 chains verified")
    with sqlite3.connect(db) as conn:  # P01's first event rewritten (a rechained history)
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute(f"UPDATE audit_event SET hash = '{'a' * 64}' WHERE seq = 3")
    assert main(["audit", "verify", "--db", str(db), "--anchor", str(anchor), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["first_broken_seq"] == 3


def test_anchor_names_what_it_knows_when_the_head_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, anchor = tmp_path / "study.db", tmp_path / "anchor.json"
    _study(db)
    assert main(["audit", "anchor", "--db", str(db), "--out", str(anchor)]) == 0
    head = json.loads(anchor.read_text())["chains"][f"{STUDY}/P01"]["hash"]
    with sqlite3.connect(db) as conn:  # the record's event and its row, both removed
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq = 3")
        conn.execute("DELETE FROM derived_score")
        conn.execute("DELETE FROM form_record")
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(db)]) == 0  # plain verify cannot see it
    assert main(["audit", "verify", "--db", str(db), "--anchor", str(anchor)]) == 1
    assert capsys.readouterr().err == (
        f"error: anchor: chain '{STUDY}/P01' no longer extends the anchored head (event 1, hash "
        f"{head}); it now has 0 events and that head is not in it: events were deleted or "
        "rewritten (the chain cannot tell which)\n"
    )


def test_an_edited_or_foreign_anchor_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, anchor = tmp_path / "study.db", tmp_path / "anchor.json"
    _study(db)
    assert main(["audit", "anchor", "--db", str(db), "--out", str(anchor)]) == 0
    data = json.loads(anchor.read_text())
    data["chains"][STUDY]["count"] = 1
    anchor.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(db), "--anchor", str(anchor)]) == 1
    assert "chains_hash does not match its chains (edited)" in capsys.readouterr().err
    anchor.write_text("{}")
    assert main(["audit", "verify", "--db", str(db), "--anchor", str(anchor)]) == 2
    assert f"anchor {anchor}: clestudy_audit_anchor: not a clestudy audit anchor" in (
        capsys.readouterr().err
    )


def test_key_file_verifies_keyed_events_and_refuses_short_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, key_file, short = tmp_path / "study.db", tmp_path / "audit.key", tmp_path / "short.key"
    key_file.write_text("0123456789abcdef0123456789abcdef\n")
    short.write_text("too short")
    monkeypatch.setenv("CLESTUDY_AUDIT_KEY_FILE", str(key_file))
    _study(db)
    monkeypatch.delenv("CLESTUDY_AUDIT_KEY_FILE")
    assert main(["audit", "verify", "--db", str(db), "--key-file", str(key_file)]) == 0
    assert capsys.readouterr().out.startswith("audit trail OK: 3 events")
    assert main(["audit", "verify", "--db", str(db)]) == 0
    assert "(3 keyed event hashes not recomputed: no audit key given)" in capsys.readouterr().out
    assert main(["audit", "verify", "--db", str(db), "--key-file", str(short)]) == 2
    assert capsys.readouterr().err == (
        f"error: key file {short}: the audit key is 9 bytes; use at least 16 (e.g. 32 random "
        "bytes: python -c 'import secrets; print(secrets.token_hex(32))')\n"
    )
    assert main(["audit", "anchor", "--db", str(db), "--key-file", str(key_file)]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 3


def test_audit_log_says_when_no_event_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "study.db"
    _study(db)
    assert main(["audit", "log", "--db", str(db), "--entity", f"{STUDY}/P99/"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"no audit events whose entity starts with '{STUDY}/P99/'\n",
    )
    assert main(["audit", "log", "--db", str(db), "--entity", f"{STUDY}/P99/", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # JSON stays one clean document
