"""Text on the report page: data escaped for HTML and SVG, and numbers as short labels.

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
    """A short label of a number: ``0.812``, ``1.2e+04``, ``12,345``; "–" for None or NaN."""
    if value is None or not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** -(digits + 1)):
        return f"{value:.{digits - 1}e}"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.{max(digits - 2, 0)}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text
