"""Shared pytest fixtures and paths, and the one rule for a test whose input file is missing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
#: ``../shared/fixtures`` beside the repository; CLESTUDY_FIXTURES points elsewhere (a git
#: worktree in another folder).
FIXTURES_DIR = Path(os.environ.get("CLESTUDY_FIXTURES") or REPO_ROOT.parent / "shared" / "fixtures")

# Every Hypothesis test runs the same examples on every run (style guide: fixed seeds, no
# retries). A test's own @settings(...) inherits it; tests/test_hygiene.py checks none turns it off.
settings.register_profile("clestudy", derandomize=True, database=None)
settings.load_profile("clestudy")


def missing_input(reason: str, *, required: str | None = None) -> NoReturn:
    """Skip the test, saying why its input is missing; fail it instead when ``required`` says
    why the input must be there (``CI=true`` with the shared fixtures present, or
    ``CLESTUDY_REQUIRE_REAL_FCS=1``). Every fixture-reading test goes through here."""
    if required:
        pytest.fail(f"{reason} ({required}, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing() -> Callable[..., NoReturn]:
    """:func:`missing_input`, for conftest files below this one."""
    return missing_input


def shared_fixture_path(relative: str) -> Path:
    """``../shared/fixtures/RELATIVE``, or the test skips (fails in CI where the folder exists)."""
    path = FIXTURES_DIR / relative
    if not path.exists():
        in_ci = os.environ.get("CI", "").lower() == "true" and FIXTURES_DIR.is_dir()
        missing_input(
            f"shared fixture {relative} not found at {path} (the fixtures live beside the "
            "repository)",
            required=f"CI=true and {FIXTURES_DIR} exists" if in_ci else None,
        )
    return path


@pytest.fixture(scope="session")
def shared_fixture() -> Callable[[str], Path]:
    """``shared_fixture("gatingml/data1.fcs")``: see :func:`shared_fixture_path`."""
    return shared_fixture_path
