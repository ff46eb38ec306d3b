"""Fixtures of the interop tests: a populated demo database and the shared REDCap/ODM fixtures.

The shared fixtures live beside the repository (``../shared/fixtures``); ``CLESTUDY_FIXTURES`` may
point elsewhere. Without them a test skips, saying why, except under CI (``CI=true``), where a
missing fixture folder fails the test: CI must never pass by skipping the round trips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from clestudy.demo import DEMO_SEED
from clestudy.demo._chart_review import populate_chart_review
from clestudy.demo._open_label import populate_open_label
from clestudy.store import Store, open_store

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
STUDIES = ("lenalidomide-cle-open-label", "pediatric-cle-chart-review")


@pytest.fixture
def fixtures() -> Path:
    """The shared fixtures folder (skips, or fails under CI, when it is absent)."""
    folder = Path(os.environ.get("CLESTUDY_FIXTURES", DEFAULT_FIXTURES))
    if not folder.is_dir():
        reason = f"shared fixtures not found at {folder} (they live beside the repository)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database holding both demo studies, written through the store (read-only use)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    rng = np.random.default_rng(DEMO_SEED)
    with open_store(url, STUDIES[0], actor="demo-generator") as store:
        populate_open_label(store, rng)
    with open_store(url, STUDIES[1], actor="demo-generator") as store:
        populate_chart_review(store, rng)
    return url


@pytest.fixture(params=STUDIES)
def demo_store(request: pytest.FixtureRequest, demo_url: str) -> Iterator[Store]:
    """Each demo study in turn, opened on the shared demo database."""
    with open_store(demo_url, request.param) as store:
        yield store
