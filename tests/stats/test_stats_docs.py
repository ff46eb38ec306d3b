"""The console examples in docs/statistics.md are run and must print exactly what the doc shows.

An example may end in ``$ echo $?`` and the exit status it shows (0 when absent)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from clestudy.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "statistics.md"
BLOCK = re.compile(r"```console\n\$ clestudy (?P<args>[^\n]*)\n(?P<output>.*?)```", re.DOTALL)
EXAMPLES = [(m["args"], m["output"]) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(("args", "output"), EXAMPLES, ids=[a[:60] for a, _ in EXAMPLES])
def test_console_example(
    args: str, output: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    output, _, status = output.partition("$ echo $?\n")
    assert main(shlex.split(args)) == int(status or 0)
    assert capsys.readouterr().out == output
