"""Number formatting for reports: rounding happens here, never in the library."""

from __future__ import annotations

import math

__all__ = ["fmt_num", "fmt_p", "fmt_pct"]


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_num(x: object, digits: int = 1) -> str:
    """A number with ``digits`` decimals; an em dash when missing.

    >>> fmt_num(23.0), fmt_num(10.954, 2), fmt_num(float("nan"))
    ('23.0', '10.95', '—')
    """
    if _missing(x):
        return "—"
    return f"{float(x):.{digits}f}"  # type: ignore[arg-type]


def fmt_p(p: object) -> str:
    """A p-value: 4 decimals, or ``<0.0001``; an em dash when missing.

    >>> fmt_p(0.0625), fmt_p(0.043114), fmt_p(3e-7)
    ('0.0625', '0.0431', '<0.0001')
    """
    if _missing(p):
        return "—"
    value = float(p)  # type: ignore[arg-type]
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def fmt_pct(x: object) -> str:
    """A percentage to at most two decimals, without trailing zeros.

    Exact confidence levels are shown as they are (15/16 is 93.75 %, not a rounded 93.8 %).

    >>> fmt_pct(0.9375), fmt_pct(0.95), fmt_pct(0.9609375)
    ('93.75 %', '95 %', '96.09 %')
    """
    if _missing(x):
        return "—"
    text = f"{100 * float(x):.2f}".rstrip("0").rstrip(".")  # type: ignore[arg-type]
    return f"{text} %"
