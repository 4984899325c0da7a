"""What every chart of the report is drawn in: the ``<svg>`` element, the plotting frame with its axes.

Every chart is one ``<svg class="chart" data-chart="ID">`` element (inline in an HTML page, so without
an ``xmlns`` attribute: the page holds no web address at all) with a ``<title>`` (what a screen
reader says and a browser shows on hover), axes with ticks, and its data drawn as ``<path>``,
``<rect>`` and ``<circle>`` elements. Coordinates are in SVG user units (about CSS pixels); the page's
CSS sets the fonts and lets a chart shrink to the width of a narrow screen.

This module holds the parts the kinds of chart share: the palette, :class:`Frame` (the plotting area
and its mapping of data units to SVG units), round tick values, the axes, the legend. The charts
themselves: :mod:`needmap.report.line_charts`, :mod:`needmap.report.bar_charts`,
:mod:`needmap.report.histograms`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from needmap.report.text import esc, number

#: Series colours, in order: the first is the deep model's.
PALETTE: tuple[str, ...] = ("#1f5fbf", "#d9730d", "#2e8b57", "#8e44ad", "#c0392b", "#6b7b8c", "#b8860b")
#: The colour of guide lines: a diagonal, a reference level.
GUIDE = "#9aa5b1"
#: The colour of the axes.
AXIS = "#4a5560"


@dataclass
class Frame:
    """The plotting area and the mapping of data units to SVG units."""

    x0: float
    x1: float
    y0: float
    y1: float
    left: float
    top: float
    width: float
    height: float
    x_ticks: list[float] = field(default_factory=list)
    y_ticks: list[float] = field(default_factory=list)

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.width

    def py(self, y: float) -> float:
        return self.top + self.height - (y - self.y0) / (self.y1 - self.y0) * self.height


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """About ``count`` round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high];
    whole numbers only when ``integer`` (epochs, counts)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    n = round((stop - start) / step)
    return [round(start + i * step, 12) for i in range(n + 1)]


def open_svg(chart_id: str, title: str, width: float, height: float, extra_class: str = "") -> list[str]:
    """The opening ``<svg>`` tag of a chart and its ``<title>``; the chart appends its elements and ``</svg>``."""
    cls = f"chart {extra_class}".strip()
    return [
        f'<svg class="{cls}" data-chart="{esc(chart_id)}" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
    ]


def draw_axes(frame: Frame, x_label: str, y_label: str, x_format: str = "", y_format: str = "") -> list[str]:
    """Grid lines, tick labels and axis titles of a frame."""
    out = ['<g class="axes">']
    bottom, right = frame.top + frame.height, frame.left + frame.width
    for t in frame.y_ticks:
        y = frame.py(t)
        out.append(f'<line class="grid" x1="{frame.left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{frame.left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">')
        out.append(f"{esc(_tick_text(t, y_format))}</text>")
    for t in frame.x_ticks:
        x = frame.px(t)
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top:.1f}" y2="{bottom:.1f}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16:.1f}" text-anchor="middle">')
        out.append(f"{esc(_tick_text(t, x_format))}</text>")
    out.append(
        f'<path class="axis" d="M{frame.left:.1f},{frame.top:.1f} V{bottom:.1f} H{right:.1f}" '
        f'stroke="{AXIS}" fill="none"/>'
    )
    out.append(
        f'<text class="axis-title" x="{frame.left + frame.width / 2:.1f}" y="{bottom + 36:.1f}" '
        f'text-anchor="middle">{esc(x_label)}</text>'
    )
    cy = frame.top + frame.height / 2
    out.append(
        f'<text class="axis-title" x="14" y="{cy:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {cy:.1f})">{esc(y_label)}</text>'
    )
    out.append("</g>")
    return out


def _tick_text(value: float, fmt: str) -> str:
    if fmt == "%":
        return f"{value * 100:.0f}%"
    return number(value)


def draw_legend(names: list[tuple[str, str, bool]], left: float, top: float) -> list[str]:
    """A legend: one row per (name, colour, dashed), starting at (left, top)."""
    out = ['<g class="legend">']
    for i, (name, color, dashed) in enumerate(names):
        y = top + i * 18
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(
            f'<path d="M{left:.1f},{y:.1f} h18" stroke="{color}" stroke-width="2.5" fill="none"{dash}/>'
            f'<text x="{left + 24:.1f}" y="{y + 4:.1f}">{esc(clip_text(name, 80))}</text>'
        )
    out.append("</g>")
    return out


def clip_text(text: str, most: int) -> str:
    """``text`` shortened to ``most`` characters, its end replaced by "…" when cut (long labels, legend names)."""
    return text if len(text) <= most else text[: most - 1] + "…"
