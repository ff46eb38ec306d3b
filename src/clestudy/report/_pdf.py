"""The report as PDF, rendered from the same HTML by WeasyPrint.

Why WeasyPrint and not Typst: WeasyPrint lays out the very HTML document the report already is
(one template, one source of truth), draws the inline SVG figures as vectors, and implements the
CSS Paged Media features a report needs: ``@page`` margin boxes with ``counter(page)`` for page
numbers, ``target-counter()`` for a table of contents with page numbers, table headers repeated on
every page a table breaks across (``thead`` is a ``table-header-group``), and ``page-break-*``
control. Typst (self-contained, a smaller install) would need a second template of every table and
figure in its own markup, kept in step with the HTML by hand. WeasyPrint is BSD-3-Clause and pure
Python; it needs the Pango library, which Debian packages (``libpango-1.0-0``,
``libpangoft2-1.0-0``) and the Makefile installs when missing.

References
----------
WeasyPrint documentation, "Tutorial" and "API Reference", https://doc.courtbouillon.org/weasyprint/
W3C, CSS Paged Media Module Level 3 and CSS Generated Content for Paged Media.
"""

from __future__ import annotations

from pathlib import Path

from clestudy.errors import InputError

__all__ = ["write_pdf"]


def write_pdf(html: str, out: Path) -> Path:
    """Render the report's HTML to the PDF file ``out``.

    Raises
    ------
    InputError
        When WeasyPrint or the Pango library it needs is not installed (naming what to install).
    """
    try:
        import weasyprint
    except (ImportError, OSError) as error:  # OSError: WeasyPrint present, Pango missing
        raise InputError(
            "PDF output needs WeasyPrint and the Pango library: pip install 'clestudy[report]' "
            "and, on Debian, apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
            f"({type(error).__name__}: {error})"
        ) from None
    document = weasyprint.HTML(string=html, base_url=str(out.parent))
    document.write_pdf(out)
    return out
