"""Kill -9 a child process mid-write: the all-or-nothing tests of the store and the importers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def kill_after_saving(args: list[str], delay: float, *, timeout: float) -> None:
    """Run ``python -c ARGS...``, wait for it to print ``saving``, then SIGKILL it after ``delay``."""
    with subprocess.Popen(
        [sys.executable, "-c", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "saving\n"
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=timeout)
