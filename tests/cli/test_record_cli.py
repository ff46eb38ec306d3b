"""``clestudy record`` from the user's side: patch/replace, next instance, status, show, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.protocol import load_protocol

STUDY = "pediatric-cle-chart-review"
Capsys = pytest.CaptureFixture[str]


def _run(capsys: Capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    """A study set up through ``$CLESTUDY_DATABASE_URL`` (no ``--db``), with P01 enrolled."""
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("CLESTUDY_DATABASE_URL", url)
    monkeypatch.setenv("CLESTUDY_ACTOR", "coordinator")
    code, out, err = _run(capsys, "study", "init", STUDY)
    assert (code, err) == (0, "")
    assert out == f"study {STUDY} (protocol version {load_protocol(STUDY).version}) in {url}\n"
    assert _run(capsys, "subject", "add", "P01", "--study", STUDY, "--arm", "lenalidomide",
                "--site", "site01")[0] == 0  # fmt: skip
    return url


def _save(capsys: Capsys, tmp_path: Path, values: object, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return _run(capsys, "record", "save", str(path), "--study", STUDY, "--subject", "P01", *extra)


def _show(capsys: Capsys, *extra: str) -> list[dict[str, object]]:
    code, out, err = _run(capsys, "record", "show", "--study", STUDY, "--json", *extra)
    assert (code, err) == (0, "")
    shown: list[dict[str, object]] = json.loads(out)
    return shown


VS = ("--visit", "initiation", "--form", "vs")


def test_patch_keeps_other_fields_and_replace_clears_them(
    db: str, tmp_path: Path, capsys: Capsys
) -> None:
    vitals = {"vsdat": "2011-03-01", "weight": "70.5", "height": "172"}
    assert _save(capsys, tmp_path, vitals, *VS)[:2] == (
        0, "saved P01/initiation/vs version 1 (complete)\n",
    )  # fmt: skip
    _save(capsys, tmp_path, {"height": "173"}, *VS, "--expected-version", "1", "--reason", "t")
    code, out, _ = _save(
        capsys, tmp_path, {"weight": 72.0}, *VS, "--expected-version", "2", "--reason", "scale"
    )
    assert (code, out) == (0, "saved P01/initiation/vs version 3 (complete)\n")
    assert _show(capsys)[0]["values"] == {"vsdat": "2011-03-01", "weight": "72.0", "height": "173"}
    code, out, _ = _save(
        capsys, tmp_path, {"weight": "71"}, *VS, "--expected-version", "3", "--reason", "re-entry",
        "--replace",
    )  # fmt: skip
    assert (code, out) == (0, "saved P01/initiation/vs version 4 (complete)\n")
    assert _show(capsys)[0]["values"] == {"weight": "71"}
    log = json.loads(_run(capsys, "audit", "log", "--json")[1])
    assert log[-1]["after"]["cleared"] == ["vsdat", "height"]


def test_next_instance_and_the_status_commands(db: str, tmp_path: Path, capsys: Capsys) -> None:
    ae = {"aeterm": "rash", "aestdat": "2011-04-01", "aetoxgr": 1, "aeser": False}
    where = ("--visit", "month_6", "--form", "ae")
    for n in (1, 2):
        code, out, _ = _save(capsys, tmp_path, ae, *where, "--instance", "next")
        suffix = "" if n == 1 else f"#{n}"
        assert (code, out) == (0, f"saved P01/month_6/ae{suffix} version 1 (complete)\n")
    status = ("--study", STUDY, "--subject", "P01", *where, "--instance", "2")
    assert _run(capsys, "record", "verify", *status, "--expected-version", "1") == (
        0, "P01/month_6/ae#2 is verified (version 2)\n", "",
    )  # fmt: skip
    assert _run(capsys, "record", "lock", *status, "--expected-version", "2")[1] == (
        "P01/month_6/ae#2 is locked (version 3)\n"
    )
    code, out, err = _save(
        capsys, tmp_path, {"aetoxgr": 2}, *where, "--instance", "2", "--expected-version", "3",
        "--reason", "upgrade",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "error: record P01/month_6/ae#2 is locked: an edit is refused until it is unlocked "
        "(with a reason)\n"
    )
    code, _, err = _run(capsys, "record", "unlock", *status, "--expected-version", "3")
    assert code == 2 and "Missing option '--reason'" in err
    assert _run(capsys, "record", "unlock", *status, "--expected-version", "3", "--reason",
                "grade query")[1] == "P01/month_6/ae#2 is verified (version 4)\n"  # fmt: skip
    code, _, err = _save(capsys, tmp_path, ae, *VS, "--instance", "next")
    assert code == 2 and "instance 'next' is not allowed" in err
    code, _, err = _save(capsys, tmp_path, ae, *where, "--instance", "zero")
    assert (code, err) == (2, "error: --instance: 'zero' is not a positive integer or 'next'\n")


def test_record_show_prints_a_table_and_refuses_unknown_names(
    db: str, tmp_path: Path, capsys: Capsys
) -> None:
    _save(capsys, tmp_path, {"lbdat": "2011-03-01", "esr": 26, "wbc": "5.1"}, "--visit",
          "initiation", "--form", "labs")  # fmt: skip
    _save(capsys, tmp_path, {"weight": "30"}, *VS)
    code, out, err = _run(capsys, "record", "show", "--study", STUDY, "--subject", "P01")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "record\tversion\tstatus\tvalues\tderived",
        "P01/initiation/labs\t1\tcomplete\tlbdat=2011-03-01; wbc=5.1; esr=26\t-",
        "P01/initiation/vs\t1\tcomplete\tweight=30\t-",
    ]
    for option, value, known in (
        ("--subject", "P99", "P01"),
        ("--visit", "week_99", "initiation, month_6"),
        ("--form", "nope", "dm, vs, ex, steroids, labs, skin, ae"),
    ):
        code, out, err = _run(capsys, "record", "show", "--study", STUDY, option, value)
        what = option.removeprefix("--")
        assert (code, out) == (2, "")
        assert (
            err == f"error: {option}: unknown {what} '{value}' in study {STUDY} (known: {known})\n"
        )


def test_study_init_without_db_or_environment_is_bad_input(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLESTUDY_DATABASE_URL", raising=False)
    code, _, err = _run(capsys, "study", "init", STUDY)
    assert code == 2
    assert err == "error: --db: give a database URL or file, or set CLESTUDY_DATABASE_URL\n"
