"""Line charts as inline SVG: several series over a shared x axis (ROC, precision-recall, gains, lift,
profit, calibration, training history), an optional diagonal or horizontal guide, markers, and a legend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from needmap.report.chart_frame import GUIDE, PALETTE, Frame, draw_axes, draw_legend, nice_ticks, open_svg
from needmap.report.text import esc, number


@dataclass
class Series:
    """One line of a line chart.

    Attributes:
        name: the legend's text.
        x, y: the points' coordinates in data units, ``[n]`` each (n >= 1); non-finite points are skipped.
        dashed: draw the line dashed (e.g. a reference or a second data set).
        points: also mark each point with a circle (e.g. calibration bins).
        color: a CSS colour; default: the palette's colour for the series' place.
    """

    name: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False
    points: bool = False
    color: str | None = None


@dataclass
class Marker:
    """A labelled point drawn over a line chart (e.g. the most profitable share)."""

    x: float
    y: float
    label: str
    color: str = "#111"


def _finite_points(series: Series) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for x, y in zip(series.x, series.y, strict=False)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool = False,
    hline: float | None = None,
    markers: Sequence[Marker] = (),
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    x_format: str = "",
    y_format: str = "",
    x_integer: bool = False,
    width: int = 720,
    height: int = 340,
) -> str:
    """An SVG line chart of ``series`` (at least one with a finite point).

    Args:
        chart_id: the ``data-chart`` attribute (e.g. "roc").
        title: the chart's ``<title>``.
        series: the lines, drawn in order (the first on the bottom), each in its colour.
        x_label, y_label: the axis titles.
        diagonal: draw the dashed line from (x0, y0) to (x1, y1) of the ranges (chance on a ROC or
            gains chart, perfect calibration).
        hline: draw a dashed horizontal line at this y (e.g. lift 1).
        markers: labelled points drawn on top.
        x_range, y_range: the axes' data ranges; default: the data's, widened to round ticks.
        x_format, y_format: "%" writes ticks as percentages of 1, "" as numbers.
        x_integer: ticks on whole numbers of x only (epochs).
        width, height: the size of the plot and its axes in SVG units; the legend, one row of 18 units
            per series, is added under it.
    Returns: the ``<svg>`` element as text.
    """
    points = [_finite_points(s) for s in series]
    xs = [x for p in points for x, _ in p] + [m.x for m in markers]
    ys = [y for p in points for _, y in p] + [m.y for m in markers] + ([hline] if hline is not None else [])
    if not xs:
        raise ValueError(f"the chart {chart_id!r} has no finite point to draw.")
    x_ticks = nice_ticks(*(x_range or (min(xs), max(xs))), integer=x_integer)
    y_ticks = nice_ticks(*(y_range or (min(ys), max(ys))))
    x0, x1 = x_range or (x_ticks[0], x_ticks[-1])
    y0, y1 = y_range or (y_ticks[0], y_ticks[-1])
    drawn = sum(1 for p in points if p)
    plot_height = height - 16 - 52
    height += 18 * drawn + 6  # the legend, one row per drawn series, under the x axis
    frame = Frame(x0, x1, y0, y1, left=62, top=16, width=width - 62 - 20, height=plot_height)
    frame.x_ticks = [t for t in x_ticks if x0 - 1e-9 <= t <= x1 + 1e-9]
    frame.y_ticks = [t for t in y_ticks if y0 - 1e-9 <= t <= y1 + 1e-9]
    out = open_svg(chart_id, title, width, height)
    out += draw_axes(frame, x_label, y_label, x_format, y_format)
    out.append('<g class="guides">')
    if diagonal:
        out.append(
            f'<path class="guide" d="M{frame.px(x0):.1f},{frame.py(y0):.1f} L{frame.px(x1):.1f},{frame.py(y1):.1f}" '
            f'stroke="{GUIDE}" stroke-dasharray="4 4" fill="none"/>'
        )
    if hline is not None:
        y = frame.py(hline)
        out.append(
            f'<path class="guide" d="M{frame.left:.1f},{y:.1f} H{frame.left + frame.width:.1f}" '
            f'stroke="{GUIDE}" stroke-dasharray="4 4" fill="none"/>'
        )
    out.append("</g>")
    legend: list[tuple[str, str, bool]] = []
    out.append('<g class="series">')
    for i, (s, pts) in enumerate(zip(series, points, strict=True)):
        if not pts:
            continue
        color = s.color or PALETTE[i % len(PALETTE)]
        legend.append((s.name, color, s.dashed))
        d = "M" + " L".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(
            f'<path class="line" data-series="{esc(s.name)}" d="{d}" stroke="{color}" stroke-width="2.2" '
            f'fill="none" stroke-linejoin="round"{dash}><title>{esc(s.name)}</title></path>'
        )
        if s.points or len(pts) == 1:
            out += [
                f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="3.5" fill="{color}">'
                f"<title>{esc(s.name)}: ({number(x)}, {number(y)})</title></circle>"
                for x, y in pts
            ]
    out.append("</g>")
    for m in markers:
        cx, cy = frame.px(m.x), frame.py(m.y)
        right = cx > frame.left + frame.width * 0.7  # the label goes left of a point near the right edge
        tx, anchor = (cx - 8, "end") if right else (cx + 8, "start")
        out.append(
            f'<g class="marker"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="none" stroke="{m.color}" '
            f'stroke-width="2"/><text x="{tx:.1f}" y="{cy - 8:.1f}" text-anchor="{anchor}">{esc(m.label)}</text></g>'
        )
    out += draw_legend(legend, frame.left, frame.top + frame.height + 58)
    out.append("</svg>")
    return "".join(out)
