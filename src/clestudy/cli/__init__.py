"""The ``clestudy`` command line: one command per user task, thin over the core and the store.

Each command group lives in its own module with a ``register(app)`` function. Errors are
translated here, once: a :class:`~clestudy.errors.ClestudyError` becomes a one-line message on
stderr and its exit code (2 for bad input, 1 for failure), never a traceback. A file the user
named that cannot be opened or written is bad input (2); any other unexpected exception is an
internal failure (1), printed as one line too. ``CLESTUDY_DEBUG=1`` re-raises it with its
traceback, for a bug report.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

import typer
from typer.main import get_command

from clestudy.cli import (
    _audit,
    _capture,
    _demo,
    _immuno,
    _interop,
    _locking,
    _queries,
    _randomization,
    _score,
    _serve,
    _signatures,
    _stats,
    _users,
)
from clestudy.cli._coerce import plain_params
from clestudy.cli._errors import echo_error, is_usage_problem, wants_json
from clestudy.errors import ClestudyError

if TYPE_CHECKING:
    from typer._click import Command

__all__ = ["app", "main"]

app = typer.Typer(
    name="clestudy",
    help="Run clinical treatment studies in cutaneous lupus: protocol, capture, scores, "
    "analysis, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain Click help: rendering it with Rich would import Rich and
    # markdown-it, about 40 % of a `clestudy --help` (docs/performance.md, "Start-up")
)


def _version_callback(value: bool) -> None:
    if value:
        from clestudy import __version__

        typer.echo(f"clestudy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Run clinical treatment studies in cutaneous lupus."""


for _module in (
    _demo,
    _capture,
    _audit,
    _score,
    _stats,
    _immuno,
    _interop,
    _users,
    _serve,
    _signatures,
    _randomization,
    _locking,
):
    _module.register(app)
_queries.register(app)


@functools.cache
def _command() -> Command:
    """The Click command tree of :data:`app`, built once per process.

    ``app(...)`` rebuilds the whole tree on every call (about 0.1 s); :func:`main` runs the cached
    one instead, so a process that calls it repeatedly (tests, the web layer) builds it once.
    Its text parameters convert without pydantic (:mod:`clestudy.cli._coerce`, start-up).
    """
    command = get_command(app)
    plain_params(command)
    return command


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become one line on stderr.

    Usage errors (an unknown option, a missing argument) are reported by Typer itself with exit
    code 2; clestudy's own errors are printed here as ``error: <message>`` with their exit code.
    With ``--json`` every error, usage errors included, is one JSON object instead
    (``{"error", "field", "where"}``, see :mod:`clestudy.cli._errors`), with the same exit code.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(args)
    try:
        if as_json:  # Typer hands usage errors back instead of printing them
            result = _command()(args=args, prog_name="clestudy", standalone_mode=False)
            return result if isinstance(result, int) else 0
        _command()(args=args, prog_name="clestudy")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except ClestudyError as exc:
        echo_error(str(exc), exc, as_json=as_json)
        return exc.exit_code
    except _USER_PATH_ERRORS as exc:  # a path the user gave: missing, a folder, not writable
        where = f"{exc.filename}: " if exc.filename else ""
        echo_error(f"{where}{exc.strerror or exc}", exc, as_json=as_json)
        return 2
    except Exception as exc:
        if as_json and is_usage_problem(exc):
            echo_error(exc.format_message(), exc, as_json=True)  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if os.environ.get("CLESTUDY_DEBUG") == "1":
            raise
        message = (
            f"internal error ({type(exc).__name__}: {_first_line(exc)}); rerun with "
            "CLESTUDY_DEBUG=1 for the traceback and report it"
        )
        echo_error(message, None, as_json=as_json, located=False)
        return 1
    return 0


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


_USER_PATH_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def _entry() -> None:  # pragma: no cover - exercised through the console script
    sys.exit(main())
