"""Start-up stays light: ``clestudy --help`` and ``clestudy score`` load no heavy library.

A structural guard for the start-up target of issue 10 (``--help`` and ``score`` in <= 0.3 s),
not a timed test: timings live in ``benchmarks/bench_store.py``. Each check runs in a fresh
interpreter, so modules imported by other tests cannot hide or fake an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries only the commands that need them may import (SciPy, pandas, the store, FlowKit...).
HEAVY = (
    "pandas",
    "scipy",
    "sqlalchemy",
    "statsmodels",
    "flowkit",
    "matplotlib",
    "lxml",
    "pyreadstat",
    "pyarrow",
)

PROBE = """
import contextlib, io, json, sys
import clestudy.cli
sys.stdin = io.StringIO(sys.argv[2])
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = clestudy.cli.main(json.loads(sys.argv[1]))
heavy = json.loads(sys.argv[3])
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": [m for m in heavy if m in sys.modules]}))
"""

CLASI = {"areas": {"scalp": {"erythema": 2, "scale": 1}}, "mucous_membrane": 1}


def _run(argv: list[str], stdin: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), stdin, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    ("argv", "stdin", "expected"),
    [
        (["--help"], "", "Usage: clestudy"),
        (["score", "--help"], "", "INSTRUMENT"),
        (["score", "clasi", "-", "--json"], json.dumps(CLASI), '"activity"'),
    ],
    ids=["help", "score-help", "score-clasi"],
)
def test_help_and_score_load_no_heavy_library(argv: list[str], stdin: str, expected: str) -> None:
    result = _run(argv, stdin)
    assert result["code"] == 0
    assert expected in str(result["out"])
    assert result["loaded"] == []


def test_help_loads_no_instrument_and_score_no_pydantic() -> None:
    """``--help`` does not import the instruments, and running ``score`` does not import pydantic
    (Typer's parameter conversion; :mod:`clestudy.cli._coerce`)."""
    lazy = ["clestudy.instruments", "pydantic"]
    probe = PROBE.replace("heavy = json.loads(sys.argv[3])", f"heavy = {lazy!r}")
    for argv, stdin, loaded in (
        (["--help"], "", []),
        (["score", "--help"], "", []),
        (["score", "clasi", "-", "--json"], json.dumps(CLASI), ["clestudy.instruments"]),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, json.dumps(argv), stdin, "[]"],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        assert json.loads(done.stdout)["loaded"] == loaded, argv


def test_score_help_names_every_instrument() -> None:
    from clestudy.cli._score import INSTRUMENT_NAMES
    from clestudy.instruments import SCORE_INSTRUMENTS

    assert INSTRUMENT_NAMES == SCORE_INSTRUMENTS


def test_plain_parameters_convert_as_typer_does() -> None:
    """The pydantic-free converter gives what Typer's adapter gives, for every input kind."""
    from typer._click import Context
    from typer._coercion import build_runtime_param

    from clestudy.cli import _coerce, _command

    score = _command().commands["score"]  # type: ignore[attr-defined]
    params = {p.name: p for p in score.params}
    assert "PlainValue" in type(params["source"].get_runtime_param()).__name__
    plain_value = _coerce._plain_value_class()
    assert plain_value is not None
    ctx = Context(score)
    for name, values in (
        ("instrument", ["clasi", "", "é", b"clasi", b"caf\xc3\xa9"]),
        ("as_json", [True, False, "true", "0", " "]),
    ):
        param = params[name]
        for value in values:
            ours = plain_value(
                parameter_info=param.type_descriptor.parameter_info,
                annotation=param.type_descriptor.annotation,
            ).coerce(value, param=param, ctx=ctx)
            theirs = build_runtime_param(param.type_descriptor).coerce(value, param=param, ctx=ctx)
            assert (ours, type(ours)) == (theirs, type(theirs)), (name, value)


def test_a_stats_command_loads_what_it_needs_and_its_help_does_not() -> None:
    """The guard can fail: running a stats command does load pandas and SciPy."""
    assert _run(["stats", "check-summary", "--help"])["loaded"] == []
    summary = ["stats", "check-summary", "--n", "5", "--mean-before", "23", "--sd-before", "10.9"]
    summary += ["--mean-after", "11", "--sd-after", "7.4", "--p", "0.005", "--test", "paired-t"]
    result = _run([*summary, "--json"])
    assert result["code"] in (0, 1)  # consistent or not, the checks ran
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    assert {"pandas", "scipy"} <= set(loaded)
