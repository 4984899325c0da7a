"""Histograms as inline SVG: two distributions over the same bins side by side (training rows vs new
rows, :func:`histogram_pair`), and a small one without axes for a table cell (:func:`spark_histogram`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from needmap.report.chart_frame import PALETTE, Frame, clip_text, draw_axes, draw_legend, nice_ticks, open_svg
from needmap.report.text import esc


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
    frame = Frame(0, len(bins), ticks[0], ticks[-1], left=62, top=16, width=width - 62 - legend_width, height=0)
    frame.height = height - 16 - 90
    frame.y_ticks = ticks
    out = open_svg(chart_id, title, width, height)
    out += draw_axes(frame, "", y_label, "", "%")
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
                f'transform="rotate(-40 {lx:.1f} {ly:.1f})">{esc(clip_text(str(label), 16))}</text>'
            )
    out.append("</g>")
    out += draw_legend([(names[0], PALETTE[0], False), (names[1], PALETTE[1], False)], width - legend_width + 16, 24)
    out.append("</svg>")
    return "".join(out)


def spark_histogram(chart_id: str, title: str, counts: Sequence[int], *, width: int = 132, height: int = 30) -> str:
    """A small histogram without axes (for a table cell): one bar per count, heights relative to the largest."""
    if not counts:
        raise ValueError(f"the chart {chart_id!r} has no bins.")
    top = max(max(counts), 1)
    slot = width / len(counts)
    out = open_svg(chart_id, title, width, height, "spark")
    for i, c in enumerate(counts):
        h = max((height - 2) * c / top, 1.0 if c else 0.0)
        out.append(
            f'<rect x="{i * slot + 0.5:.1f}" y="{height - h:.1f}" width="{max(slot - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"/>'
        )
    out.append("</svg>")
    return "".join(out)
