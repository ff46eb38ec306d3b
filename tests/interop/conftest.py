"""Fixtures of the interop tests: a populated demo database and the shared REDCap/ODM fixtures.

The shared fixtures live beside the repository; ``CLESTUDY_FIXTURES`` may point elsewhere.
Without them a test skips, saying why, except under CI (``CI=true``), where a missing fixture
fails the test (one rule for every test: ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from clestudy.demo import DEMO_SEED
from clestudy.demo._chart_review import populate_chart_review
from clestudy.demo._open_label import populate_open_label
from clestudy.store import Store, open_store

STUDIES = ("lenalidomide-cle-open-label", "pediatric-cle-chart-review")


@pytest.fixture(scope="session")
def fixtures(shared_fixture: Callable[[str], Path]) -> Path:
    """The shared fixtures folder with its ``redcap`` and ``odm`` suites (skips, or fails under
    CI, when they are absent: ``tests/conftest.py``)."""
    shared_fixture("odm")
    return shared_fixture("redcap").parent


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
