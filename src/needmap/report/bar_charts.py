"""Bar charts as inline SVG: horizontal bars, one per label (importance, missing shares), negative values
drawn to the left of zero."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from needmap.report.chart_frame import PALETTE, Frame, clip_text, draw_axes, nice_ticks, open_svg
from needmap.report.text import esc, number


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x_label: str,
    x_format: str = "",
    value_text: Callable[[float], str] | None = None,
    width: int = 720,
    color: str = PALETTE[0],
) -> str:
    """A horizontal SVG bar chart: one bar per label, top to bottom in the order given.

    ``values`` ``[n]`` are in data units (shares with ``x_format="%"``); a negative value is drawn to
    the left of the zero line in a second colour, its value with its sign. ``value_text`` writes the value
    beside each bar (default: a percentage with ``x_format="%"``, else :func:`number`). Labels longer than
    28 characters are shortened (the whole label is the bar's tooltip). Height: 22 units per bar plus the axes.
    """
    if not labels or len(labels) != len(values):
        raise ValueError(f"the chart {chart_id!r} needs one value per label; got {len(labels)} and {len(values)}.")
    finite = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
    ticks = nice_ticks(min(0.0, *finite), max(0.0, *finite), 5)
    row = 22
    height = 16 + row * len(labels) + 48
    frame = Frame(ticks[0], ticks[-1], 0, 1, left=200, top=16, width=width - 200 - 24, height=row * len(labels))
    frame.x_ticks = ticks
    out = open_svg(chart_id, title, width, height)
    out += draw_axes(frame, x_label, "", x_format, "")
    zero = frame.px(0.0)
    out.append('<g class="bars">')
    for i, (label, value) in enumerate(zip(labels, finite, strict=True)):
        y = frame.top + i * row + 4
        x = min(zero, frame.px(value))
        w = abs(frame.px(value) - zero)
        fill = color if value >= 0 else PALETTE[4]
        shown = value_text(value) if value_text else f"{value * 100:.1f}%" if x_format == "%" else number(value)
        out.append(
            f'<g class="bar"><title>{esc(label)}: {esc(shown)}</title>'
            f'<text class="label" x="{frame.left - 8:.1f}" y="{y + 11:.1f}" text-anchor="end">'
            f"{esc(clip_text(str(label), 28))}</text>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{row - 8}" fill="{fill}"/>'
            f'<text class="value" x="{max(zero, frame.px(value)) + 4:.1f}" y="{y + 11:.1f}">{esc(shown)}</text></g>'
        )
    out.append("</g></svg>")
    return "".join(out)
