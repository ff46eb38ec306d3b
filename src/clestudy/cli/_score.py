"""``clestudy score INSTRUMENT [FILE|-] --json``: score one JSON object with a clinical instrument.

Thin over :func:`clestudy.instruments.score_payload`: read one JSON object, print one JSON object.
Bad input exits with code 2 and one line on stderr naming the input and the item.
"""

from __future__ import annotations

import typer

from clestudy.cli._common import echo_json, read_json_input
from clestudy.errors import InputError

__all__ = ["INSTRUMENT_NAMES", "register"]

#: The instruments ``score`` knows, for its help text: the names of
#: :data:`clestudy.instruments.SCORE_INSTRUMENTS`, written out so that ``clestudy --help`` does
#: not import every instrument (a third of the CLI's import time; docs/performance.md, "Start-up").
#: ``tests/cli/test_startup.py`` checks that the two agree.
INSTRUMENT_NAMES = ("clasi", "crcl", "ctcae", "ctcaelabs", "prednisone-equivalent", "sledai2k")


def score(
    instrument: str = typer.Argument(
        ...,
        metavar="INSTRUMENT",
        help=f"The instrument: {', '.join(INSTRUMENT_NAMES)}.",
        show_default=False,
    ),
    source: str = typer.Argument(
        "-", metavar="[FILE|-]", help="A JSON file with one object; '-' or nothing reads stdin."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the result as one JSON object (the stable, scriptable form)."
    ),
) -> None:
    """Score one JSON object with a validated clinical instrument (see docs/instruments.md)."""
    from clestudy.instruments import get_instrument, score_payload

    name = "<stdin>" if source == "-" else source
    try:  # the name first: an unknown instrument must not sit waiting for stdin
        get_instrument(instrument, item="score: instrument")
    except InputError as exc:
        raise type(exc)(f"{name}: {exc}") from None
    try:
        payload = read_json_input(source)
    except RecursionError:  # json.loads on e.g. 100 000 nested '['
        raise InputError(
            f"{name}: invalid JSON: nested too deeply; allowed: one JSON object of item values"
        ) from None
    try:
        result = score_payload(instrument, payload)
    except InputError as exc:
        raise type(exc)(f"{name}: {exc}") from None
    if as_json:
        echo_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    """Add ``score`` to the CLI."""
    app.command("score")(score)
