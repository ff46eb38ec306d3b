"""``clestudy serve`` as a subprocess on a free loopback port, for the browser and load tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["serve"]

#: ``clestudy`` with the interpreter running the tests (no console script on PATH needed).
CLI = [
    sys.executable,
    "-c",
    "import sys; from clestudy.cli import main; sys.exit(main(sys.argv[1:]))",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"clestudy serve exited with {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the server answers (a redirect to the login page, a 401): it is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"clestudy serve did not answer at {url} within {seconds} s: {log.read_text()}"
    )


@contextmanager
def serve(db_url: str, folder: Path, *, workers: int = 1, seconds: float = 60) -> Iterator[str]:
    """Serve ``db_url`` with ``clestudy serve`` until the block ends; yields the base URL.

    The server's output goes to ``folder/serve.log`` (quoted in the error if it does not start).
    """
    port = _free_port()
    log = folder / "serve.log"
    command = [*CLI, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url + "/", proc, log, seconds)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
