"""The PDF report of the demo: rendered pages are not blank, and its text has every section."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from PIL import Image, ImageStat
from pypdf import PdfReader

from clestudy.report import write_report
from clestudy.report._pdf import write_pdf

SECTION_TITLES = (
    "Disposition",
    "Table 1. Baseline characteristics",
    "Table 2. Prespecified paired comparisons",
    "Outcomes by visit",
    "Immune profile by response",
    "Safety: subjects by term and worst CTCAE grade",
    "Safety: subjects by term and relationship to study drug",
    "Safety: serious adverse events",
    "Safety: adverse events leading to a change of study drug",
    "Safety: lab toxicity shift table",
    "Steroid-dose course",
    "Adverse events",
    "Systemic flare",
    "Open discrepancies",
    "Methods",
    "Reproducibility",
)


@pytest.fixture(scope="module")
def pdf(demo_dir: Path) -> Path:
    out = demo_dir / "report-pdf.html"
    write_report(f"sqlite:///{demo_dir / 'clestudy.db'}", out, synthetic=True,
                 pdf=demo_dir / "report.pdf")  # fmt: skip
    return demo_dir / "report.pdf"


def _pages(path: Path) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(path).pages]


def test_pdf_text_has_contents_page_numbers_and_every_section(pdf: Path) -> None:
    pages = _pages(pdf)
    assert len(pages) >= 10
    first = pages[0]
    assert "Contents" in first
    # the table of contents gives each study's page, and that page starts the study
    for title, page in re.findall(r"(Lenalidomide[^.]+?) \.{3,} (\d+)", first):
        assert title[:40] in pages[int(page) - 1], title
    assert len(re.findall(r"\.{3,} \d+", first)) == 4  # two studies, methods, reproducibility
    text = " ".join(pages)
    for title in SECTION_TITLES:
        assert title in text, title
    assert all(f"Page {i} of {len(pages)}" in page for i, page in enumerate(pages, 1))


def test_a_long_table_repeats_its_header_on_the_next_page(tmp_path: Path) -> None:
    rows = "".join(f"<tr><td>row {i}</td><td>{i}</td></tr>" for i in range(150))
    html = (
        "<html><head><style>thead { display: table-header-group; }</style></head><body>"
        f"<table><thead><tr><th>Subject header</th><th>n</th></tr></thead><tbody>{rows}"
        "</tbody></table></body></html>"
    )
    pages = _pages(write_pdf(html, tmp_path / "long.pdf"))
    assert len(pages) >= 2
    assert all(page.startswith("Subject header n") for page in pages)


def _not_blank(png: Path) -> float:
    """The share of pixels that are not white."""
    image = Image.open(png).convert("L")
    dark = image.point(lambda v: 255 if v < 245 else 0)
    return float(ImageStat.Stat(dark).mean[0]) / 255


def test_page_one_and_a_figure_page_render_not_blank(
    pdf: Path, tmp_path: Path, missing: Callable[..., NoReturn]
) -> None:
    if shutil.which("pdftoppm") is None:
        reason = "pdftoppm (Debian poppler-utils) is not installed"
        print(f"SKIPPED: {reason}")
        in_ci = os.environ.get("CI", "").lower() == "true"
        missing(
            reason, required="CI=true: make .venv/.installed-test installs it" if in_ci else None
        )
    pages = _pages(pdf)
    figure = next(i for i, page in enumerate(pages, 1) if "Figure. CLASI activity" in page)
    for number in (1, figure):
        prefix = tmp_path / f"page{number}"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "40", "-f", str(number), "-l", str(number), str(pdf),
             str(prefix)],
            check=True,
        )  # fmt: skip
        (png,) = tmp_path.glob(f"page{number}*.png")
        assert _not_blank(png) > 0.01, number
