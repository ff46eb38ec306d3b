"""What the browser tests share: finding Debian's chromium and axe-core, screenshots, axe checks.

Playwright (PyPI) drives the system's chromium through ``executable_path``; nothing here ever runs
``playwright install`` (it downloads a browser build, which this project never does). axe-core
comes from the npm registry (``package.json``) and is injected into each page checked.

The accessibility rule is axe-core's own impact scale: a page kind fails on any violation of
impact ``serious`` or ``critical`` (Deque, axe-core rule descriptions,
https://github.com/dequelabs/axe-core/blob/develop/doc/rule-descriptions.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parents[3]
#: axe-core as installed by ``npm ci`` (a devDependency in ``package.json``; ``make test``).
AXE_SCRIPT = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts that fail a page (axe-core's scale: minor < moderate < serious < critical).
FAILING_IMPACTS = ("serious", "critical")


PASSWORD = "browser-test-passphrase-2026"
#: username -> (role, sites). ``coord_b`` works on site02 only; ``coord_gone`` is suspended by a
#: test. Every other user is on site01 (admin, monitor and statistician on both sites).
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("admin", ("site01", "site02")),
    "inv_a": ("investigator", ("site01",)),
    "coord_a": ("coordinator", ("site01",)),
    "coord_b": ("coordinator", ("site02",)),
    "coord_gone": ("coordinator", ("site01",)),
    "monitor": ("monitor", ("site01", "site02")),
    "stat": ("statistician", ("site01", "site02")),
}
#: Subjects enrolled before the tests, by site; a test that enrols one through the page uses
#: an id not listed here.
SUBJECTS = {
    "site01": ("A-01", "A-02", "A-03", "A-04", "A-05", "A-06"),
    "site02": ("B-01",),
}


@dataclass(frozen=True)
class Served:
    """The running app: its base URL and its database URL."""

    base_url: str
    db_url: str

    def url(self, path: str) -> str:
        return self.base_url + path


def in_ci() -> bool:
    """``CI=true``: a missing browser or axe-core is a failure there, never a skip."""
    return os.environ.get("CI", "").lower() == "true"


def find_chromium() -> Path | None:
    """Debian's chromium: ``CLESTUDY_CHROMIUM`` if set, else ``chromium`` on PATH, else
    ``/usr/bin/chromium``; ``None`` when there is none."""
    configured = os.environ.get("CLESTUDY_CHROMIUM")
    candidates = [configured] if configured else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def artifacts_dir() -> Path:
    """``$CLESTUDY_ARTIFACTS/browser`` (default ``build/test-artifacts/browser``), created."""
    base = Path(os.environ.get("CLESTUDY_ARTIFACTS") or REPO_ROOT / "build" / "test-artifacts")
    folder = base / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class AxeViolation:
    """One axe-core violation: rule id, impact, help text and the offending nodes' selectors."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.impact}: {self.rule} ({self.help}) at {', '.join(self.targets)}"


def axe_violations(page: Page) -> list[AxeViolation]:
    """Inject axe-core into ``page`` and return every violation axe reports, of any impact."""
    page.add_script_tag(path=str(AXE_SCRIPT))
    raw: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        AxeViolation(
            rule=str(v["id"]),
            impact=str(v.get("impact") or "minor"),
            help=str(v["help"]),
            targets=tuple(json.dumps(n["target"]) for n in v["nodes"]),
        )
        for v in raw
    ]


@dataclass
class PageChecker:
    """Screenshots each page kind once into the artifact folder and runs axe-core over it.

    ``check(page, "form")`` writes ``form.png`` the first time that kind is seen and fails the
    test on any serious or critical violation, printing every violation found.
    """

    folder: Path
    seen: dict[str, Path] = field(default_factory=dict)

    def check(self, page: Page, kind: str) -> list[AxeViolation]:
        if not re.fullmatch(r"[a-z0-9_-]+", kind):
            raise ValueError(f"page kind {kind!r}: use lower-case letters, digits, '-' and '_'")
        page.wait_for_load_state("networkidle")
        if kind not in self.seen:
            path = self.folder / f"{kind}.png"
            page.screenshot(path=str(path), full_page=True)
            self.seen[kind] = path
        violations = axe_violations(page)
        for v in violations:
            print(f"axe [{kind}] {page.url}: {v.describe()}")
        failing = [v for v in violations if v.impact in FAILING_IMPACTS]
        assert not failing, (
            f"axe-core: {len(failing)} serious/critical violation(s) on {kind}: "
            + ("; ".join(v.describe() for v in failing))
        )
        return violations
