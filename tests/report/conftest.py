"""The demo study and its report (HTML and PDF), generated once for every report test."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.report._tables import Tables, read_tables

from clestudy.cli import main


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the demo's ``clestudy.db`` and ``report.html``."""
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> tuple[str, Tables]:
    """The demo database URL and the tables of its report."""
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    return f"sqlite:///{demo_dir / 'clestudy.db'}", read_tables(html)
