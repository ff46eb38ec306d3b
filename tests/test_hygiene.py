"""Counts of test hazards that can be found mechanically, each held at zero.

The style guide's rules for tests (fixed seeds, no silent skips, no test that checks a value
against itself) are checked over the source here, so a new test cannot quietly break them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
#: Where a test may skip: the one helper for a missing input (it fails in CI), the PostgreSQL
#: lane's switch, and a statement one backend does not have (TRUNCATE on SQLite).
SKIP_ALLOWED = {"tests/conftest.py", "tests/store/conftest.py", "tests/store/test_audit_engine.py"}


def _python_files() -> Iterator[tuple[str, ast.Module]]:
    for folder in ("src", "tests", "benchmarks", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _calls(tree: ast.Module) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _name(func: ast.expr) -> str:
    """``pytest.skip`` for ``pytest.skip(...)``, ``settings`` for ``settings(...)``."""
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def test_hypothesis_runs_derandomized_by_default() -> None:
    # tests/conftest.py loads this profile before any test module is imported
    default = settings.default
    assert default is not None
    assert default.derandomize is True
    assert default.database is None


def test_no_settings_turn_derandomize_off() -> None:
    found = [
        f"{path}:{call.lineno}"
        for path, tree in _python_files()
        for call in _calls(tree)
        if _name(call.func).endswith("settings")
        for kw in call.keywords
        if kw.arg == "derandomize"
        and not (isinstance(kw.value, ast.Constant) and kw.value.value is True)
    ]
    assert found == []


def test_no_skip_outside_the_missing_input_helper() -> None:
    skips = {"pytest.skip", "pytest.importorskip", "pytest.mark.skip", "pytest.mark.skipif"}
    found = [
        f"{path}:{node.lineno}"
        for path, tree in _python_files()
        if path not in SKIP_ALLOWED
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and _name(node) in skips
    ]
    assert found == []


def test_no_value_is_compared_with_itself() -> None:
    found = [
        f"{path}:{node.lineno}"
        for path, tree in _python_files()
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(
            ast.dump(left) == ast.dump(right)
            for left, right in zip([node.left, *node.comparators], node.comparators, strict=False)
        )
    ]
    assert found == []


def test_every_test_function_asserts_or_expects_an_error() -> None:
    """A ``test_*`` function holds an ``assert``, a ``pytest.raises``/``warns`` or a call of a
    helper whose name says it checks (``check_``, ``assert_``, ``_check``) or that asserts."""
    checks = ("assert", "check", "raises", "warns", "fail")
    found = []
    for path, tree in _python_files():
        if not path.startswith("tests/"):
            continue
        helpers = {  # functions of the module that assert, such as a fuzz test's run_cli
            f.name
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef)
            and any(isinstance(n, ast.Assert) for n in ast.walk(f))
        }
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef) or not func.name.startswith("test_"):
                continue
            asserts = any(isinstance(n, ast.Assert) for n in ast.walk(func))
            called = {_name(c.func).rsplit(".", 1)[-1] for c in _calls(ast.Module([func], []))}
            if asserts or called & helpers:
                continue
            if not any(word in name for name in called for word in checks):
                found.append(f"{path}:{func.lineno} {func.name}")
    assert found == []


def test_sources_and_docs_cite_only_what_the_repository_holds() -> None:
    """No pointer to files beside the repository (``../shared/...``) or to this project's
    issue tracker ("issue 3"): a user of the package has neither; docs/references.md has the
    sources."""
    outside = re.compile(r"shared/reference|\.\./shared|\b[Ii]ssues? #?\d+")
    found = [
        f"{path.relative_to(REPO).as_posix()}:{number}: {line.strip()}"
        for folder in ("src", "docs")
        for path in sorted((REPO / folder).rglob("*"))
        if path.is_file() and path.suffix in {".py", ".md", ".yaml", ".yml", ".xml", ".j2", ".html"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []


def test_every_reference_has_a_doi_or_an_address() -> None:
    text = (REPO / "docs" / "references.md").read_text(encoding="utf-8")
    entries = re.split(r"\n- \*\*\[", text)[1:]
    assert len(entries) >= 8
    for entry in entries:
        label = entry.split("]", 1)[0]
        assert re.search(r"doi:10\.|https://|no DOI|Derivation", entry), label


_CONFLICT = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


def test_no_merge_conflict_markers_are_committed() -> None:
    # a half-resolved merge once left `<<<<<<< HEAD` in two guides; reST tables use "=" rows,
    # so only the unambiguous opening and closing markers are searched for
    suffixes = {".py", ".md", ".html", ".css", ".js", ".yaml", ".toml", ".cfg", ".txt"}
    found = [
        path.relative_to(REPO).as_posix()
        for folder in ("src", "tests", "docs", "benchmarks", "scripts", ".ci")
        for path in sorted((REPO / folder).rglob("*"))
        if path.is_file()
        and path.suffix in suffixes
        and "vendor" not in path.parts
        and _CONFLICT.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    found += [
        n
        for n in ("README.md", "Makefile", "pyproject.toml")
        if _CONFLICT.search((REPO / n).read_text(encoding="utf-8"))
    ]
    assert found == []
