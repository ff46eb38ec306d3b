"""The methods paragraph and the reproducibility stamp of a report.

The methods paragraph is written from the analysis plan and from the methods the statistics
engine says it used (its ``method_*`` columns), never from a fixed text; the stamp names what the
report was made from: the clestudy version, each protocol's version and hash, a hash of the data
and the audit trail's head hash.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from clestudy import __version__
from clestudy.report._data import StudyData
from clestudy.report._study import StudySection

__all__ = ["data_hash", "methods_paragraphs", "protocol_hash", "stamp"]


def _json(obj: object) -> str:
    """Sorted-key compact JSON (floats as Python's shortest repr): the same object, the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_SOFTWARE = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib")


def _plain(obj: object) -> object:
    """Floats as their shortest repr text, as the audit trail keeps them (replayed data hash alike)."""
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def protocol_hash(data: StudyData) -> str:
    """SHA-256 of the protocol's canonical JSON."""
    text = _json(data.protocol.model_dump(mode="json"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_hash(data: StudyData) -> str:
    """SHA-256 of every record's key, status, values and derived scores, in a fixed order."""
    digest = hashlib.sha256()
    for record in sorted(data.records, key=lambda r: r.key):
        item = _plain([record.key, record.status, record.values, record.derived])
        digest.update(_json(item).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _software() -> str:
    parts = [f"Python {platform.python_version()}", f"clestudy {__version__}"]
    for name in _SOFTWARE:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:  # a package not installed is simply not named
            continue
    return ", ".join(parts)


def methods_paragraphs(sections: Sequence[StudySection]) -> list[str]:
    """One paragraph per study from its analysis plan and the tests that were run, and one on
    software."""
    out = []
    for section in sections:
        analysed = [o for o in section.outcomes if o["n"]]
        if not section.outcomes:
            out.append(f"{section.title}: the protocol prespecifies no paired comparison.")
            continue
        rules = sorted({str(o["rule"]) for o in section.outcomes})
        endpoints = ", ".join(f"{o['endpoint']} ({o['visits']}, {o['role']})"
                              for o in section.outcomes)  # fmt: skip
        text = (
            f"{section.title}: the analysis plan prespecifies {len(section.outcomes)} paired "
            f"comparison(s): {endpoints}, under the decision rule(s) {', '.join(rules)}. "
        )
        if analysed:
            text += (
                "For each, the paired t-test, the Wilcoxon signed-rank test with its exact p "
                "(all sign and rank assignments enumerated) and its normal approximation, the "
                "sign test and the Hodges-Lehmann estimate with its exact confidence interval "
                "were computed; all tests are two-sided. The methods used were: "
                + "; ".join(section.methods)
                + ". "
            )
        missing = len(section.outcomes) - len(analysed)
        if missing:
            text += f"{missing} comparison(s) could not be run (no values at one or both visits). "
        text += (
            "No adjustment for multiple comparisons was prespecified: each p-value is reported "
            "unadjusted, and only the primary endpoint's comparison is confirmatory."
        )
        if section.biomarkers:
            text += (
                " Responders and non-responders were compared on the change of each immune "
                "measurement with the two-sided Mann-Whitney U test (exact where the engine "
                "states so), exploratory and unadjusted."
            )
        out.append(text)
    out.append(f"Software: {_software()}.")
    return out


def stamp(
    items: Sequence[tuple[StudyData, str]], *, audit_head: str, generated_at: str, as_of: str
) -> list[tuple[str, str]]:
    """The reproducibility stamp as (label, value) rows.

    ``as_of`` is the time of the newest audit event the report includes (the data cut-off).
    """
    rows = [("clestudy version", __version__)]
    for data, _title in items:
        rows.append((f"Protocol {data.protocol.id}", f"version {data.protocol.version}, "
                     f"sha256 {protocol_hash(data)}"))  # fmt: skip
        rows.append((f"Data {data.protocol.id}", f"{len(data.records)} records, "
                     f"sha256 {data_hash(data)}"))  # fmt: skip
    rows.append(("Audit trail head", audit_head))
    rows.append(("Data as of (newest audit event)", as_of))
    rows.append(("Generated", generated_at))
    return rows
