"""Shared pytest fixtures and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
FIXTURES_DIR = SHARED_DIR / "fixtures"


@pytest.fixture
def shared_fixtures() -> Path:
    """The read-only ``../shared/fixtures`` folder; skips the test, saying why, when it is absent."""
    if not FIXTURES_DIR.is_dir():
        pytest.skip(
            f"shared fixtures not found at {FIXTURES_DIR} (they live beside the repository)"
        )
    return FIXTURES_DIR
