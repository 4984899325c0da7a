"""Charts as inline SVG text: no JavaScript, no fonts to fetch, nothing from the network.

Every chart is one ``<svg class="chart" data-chart="ID">`` element (inline in an HTML page, so without
an ``xmlns`` attribute: the page holds no web address at all) with a ``<title>`` (what a screen
reader says and a browser shows on hover), axes with ticks, and its data drawn as ``<path>``,
``<rect>`` and ``<circle>`` elements. Coordinates are in SVG user units (about CSS pixels); the page's
CSS sets the fonts and lets a chart shrink to the width of a narrow screen.

- :func:`line_chart`: several series over a shared x axis (ROC, precision-recall, gains, lift, profit,
  calibration, training history), optional diagonal and markers, and a legend;
- :func:`bar_chart`: horizontal bars, one per label (importance, missing shares), negative values
  drawn to the left of zero;
- :func:`histogram_pair`: two distributions over the same bins side by side (training rows vs new rows);
- :func:`spark_histogram`: a small histogram without axes for a table cell.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Series colours, in order: the first is the deep model's.
PALETTE: tuple[str, ...] = ("#1f5fbf", "#d9730d", "#2e8b57", "#8e44ad", "#c0392b", "#6b7b8c", "#b8860b")
GUIDE = "#9aa5b1"
AXIS = "#4a5560"


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


@dataclass
class _Frame:
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


def _svg_open(chart_id: str, title: str, width: float, height: float, extra_class: str = "") -> list[str]:
    cls = f"chart {extra_class}".strip()
    return [
        f'<svg class="{cls}" data-chart="{esc(chart_id)}" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
    ]


def _axes(frame: _Frame, x_label: str, y_label: str, x_format: str = "", y_format: str = "") -> list[str]:
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


def _finite_points(series: Series) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for x, y in zip(series.x, series.y, strict=False)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]


def _legend(names: list[tuple[str, str, bool]], left: float, top: float) -> list[str]:
    """A legend: one row per (name, colour, dashed), starting at (left, top)."""
    out = ['<g class="legend">']
    for i, (name, color, dashed) in enumerate(names):
        y = top + i * 18
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(
            f'<path d="M{left:.1f},{y:.1f} h18" stroke="{color}" stroke-width="2.5" fill="none"{dash}/>'
            f'<text x="{left + 24:.1f}" y="{y + 4:.1f}">{esc(_clip(name, 80))}</text>'
        )
    out.append("</g>")
    return out


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


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
    frame = _Frame(x0, x1, y0, y1, left=62, top=16, width=width - 62 - 20, height=plot_height)
    frame.x_ticks = [t for t in x_ticks if x0 - 1e-9 <= t <= x1 + 1e-9]
    frame.y_ticks = [t for t in y_ticks if y0 - 1e-9 <= t <= y1 + 1e-9]
    out = _svg_open(chart_id, title, width, height)
    out += _axes(frame, x_label, y_label, x_format, y_format)
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
    out += _legend(legend, frame.left, frame.top + frame.height + 58)
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x_label: str,
    x_format: str = "",
    width: int = 720,
    color: str = PALETTE[0],
) -> str:
    """A horizontal SVG bar chart: one bar per label, top to bottom in the order given.

    ``values`` ``[n]`` are in data units (shares with ``x_format="%"``); a negative value is drawn to
    the left of the zero line in a second colour. Labels longer than 28 characters are shortened
    (the whole label is the bar's tooltip). Height: 22 units per bar plus the axes.
    """
    if not labels or len(labels) != len(values):
        raise ValueError(f"the chart {chart_id!r} needs one value per label; got {len(labels)} and {len(values)}.")
    finite = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
    ticks = nice_ticks(min(0.0, *finite), max(0.0, *finite), 5)
    row = 22
    height = 16 + row * len(labels) + 48
    frame = _Frame(ticks[0], ticks[-1], 0, 1, left=200, top=16, width=width - 200 - 24, height=row * len(labels))
    frame.x_ticks = ticks
    out = _svg_open(chart_id, title, width, height)
    out += _axes(frame, x_label, "", x_format, "")
    zero = frame.px(0.0)
    out.append('<g class="bars">')
    for i, (label, value) in enumerate(zip(labels, finite, strict=True)):
        y = frame.top + i * row + 4
        x = min(zero, frame.px(value))
        w = abs(frame.px(value) - zero)
        fill = color if value >= 0 else PALETTE[4]
        shown = f"{value * 100:.1f}%" if x_format == "%" else number(value)
        out.append(
            f'<g class="bar"><title>{esc(label)}: {esc(shown)}</title>'
            f'<text class="label" x="{frame.left - 8:.1f}" y="{y + 11:.1f}" text-anchor="end">'
            f"{esc(_clip(str(label), 28))}</text>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{row - 8}" fill="{fill}"/>'
            f'<text class="value" x="{max(zero, frame.px(value)) + 4:.1f}" y="{y + 11:.1f}">{esc(shown)}</text></g>'
        )
    out.append("</g></svg>")
    return "".join(out)


def histogram_pair(
    chart_id: str,
    title: str,
    bins: Sequence[str],
    first: Sequence[float],
    second: Sequence[float],
    *,
    names: tuple[str, str] = ("training rows", "new rows"),
    y_label: str = "share of rows",
    width: int = 720,
    height: int = 300,
) -> str:
    """Two distributions over the same ``bins`` as side-by-side vertical bars (shares of 1, ``[b]`` each).

    Bin labels are written under the axis at an angle, every k-th one when there are many bins.
    """
    if not bins or not len(bins) == len(first) == len(second):
        raise ValueError(f"the chart {chart_id!r} needs one share per bin in each distribution.")
    top_value = max([*first, *second, 0.0])
    ticks = nice_ticks(0.0, top_value if top_value > 0 else 1.0, 4)
    legend_width = 150
    frame = _Frame(0, len(bins), ticks[0], ticks[-1], left=62, top=16, width=width - 62 - legend_width, height=0)
    frame.height = height - 16 - 90
    frame.y_ticks = ticks
    out = _svg_open(chart_id, title, width, height)
    out += _axes(frame, "", y_label, "", "%")
    slot = frame.width / len(bins)
    bar = max(slot * 0.4, 1.0)
    every = max(1, math.ceil(len(bins) / 24))
    out.append('<g class="bars">')
    for i, label in enumerate(bins):
        x = frame.left + i * slot + slot * 0.1
        for j, (share, color) in enumerate(((first[i], PALETTE[0]), (second[i], PALETTE[1]))):
            y = frame.py(share)
            h = frame.top + frame.height - y
            out.append(
                f'<rect x="{x + j * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{esc(label)}: {esc(names[j])} {share * 100:.1f}%</title></rect>"
            )
        if i % every == 0:
            lx, ly = frame.left + (i + 0.5) * slot, frame.top + frame.height + 10
            out.append(
                f'<text class="tick" x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" '
                f'transform="rotate(-40 {lx:.1f} {ly:.1f})">{esc(_clip(str(label), 16))}</text>'
            )
    out.append("</g>")
    out += _legend([(names[0], PALETTE[0], False), (names[1], PALETTE[1], False)], width - legend_width + 16, 24)
    out.append("</svg>")
    return "".join(out)


def spark_histogram(chart_id: str, title: str, counts: Sequence[int], *, width: int = 132, height: int = 30) -> str:
    """A small histogram without axes (for a table cell): one bar per count, heights relative to the largest."""
    if not counts:
        raise ValueError(f"the chart {chart_id!r} has no bins.")
    top = max(max(counts), 1)
    slot = width / len(counts)
    out = _svg_open(chart_id, title, width, height, "spark")
    for i, c in enumerate(counts):
        h = max((height - 2) * c / top, 1.0 if c else 0.0)
        out.append(
            f'<rect x="{i * slot + 0.5:.1f}" y="{height - h:.1f}" width="{max(slot - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"/>'
        )
    out.append("</svg>")
    return "".join(out)
