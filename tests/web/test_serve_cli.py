"""``clestudy serve``: starts uvicorn on the app, refuses several SQLite workers, loads lazily."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.store import open_store


def test_several_workers_on_sqlite_are_refused(tmp_path: Path, capsys: object) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["serve", "--db", url, "--workers", "2"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "SQLite database serves one worker" in err


def test_help_does_not_import_the_web_stack() -> None:
    probe = (
        "import sys, contextlib, io, clestudy.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    clestudy.cli.main(['serve', '--help'])\n"
        "print([m for m in ('fastapi', 'uvicorn', 'starlette', 'sqlalchemy') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_answers_http(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    open_store(url, "lenalidomide-cle-open-label").close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from clestudy.cli import _entry; _entry()", "serve", "--db", url,
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
                    schema = json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert schema["info"]["title"] == "clestudy"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as r:
            page = r.read().decode()
        assert 'id="login-form"' in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/vendor/htmx.min.js") as r:
            assert r.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stdout is not None
        server.stdout.close()


def test_log_level_reaches_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    url = f"sqlite:///{tmp_path / 'quiet.db'}"
    open_store(url, "lenalidomide-cle-open-label").close()
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.delenv("CLESTUDY_WEB_DB", raising=False)
    assert main(["serve", "--db", url, "--log-level", "warning"]) == 0
    assert main(["serve", "--db", url]) == 0
    assert [call["log_level"] for call in calls] == ["warning", "info"]


def test_an_unknown_log_level_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["serve", "--db", url, "--log-level", "loud"]) == 2
    err = capsys.readouterr().err
    assert "--log-level: 'loud' is not one of critical, error, warning, info, debug" in err
