"""The README and the architecture doc agree with the code: every command they show exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clestudy.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _words(command: str) -> list[str]:
    words = []
    for token in command.split():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", token):
            break
        words.append(token)
    return words


def _commands() -> list[tuple[str, list[str]]]:
    """`clestudy ...` in inline code, and lines starting with `clestudy` in code blocks."""
    found: list[tuple[str, list[str]]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        snippets = re.findall(r"`clestudy ([^`\n]+)`", text)
        for block in re.findall(r"(?s)```(?:sh|bash)?\n(.*?)```", text):
            snippets += re.findall(r"(?m)^(?:.*\| )?clestudy (.+)$", block)
        for snippet in snippets:
            if words := _words(snippet.replace("…", " ")):
                found.append((doc.name, words))
    return found


COMMANDS = _commands()


def test_docs_show_commands() -> None:
    assert any(words[0] == "demo" for _, words in COMMANDS)
    assert any(words[:2] == ["audit", "verify"] for _, words in COMMANDS)


@pytest.mark.parametrize(("doc", "words"), COMMANDS, ids=lambda v: str(v))
def test_documented_command_exists(
    doc: str, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # drop trailing words that are arguments, not subcommands (e.g. an instrument name)
    for end in range(len(words), 0, -1):
        if main([*words[:end], "--help"]) == 0:
            capsys.readouterr()
            return
    pytest.fail(f"{doc} shows `clestudy {' '.join(words)}`, which the CLI does not have")


def test_make_targets_in_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"(?m)^make (\w+)$", readme):
        assert re.search(rf"(?m)^{target}:", makefile), f"README shows make {target}"
    assert "make demo" in readme and "make test" in readme
