"""The README and the architecture doc agree with the code: every command they show exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from clestudy.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _words(command: str) -> list[str]:
    """The command words and the ``--options`` of one documented command line."""
    words = []
    for token in command.split():
        if token.startswith("--"):
            words.append(token.split("=")[0])
        elif re.fullmatch(r"[a-z][a-z0-9-]*", token) and not any(w.startswith("-") for w in words):
            words.append(token)
    return words


def _alternatives(snippet: str) -> list[str]:
    """``protocol list|check`` -> ``protocol list``, ``protocol check`` (a word with ``|``)."""
    variants = [""]
    for token in snippet.split():
        choices = token.split("|") if re.fullmatch(r"[a-z-]+(\|[a-z-]+)+", token) else [token]
        variants = [f"{v} {c}".strip() for v in variants for c in choices]
    return variants


def _commands() -> list[tuple[str, list[str]]]:
    """`clestudy ...` in inline code, and lines starting with `clestudy` in code blocks."""
    found: list[tuple[str, list[str]]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        snippets = re.findall(r"`clestudy ([^`\n]+)`", text)
        # every fence is paired first, so a ```json block cannot shift the pairs after it
        for language, block in re.findall(r"(?ms)^```([a-z]*)\n(.*?)^```", text):
            if language in ("", "sh", "bash"):
                snippets += re.findall(r"(?m)^(?:.*\| )?clestudy (.+)$", block)
        for snippet in snippets:
            for variant in _alternatives(snippet.replace("…", " ")):
                if words := _words(variant):
                    found.append((doc.name, words))
    return found


COMMANDS = _commands()


def test_docs_show_commands() -> None:
    assert any(words[0] == "demo" for _, words in COMMANDS)
    assert any(words[:2] == ["audit", "verify"] for _, words in COMMANDS)


ROOT_COMMAND = typer.main.get_command(app)


# Typer 0.29 vendors Click (typer._click), so the tree is walked by duck typing: a group has
# ``commands``, an argument has ``param_type_name == "argument"``.


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _resolve(words: list[str]) -> tuple[Any, list[str], list[str]]:
    """Walk the command tree word by word: (command, its path, the remaining words)."""
    command: Any = ROOT_COMMAND
    path: list[str] = []
    rest = list(words)
    while rest and _is_group(command) and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            break
        command, path, rest = sub, [*path, rest[0]], rest[1:]
    return command, path, rest


def _leaf_commands(command: Any, path: tuple[str, ...] = ()) -> list[str]:
    if _is_group(command):
        return [
            c for name, sub in command.commands.items() for c in _leaf_commands(sub, (*path, name))
        ]
    return [" ".join(path)]


@pytest.mark.parametrize(("doc", "words"), COMMANDS, ids=lambda v: str(v))
def test_documented_command_exists(doc: str, words: list[str]) -> None:
    """Every word is a subcommand until a leaf; what follows a leaf is its arguments (only if it
    takes any) and options it really has. ``audit verfy`` or ``stats paired --mesure`` fail."""
    command, path, rest = _resolve(words)
    shown = f"{doc} shows `clestudy {' '.join(words)}`"
    if _is_group(command):  # a group on its own is a reference to it; a wrong word is a typo
        assert not rest or rest[0].startswith("-"), f"{shown}: '{rest[0]}' is not a subcommand of `clestudy {' '.join(path)}`"  # fmt: skip
    arguments = [w for w in rest if not w.startswith("--")]
    takes_arguments = any(p.param_type_name == "argument" for p in command.params)
    assert not arguments or takes_arguments, f"{shown}: `{' '.join(path)}` takes no argument {arguments}"  # fmt: skip
    options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    unknown = [w for w in rest if w.startswith("--") and w not in options]
    assert not unknown, f"{shown}: `{' '.join(path)}` has no option {unknown}"


def test_every_command_is_documented() -> None:
    """The reverse direction: each command of `clestudy --help` appears in the README or docs/."""
    documented = {" ".join(w for w in words if not w.startswith("-")) for _, words in COMMANDS}
    for leaf in _leaf_commands(ROOT_COMMAND):
        assert any(d == leaf or d.startswith(leaf + " ") for d in documented), (
            f"`clestudy {leaf}` is not shown in README.md or docs/*.md"
        )


def test_make_targets_in_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"(?m)^make (\w+)$", readme):
        assert re.search(rf"(?m)^{target}:", makefile), f"README shows make {target}"
    assert "make demo" in readme and "make test" in readme
