"""Run the demo end to end: database, synthetic data, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clestudy.demo._chart_review import populate_chart_review
from clestudy.demo._open_label import populate_open_label
from clestudy.demo._users import DemoLogin, add_demo_users
from clestudy.errors import InputError
from clestudy.report import StudySection, write_report
from clestudy.store import Store, endpoint_table, open_store

__all__ = ["DEMO_SEED", "DemoResult", "run_demo"]

#: The fixed seed of the synthetic data (the seed paper's publication date, 2012-04).
DEMO_SEED = 201204


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its files, and what the report shows."""

    database: Path
    report: Path
    sections: list[StudySection]
    endpoint_csvs: tuple[Path, ...] = ()
    logins: tuple[DemoLogin, ...] = ()

    def summary(self) -> str:
        """One paragraph for the terminal."""
        parts = []
        for s in self.sections:
            primary = next((o for o in s.outcomes if o.get("role") == "primary"), None)
            text = f"{s.title} ({s.n_subjects} subjects"
            if primary is not None:
                text += (
                    f"; {primary['endpoint']} {primary['before']} → {primary['after']}, "
                    f"paired t p = {primary['p_t']}, exact Wilcoxon p = {primary['p_exact']}"
                )
            if s.responders:
                responders = sum(r["response"] == "responder" for r in s.responders)
                text += f"; {responders} of {len(s.responders)} CLASI responders"
            text += f"; {len(s.safety)} adverse event(s))"
            parts.append(text)
        return (
            "Synthetic demo study written through the audited store: "
            + "; ".join(parts)
            + ". Every value is invented (fixed seed); open the report to see Table 1, the "
            "prespecified paired analyses with exact and approximate p-values, and the figure."
        )


def run_demo(out_dir: Path, *, replace: bool = False) -> DemoResult:
    """Create the demo database and report in ``out_dir``.

    An existing demo database there is an error unless ``replace`` is true, in which case the
    previous demo's ``clestudy.db`` (with its WAL files) and ``report.html`` are removed first.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "clestudy.db"
    if database.exists():
        if not replace:
            raise InputError(
                f"{database} already exists; use --replace to regenerate the demo, or choose "
                "another --out directory"
            )
        for name in ("clestudy.db", "clestudy.db-wal", "clestudy.db-shm", "report.html"):
            (out_dir / name).unlink(missing_ok=True)
        for old in out_dir.glob("*-endpoints.csv"):
            old.unlink()
    url = f"sqlite:///{database}"
    rng = np.random.default_rng(DEMO_SEED)
    csvs = []
    with open_store(url, "lenalidomide-cle-open-label", actor="demo-generator") as store:
        populate_open_label(store, rng)
        csvs.append(_write_endpoints(store, out_dir / "open-label-endpoints.csv"))
    with open_store(url, "pediatric-cle-chart-review", actor="demo-generator") as store:
        populate_chart_review(store, rng)
        csvs.append(_write_endpoints(store, out_dir / "chart-review-endpoints.csv"))
    logins = add_demo_users(url, actor="demo-generator")
    report = out_dir / "report.html"
    sections = write_report(
        url, report, title="clestudy demo: lenalidomide in cutaneous lupus", synthetic=True
    )
    return DemoResult(
        database=database,
        report=report,
        sections=sections,
        endpoint_csvs=tuple(csvs),
        logins=logins,
    )


def _write_endpoints(store: Store, path: Path) -> Path:
    """The study's endpoints in long format (subject, visit, one column per endpoint), the input
    of ``clestudy stats paired --csv``, read from the store like the report's tables."""
    table = endpoint_table(store, [e.id for e in store.protocol.endpoints])
    table.to_csv(path, index=False)
    return path
