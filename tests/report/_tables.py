"""Helpers of the report tests: the demo report's tables read back from its HTML."""

from __future__ import annotations

import statistics
from html.parser import HTMLParser

STUDIES = ("lenalidomide-cle-open-label", "pediatric-cle-chart-review")
Table = list[list[str]]
Tables = dict[str, dict[str, Table]]


class _Tables(HTMLParser):
    """The text of every table cell, by section id and by the table's ``<h3>`` heading."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, Table]] = {}
        self._section = ""
        self._heading: list[str] | None = None
        self._last_heading = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section = dict(attrs).get("id") or ""
            self.tables[self._section] = {}
        elif tag == "h3":
            self._heading = []
        elif tag == "table":
            self.tables[self._section][self._last_heading] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3" and self._heading is not None:
            self._last_heading = " ".join("".join(self._heading).split())
            self._heading = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._section][self._last_heading].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def read_tables(html: str) -> Tables:
    """Every table of a report, by section id and heading."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table(tables: dict[str, dict[str, Table]], study: str, heading: str) -> Table:
    found = [rows for title, rows in tables[study].items() if title.startswith(heading)]
    assert len(found) == 1, f"{study}: one table headed {heading!r}, found {list(tables[study])}"
    return found[0]


def summary(values: list[float], missing: int = 0) -> str:
    """Table 1's continuous cell computed by hand: mean (SD); median [Q1, Q3] (linear
    interpolation between order statistics, R type 7), and the number missing."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    text = (
        f"{statistics.fmean(values):.1f} ({statistics.stdev(values):.1f}); median {median:.1f} "
        f"[{q1:.1f}, {q3:.1f}]"
    )
    return text + (f"; missing {missing}" if missing else "")
