"""Architecture rules: the core never imports I/O frameworks or upper layers; __all__ is sorted."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "clestudy"
CORE = ("protocol", "instruments", "stats", "immuno", "randomization")
#: Storage, CLI, web, HTTP and presentation frameworks: the core computes, others show and store.
FORBIDDEN = (
    "alembic", "click", "fastapi", "httpx", "jinja2", "matplotlib", "psycopg", "rich",
    "sqlalchemy", "starlette", "typer", "uvicorn",
)  # fmt: skip
UPPER = ("clestudy.store", "clestudy.report", "clestudy.cli", "clestudy.demo", "clestudy.web")


def _module_name(path: Path) -> list[str]:
    parts = ["clestudy", *path.relative_to(SRC).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path, package: list[str] | None = None) -> set[str]:
    """Absolute names of every import, relative ones (``from ..store import x``) resolved
    against ``package`` (by default the package of ``path`` under ``src/clestudy``)."""
    names: set[str] = set()
    if package is None:
        package = _module_name(path) if path.name == "__init__.py" else _module_name(path)[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                names.add(".".join([*base, node.module]))
            else:
                names.update(".".join([*base, alias.name]) for alias in node.names)
    return names


CORE_MODULES = sorted(p for pkg in CORE for p in (SRC / pkg).rglob("*.py"))


def test_core_packages_exist() -> None:
    assert CORE_MODULES, "no core modules found"
    for package in ("protocol", "instruments", "stats"):
        assert (SRC / package / "__init__.py").is_file()


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_no_framework_or_upper_layer(path: Path) -> None:
    bad = sorted(
        name for name in _imports(path) if name.split(".")[0] in FORBIDDEN or name.startswith(UPPER)
    )
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}"


def test_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"  # as if it were a module of clestudy.stats
    sample.write_text(
        "import typer\nfrom sqlalchemy.orm import Session\nfrom . import _pairs\n"
        "from ..store import open_store\nfrom .. import report\n"
    )
    assert _imports(sample, ["clestudy", "stats"]) == {
        "typer",
        "sqlalchemy.orm",
        "clestudy.stats._pairs",
        "clestudy.store",
        "clestudy.report",
    }


#: Every package of clestudy (each folder with an ``__init__.py``) and the public modules.
PUBLIC = sorted(
    {".".join(_module_name(p)) for p in SRC.rglob("__init__.py") if "migrations" not in p.parts}
    | {"clestudy.errors"}
)


def test_every_package_is_checked() -> None:
    packages = {".".join(_module_name(p)) for p in SRC.rglob("__init__.py")}
    assert {"clestudy", "clestudy.cli", "clestudy.stats", "clestudy.immuno"} <= packages
    assert set(PUBLIC) >= {p for p in packages if ".migrations" not in p}


@pytest.mark.parametrize("module_name", PUBLIC)
def test_all_is_sorted_and_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"
