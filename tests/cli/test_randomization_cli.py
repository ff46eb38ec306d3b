"""``clestudy randomization generate|upload|report``, ``randomize`` and ``unblind``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from tests.cli._support import Capsys, new_study
from tests.cli._support import run as _run

from clestudy.store import audit_events, open_accounts, verify_audit

PROTOCOL = Path(__file__).parents[1] / "randomization" / "randomized.yaml"
STUDY = "randomized-demo"


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    subjects = {"S1": "F", "S2": "M"}
    path = new_study(tmp_path, capsys, monkeypatch, actor="coordinator", protocol=str(PROTOCOL),
                     study=STUDY, subjects=list(subjects), arm=None)  # fmt: skip
    for subject, sex in subjects.items():
        values = tmp_path / f"{subject}.json"
        values.write_text(json.dumps({"sex": sex, "age": 30}), encoding="utf-8")
        assert _run(capsys, "record", "save", str(values), "--study", STUDY, "--subject", subject,
                    "--visit", "week_0", "--form", "dm")[0] == 0  # fmt: skip
    return path


def test_generate_randomize_report_and_unblind(db: str, tmp_path: Path, capsys: Capsys) -> None:
    seed = tmp_path / "seed.txt"
    seed.write_text("271828\n", encoding="utf-8")
    code, out, err = _run(capsys, "randomization", "generate", "--study", STUDY,
                          "--per-stratum", "8", "--seed-file", str(seed), "--json",
                          "--actor", "admin")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["seed"] == 271828 and summary["strata"] == 2
    code, out, err = _run(capsys, "randomize", "S2", "--study", STUDY, "--json")
    assert code == 0, err
    allocation = json.loads(out)
    assert allocation["number"] == "2-001" and allocation["arm"] in ("placebo", "lenalidomide")
    code, out, err = _run(capsys, "randomize", "S2", "--study", STUDY)
    assert code == 2 and "already randomized (number 2-001)" in err
    code, out, err = _run(capsys, "randomization", "report", "--study", STUDY, "--json")
    assert code == 0, err
    report = {row["stratum"]: row for row in json.loads(out)}
    assert report["sex=M"]["used"][allocation["arm"]] == 1
    code, out, _ = _run(capsys, "randomization", "report", "--study", STUDY)
    assert out.splitlines()[0] == "stratum\tplacebo\tlenalidomide\tunused"
    code, out, err = _run(capsys, "unblind", "S2", "--study", STUDY, "--reason", "final analysis",
                          "--actor", "inv1")  # fmt: skip
    assert code == 0, err
    assert out.strip() == f"unblinded S2: number 2-001, arm {allocation['arm']}"
    unblinding = audit_events(f"sqlite:///{db}", entity_prefix=f"{STUDY}/S2/unblinding")
    assert unblinding[-1]["reason"] == "final analysis"
    assert verify_audit(f"sqlite:///{db}").ok


def test_a_blinded_actor_sees_no_arm_and_no_report(db: str, capsys: Capsys) -> None:
    with open_accounts(
        f"sqlite:///{db}", hasher=PasswordHasher.from_parameters(profiles.CHEAPEST)
    ) as accounts:
        accounts.add_user("stat1", role="statistician", sites=["site01"],
                          password="a long enough passphrase", actor="setup")  # fmt: skip
    assert _run(capsys, "randomization", "generate", "--study", STUDY, "--per-stratum", "4")[0] == 0
    code, out, err = _run(capsys, "randomize", "S1", "--study", STUDY, "--actor", "stat1")
    assert code == 0, err
    assert out.strip() == "randomized S1: number 1-001, arm blinded"
    code, _, err = _run(capsys, "randomization", "report", "--study", STUDY, "--actor", "stat1")
    assert code == 2 and "stat1 has a blinded role" in err


def test_upload_errors_name_line_and_column(tmp_path: Path, capsys: Capsys) -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    protocol = tmp_path / "table-study.yaml"
    protocol.write_text(
        text.replace("id: randomized-demo", "id: table-demo")
        .replace("method: permuted_blocks", "method: table")
        .replace("  block_sizes: [4, 6]\n", ""),
        encoding="utf-8",
    )
    url = str(tmp_path / "t.db")
    assert _run(capsys, "study", "init", str(protocol), "--db", url)[0] == 0
    table = tmp_path / "table.csv"
    table.write_text("sex,sequence,arm\nF,1,placebo\nQ,1,drug\n", encoding="utf-8")
    code, _, err = _run(capsys, "randomization", "upload", str(table), "--study", "table-demo",
                        "--db", url)  # fmt: skip
    assert code == 2
    assert f"{table}:3: sex: 'Q' is not one of" in err
    assert f"{table}:3: arm: 'drug' is not one of" in err
    code, _, err = _run(capsys, "randomization", "upload", str(tmp_path / "none.csv"),
                        "--study", "table-demo", "--db", url)  # fmt: skip
    assert code == 2 and "no such file" in err
    table.write_text("sex,sequence,arm\nF,1,placebo\nM,1,lenalidomide\n", encoding="utf-8")
    code, out, err = _run(capsys, "randomization", "upload", str(table), "--study", "table-demo",
                          "--db", url, "--actor", "admin")  # fmt: skip
    assert code == 0, err
    assert out.strip() == "stored 2 allocations over 2 strata"


def test_randomize_before_any_list(db: str, capsys: Capsys) -> None:
    code, _, err = _run(capsys, "randomize", "S1", "--study", STUDY)
    assert code == 2 and "has no allocation list yet" in err
