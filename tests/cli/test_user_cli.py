"""``clestudy user``: the operator's account commands, their errors and their audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from tests.cli.test_capture_cli import STUDY, _run

from clestudy.cli import _users
from clestudy.store import AuthenticationError, open_accounts

PASSWORD = "correct horse battery"
Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def db(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> str:
    path = str(tmp_path / "study.db")
    monkeypatch.setenv("CLESTUDY_DATABASE_URL", path)
    monkeypatch.setenv("CLESTUDY_ACTOR", "operator")
    monkeypatch.setenv(_users.NEW_PASSWORD_ENV, PASSWORD)
    assert _run(capsys, "study", "init", STUDY)[0] == 0
    return path


def _add_alice(capsys: Capsys) -> tuple[int, str, str]:
    return _run(capsys, "user", "add", "alice", "--role", "coordinator", "--site", "site01",
                "--site", "site02", "--full-name", "Alice Martin")  # fmt: skip


def test_add_list_and_sign_in(db: str, capsys: Capsys) -> None:
    assert _add_alice(capsys) == (0, "added alice (coordinator; sites site01,site02)\n", "")
    code, out, _ = _run(capsys, "user", "list")
    assert code == 0
    assert out.splitlines() == [
        "username\trole\tsites\tstatus\tfull_name",
        "alice\tcoordinator\tsite01,site02\tactive\tAlice Martin",
    ]
    code, out, _ = _run(capsys, "user", "list", "--json")
    assert json.loads(out) == [
        {
            "username": "alice",
            "role": "coordinator",
            "sites": ["site01", "site02"],
            "suspended": False,
            "full_name": "Alice Martin",
        }
    ]
    with open_accounts(f"sqlite:///{db}") as accounts:
        assert accounts.authenticate("alice", PASSWORD).role == "coordinator"
        assert accounts.account_events("alice")[0].actor == "operator"


def test_role_sites_suspend_reinstate(db: str, capsys: Capsys) -> None:
    _add_alice(capsys)
    code, out, _ = _run(capsys, "user", "set-role", "alice", "--role", "monitor", "--json")
    assert code == 0 and json.loads(out)["role"] == "monitor"
    assert _run(capsys, "user", "set-sites", "alice", "--site", "site03") == (
        0,
        "updated alice (monitor; sites site03)\n",
        "",
    )
    code, out, _ = _run(capsys, "user", "suspend", "alice", "--reason", "left", "--actor", "dm")
    assert (code, out) == (0, "suspended alice (monitor; sites site03)\n")
    assert "\tsuspended\t" in _run(capsys, "user", "list")[1]
    assert _run(capsys, "user", "reinstate", "alice", "--reason", "back")[0] == 0
    with open_accounts(f"sqlite:///{db}") as accounts:
        events = accounts.account_events("alice")
    assert [(e.action, e.actor) for e in events] == [
        ("add_user", "operator"),
        ("set_role", "operator"),
        ("set_sites", "operator"),
        ("suspend", "dm"),
        ("reinstate", "operator"),
    ]


def test_reset_password_from_a_file_and_from_stdin(
    db: str, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_alice(capsys)
    secret = tmp_path / "pw.txt"
    secret.write_text("a new long passphrase\nignored second line\n", encoding="utf-8")
    code, out, _ = _run(capsys, "user", "reset-password", "alice", "--password-file", str(secret))
    assert (code, out) == (0, "password reset for alice (coordinator; sites site01,site02)\n")
    with open_accounts(f"sqlite:///{db}") as accounts:
        assert accounts.authenticate("alice", "a new long passphrase").username == "alice"
    monkeypatch.setattr("sys.stdin", _Stdin("from stdin passphrase\n"))
    assert _run(capsys, "user", "reset-password", "alice", "--password-file", "-")[0] == 0
    with open_accounts(f"sqlite:///{db}") as accounts:
        assert accounts.authenticate("alice", "from stdin passphrase").username == "alice"
        with pytest.raises(AuthenticationError):
            accounts.authenticate("alice", "a new long passphrase")


class _Stdin:
    """A stand-in stdin: lines to read, and a terminal or not."""

    def __init__(self, text: str, *, tty: bool = False) -> None:
        self.lines = text.splitlines(keepends=True)
        self.tty = tty

    def readline(self) -> str:
        return self.lines.pop(0) if self.lines else ""

    def isatty(self) -> bool:
        return self.tty


def test_the_prompt_asks_twice_and_refuses_a_mismatch(
    db: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_users.NEW_PASSWORD_ENV)
    monkeypatch.setattr("sys.stdin", _Stdin("", tty=True))
    answers = iter(["typed passphrase one", "typed passphrase two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    code, out, err = _run(capsys, "user", "add", "bob", "--role", "monitor")
    assert (code, out) == (2, "")
    assert err == "error: password: the two entries differ; nothing was changed\n"
    answers = iter(["typed passphrase one", "typed passphrase one"])
    assert _run(capsys, "user", "add", "bob", "--role", "monitor")[0] == 0
    with open_accounts(f"sqlite:///{db}") as accounts:
        assert accounts.authenticate("bob", "typed passphrase one").username == "bob"


def test_no_password_source_without_a_terminal_is_bad_input(
    db: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_users.NEW_PASSWORD_ENV)
    monkeypatch.setattr("sys.stdin", _Stdin("", tty=False))
    code, _, err = _run(capsys, "user", "add", "bob", "--role", "monitor")
    assert code == 2
    assert err.startswith("error: password: give --password-file FILE, set CLESTUDY_NEW_PASSWORD")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss"], "role 'boss': not a role; allowed: admin, investigator"),
        (["--role", "monitor", "--site", "a b"], "site 'a b': use 1-64 letters"),
        (["--role", "monitor", "--password-file", "missing.txt"], "missing.txt: no such file"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    db: str, capsys: Capsys, args: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "user", "add", "bob", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {message}")


def test_errors_as_json(db: str, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_users.NEW_PASSWORD_ENV, "short")
    code, out, err = _run(capsys, "user", "add", "bob", "--role", "monitor", "--json")
    assert (code, out) == (2, "")
    assert json.loads(err)["error"] == "password: must have at least 12 characters, got 5"
    code, _, err = _run(capsys, "user", "set-role", "nobody", "--role", "admin", "--json")
    assert code == 2 and json.loads(err)["error"] == "user 'nobody' does not exist"


def test_token_create_and_revoke(db: str, capsys: Capsys) -> None:
    _add_alice(capsys)
    code, out, err = _run(capsys, "user", "token", "create", "alice", "--label", "export")
    assert code == 0 and "shown once" in err
    token = out.strip()
    with open_accounts(f"sqlite:///{db}") as accounts:
        assert accounts.token_user(token).username == "alice"
    code, out, _ = _run(capsys, "user", "token", "create", "alice", "--label", "ci", "--json")
    assert code == 0 and set(json.loads(out)) == {"username", "label", "token"}
    assert _run(capsys, "user", "token", "revoke", "alice", "--label", "export") == (
        0,
        "revoked API token 'export' of alice\n",
        "",
    )
    code, _, err = _run(capsys, "user", "token", "revoke", "alice", "--label", "export")
    assert (code, err) == (2, "error: user 'alice' has no active token 'export'\n")
    with open_accounts(f"sqlite:///{db}") as accounts:
        with pytest.raises(AuthenticationError):
            accounts.token_user(token)
        dump = json.dumps([e.detail for e in accounts.account_events()])
    assert token not in dump and PASSWORD not in dump


def test_a_missing_database_file_is_bad_input(tmp_path: Path, capsys: Capsys) -> None:
    code, _, err = _run(capsys, "user", "list", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "no database file" in err


def test_demo_users_one_per_role_sign_in_and_show_in_user_list(db: str, capsys: Capsys) -> None:
    from clestudy.demo._users import DEMO_USERS, add_demo_users
    from clestudy.store import ROLES

    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    logins = add_demo_users(f"sqlite:///{db}", actor="demo-generator", hasher=cheap)
    assert logins == DEMO_USERS
    assert {login.role for login in logins} == set(ROLES)
    assert {site for login in logins for site in login.sites} == {"site01", "site02"}
    with open_accounts(f"sqlite:///{db}", hasher=cheap) as accounts:
        for login in logins:
            assert accounts.authenticate(login.username, login.password).sites == login.sites
    code, out, _ = _run(capsys, "user", "list", "--json")
    assert code == 0 and [u["username"] for u in json.loads(out)] == sorted(
        login.username for login in logins
    )


def test_end_sessions(db: str, capsys: Capsys) -> None:
    _add_alice(capsys)
    with open_accounts(f"sqlite:///{db}") as accounts:
        session = accounts.create_session("alice")
    assert _run(capsys, "user", "end-sessions", "alice") == (0, "ended 1 session(s) of alice\n", "")
    with open_accounts(f"sqlite:///{db}") as accounts, pytest.raises(AuthenticationError):
        accounts.session_user(session)
