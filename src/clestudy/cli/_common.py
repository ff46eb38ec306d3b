"""Helpers shared by the CLI command modules: JSON output and input reading."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from clestudy.errors import InputError

__all__ = ["ACTOR_HELP", "echo_json", "read_json_input", "resolve_actor"]

ACTOR_HELP = "Who makes the change (audited); default $CLESTUDY_ACTOR or the system user."


def resolve_actor(actor: str | None) -> str:
    """The ``--actor`` given, else ``$CLESTUDY_ACTOR``, else the operating-system user."""
    return actor or os.environ.get("CLESTUDY_ACTOR") or getpass.getuser()


def echo_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (NaN is refused: JSON has no NaN)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False))


def read_json_input(source: str | None) -> Any:
    """Read one JSON document from a file path, or from stdin when ``source`` is ``None`` or ``-``.

    Raises
    ------
    InputError
        When the file is missing, the text is not UTF-8 or not JSON, or it is nested deeper than
        the interpreter's recursion limit; the message names the file and line.
    """
    if source is None or source == "-":
        name = "<stdin>"
        try:
            text = sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise InputError(f"<stdin>: byte {exc.start}: not UTF-8 text ({exc.reason})") from None
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{source}: no such file")
        try:
            name, text = source, path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}: byte {exc.start}: not UTF-8 text ({exc.reason})") from None
    if not text.strip():  # e.g. `clestudy score clasi` with nothing piped in
        raise InputError(
            f"{name}: empty: give one JSON document, in a file or piped to stdin "
            "(echo '{...}' | clestudy ... -)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    except RecursionError:  # '[' * 10000: the decoder recurses once per level
        # the wording `clestudy score` used before every JSON reader came through here
        raise InputError(
            f"{name}: invalid JSON: nested too deeply; allowed: one JSON object of item values"
        ) from None
