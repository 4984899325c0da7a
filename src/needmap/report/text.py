"""Text on the report page: data escaped for HTML and SVG, and numbers as short labels (metrics are written
by :func:`needmap.metrics.names.metric_text`).

Every piece of text from data (column names, values, file names) goes through :func:`esc`; charts,
tables and section headings write numbers with :func:`number`.
"""

from __future__ import annotations

import html
import math


def esc(text: object) -> str:
    """``text`` as HTML/SVG text, with ``& < > " '`` escaped."""
    return html.escape(str(text), quote=True)


def number(value: float | None, digits: int = 3) -> str:
    """A short label of a number, in fixed point with thousands separators: ``0.812``, ``-0.000412``,
    ``99.1``, ``12,345``, ``1,234,567``; "–" for None or NaN.

    ``digits`` significant digits below 1 (so that a small value, positive or negative, never reads as
    0), ``digits`` decimals below 10 and one decimal below 1,000, no decimals above (trailing zeros
    dropped); scientific notation only beyond 10^15, where no reader counts digits.
    """
    if value is None or not math.isfinite(value):
        return "–"
    size = abs(value)
    if size >= 1e15:
        return f"{value:.{digits - 1}e}"
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        decimals = max(digits - 2, 0)
    elif size >= 1 or value == 0:
        decimals = digits
    else:
        decimals = min(digits - 1 - math.floor(math.log10(size)), 12)
    text = f"{value:.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "0") else text
