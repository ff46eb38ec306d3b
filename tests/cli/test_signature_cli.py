"""``clestudy sign`` and ``clestudy signature list``: the password from stdin or a prompt, never
from the command line; a wrong one counts toward the lockout; a later edit voids."""

from __future__ import annotations

import json

import pytest
from tests.cli.test_capture_cli import STUDY, _run
from tests.cli.test_user_cli import PASSWORD, _Stdin, db  # noqa: F401 - the fixture

from clestudy.store import open_accounts, open_store

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def signing_db(db: str, capsys: Capsys) -> str:  # noqa: F811
    """The user tests' database with an investigator and a subject's saved record."""
    args = ("user", "add", "ines", "--role", "investigator", "--site", "site01")
    assert _run(capsys, *args, "--full-name", "Ines Vargas")[0] == 0
    with open_store(f"sqlite:///{db}", STUDY) as store:
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"},
                          actor="coordinator")  # fmt: skip
    return db


def test_sign_from_stdin_list_and_void(
    signing_db: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin(PASSWORD + "\n"))
    code, out, err = _run(
        capsys, "sign", "subject", "P01", "--study", STUDY, "--meaning", "review",
        "--actor", "ines", "--password-stdin", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    signed = json.loads(out)
    assert (signed["signer"], signed["signer_name"], signed["status"]) == (
        "ines", "Ines Vargas", "valid",
    )  # fmt: skip
    with open_store(f"sqlite:///{signing_db}", STUDY) as store:
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "25"},
                          actor="coordinator", reason="dose", expected_version=1)  # fmt: skip
    code, out, _ = _run(capsys, "signature", "list", "--study", STUDY, "--json")
    [listed] = json.loads(out)
    assert listed["status"] == "void" and listed["voided_by"] == "coordinator"
    code, out, _ = _run(capsys, "signature", "list", "--study", STUDY, "--status", "void")
    assert code == 0 and out.splitlines()[1].startswith(f"{STUDY}/P01/signature-1\tvoid\treview")
    monkeypatch.setattr("sys.stdin", _Stdin("", tty=True))
    monkeypatch.setattr("getpass.getpass", lambda prompt: PASSWORD)
    code, out, _ = _run(
        capsys, "sign", "visit", "P01", "initiation", "--study", STUDY,
        "--meaning", "approval", "--actor", "ines",
    )  # fmt: skip
    assert code == 0 and out.startswith(f"signed {STUDY}/P01/initiation/signature-2 (approval)")


def test_a_wrong_password_is_refused_and_counted(
    signing_db: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("not the password\n"))
    code, out, err = _run(
        capsys, "sign", "subject", "P01", "--study", STUDY, "--meaning", "review",
        "--actor", "ines", "--password-stdin",
    )  # fmt: skip
    assert (code, out, err) == (1, "", "error: invalid username or password\n")
    with open_accounts(f"sqlite:///{signing_db}") as accounts:
        event = accounts.account_events("ines")[-1]
    assert (event.action, event.detail["failed_attempts"]) == ("signing_failure", 1)


def test_no_password_without_a_terminal_and_bad_meaning_are_bad_input(
    signing_db: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("", tty=False))
    base = ("sign", "subject", "P01", "--study", STUDY, "--actor", "ines")
    code, _, err = _run(capsys, *base, "--meaning", "review")
    assert code == 2 and err.startswith("error: password: give --password-stdin")
    monkeypatch.setattr("sys.stdin", _Stdin(PASSWORD + "\n"))
    code, _, err = _run(capsys, *base, "--meaning", "okay", "--password-stdin")
    assert code == 2 and "meaning 'okay' is not one of review, approval, authorship" in err
    code, _, err = _run(capsys, "signature", "list", "--study", STUDY, "--status", "gone")
    assert code == 2 and "use 'valid' or 'void'" in err
