"""The CLI's one error shape: ``error: <message>`` for people, one JSON object with ``--json``.

With ``--json`` a program reads errors as it reads results: one line of JSON on stderr,
``{"error": message, "field": field or null, "where": where or null}``, with the same exit code
as the text form (2 bad input, 1 failure), like datasette's single error shape for its API.

``where`` and ``field`` are an exception's own ``where``/``field`` attributes when it has them;
otherwise they are read from the message, which by house rule starts with its location
(``FILE:``, ``SUBJECT/VISIT/FORM:``, a YAML path) and names the field as ``field 'ID'`` or
``column 'NAME'``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

import typer

__all__ = ["UsageProblem", "echo_error", "error_object", "is_usage_problem", "wants_json"]

_FIELD = re.compile(r"\b(?:field|column|option) '([^']+)'")


class UsageProblem(Protocol):
    """What Typer (Click) raises for a bad command line: a message and an exit code."""

    exit_code: int

    def format_message(self) -> str: ...


def wants_json(argv: list[str]) -> bool:
    """True when ``--json`` is among the options (before a ``--`` that ends them)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in options


def is_usage_problem(exc: BaseException) -> bool:
    """A Typer/Click usage error (unknown option, missing argument, bad value)."""
    return callable(getattr(exc, "format_message", None)) and hasattr(exc, "exit_code")


def error_object(message: str, exc: BaseException | None = None) -> dict[str, Any]:
    """The JSON error shape for ``message`` (raised as ``exc``, if any).

    Examples
    --------
    >>> error_object("P01/initiation/labs: field 'esr': 400 is out of range; allowed 0 to 200")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'error': "P01/initiation/labs: field 'esr': 400 is out of range; allowed 0 to 200",
     'field': 'esr', 'where': 'P01/initiation/labs'}
    >>> error_object("no such study")
    {'error': 'no such study', 'field': None, 'where': None}
    """
    field = getattr(exc, "field", None)
    where = getattr(exc, "where", None)
    if field is None:
        match = _FIELD.search(message)
        field = match.group(1) if match else None
    if where is None and ": " in message:
        head = message.split(": ", 1)[0]
        where = None if _FIELD.search(head) else head
    return {"error": message, "field": field, "where": where}


def _usage_details(exc: BaseException) -> tuple[str | None, str | None]:
    """The option a usage error is about (``--n``), and the command it was given to."""
    param = getattr(exc, "param", None)
    opts = getattr(param, "opts", None)
    field = opts[0] if opts else getattr(param, "name", None)
    ctx = getattr(exc, "ctx", None)
    return field, getattr(ctx, "command_path", None)


def echo_error(
    message: str, exc: BaseException | None, *, as_json: bool, located: bool = True
) -> None:
    """Print one error line on stderr: ``error: message`` or the JSON object.

    ``located=False``: the message names no place (an internal error), so no ``where``."""
    if not as_json:
        typer.echo(f"error: {message}", err=True)
        return
    if exc is not None and is_usage_problem(exc):
        field, where = _usage_details(exc)
        record = {"error": message, "field": field, "where": where}
    elif located:
        record = error_object(message, exc)
    else:
        record = {"error": message, "field": None, "where": None}
    typer.echo(json.dumps(record, ensure_ascii=False), err=True)
