"""The SVG charts: well-formed, one drawn element per data item, sizes proportional to the values, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from needmap.report.bar_charts import bar_chart
from needmap.report.chart_frame import nice_ticks
from needmap.report.histograms import histogram_pair, spark_histogram
from needmap.report.line_charts import Marker, Series, line_chart
from needmap.report.text import number


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == "svg" and "chart" in root.get("class", "").split()
    assert "http" not in svg and "<script" not in svg
    return root


def _paths(root: ET.Element, cls: str) -> list[ET.Element]:
    return [p for p in root.iter("path") if p.get("class") == cls]


def test_line_chart_draws_each_series_with_legend_diagonal_and_markers() -> None:
    svg = line_chart(
        "roc",
        "ROC <curve>",
        [Series("deep", [0, 0.2, 1], [0, 0.7, 1]), Series("lr", [0, 0.5, 1], [0, 0.6, 1], dashed=True)],
        x_label="fpr",
        y_label="tpr",
        diagonal=True,
        markers=[Marker(0.2, 0.7, "best")],
        x_range=(0, 1),
        y_range=(0, 1),
    )
    root = _parse(svg)
    assert root.get("data-chart") == "roc" and root.find("title").text == "ROC <curve>"
    lines = _paths(root, "line")
    assert [p.get("data-series") for p in lines] == ["deep", "lr"]
    assert all(p.get("d").count("L") == 2 for p in lines)  # 3 points: M then 2 L
    assert lines[1].get("stroke-dasharray") and not lines[0].get("stroke-dasharray")
    assert len(_paths(root, "guide")) == 1
    legend = [t.text for t in root.iter("text") if t.text in ("deep", "lr")]
    assert legend == ["deep", "lr"]
    assert any(t.text == "best" for t in root.iter("text"))
    # y = 0.7 sits 70% of the way up the plotting area: between the y of 0 and the y of 1
    deep = [tuple(map(float, p.split(","))) for p in lines[0].get("d")[1:].split(" L")]
    (_, y_zero), (_, y_mid), (_, y_one) = deep
    assert (y_zero - y_mid) / (y_zero - y_one) == pytest.approx(0.7, abs=0.01)


def test_line_chart_skips_points_that_are_not_finite_and_refuses_no_data() -> None:
    svg = line_chart("lift", "lift", [Series("m", [0.1, 0.2, 0.3], [2.0, float("nan"), 1.5])], x_label="x", y_label="y")
    assert _paths(_parse(svg), "line")[0].get("d").count("L") == 1
    with pytest.raises(ValueError):
        line_chart("empty", "empty", [Series("m", [], [])], x_label="x", y_label="y")


def test_calibration_points_are_circles() -> None:
    svg = line_chart("calibration", "c", [Series("m", [0.1, 0.5], [0.2, 0.4], points=True)], x_label="p", y_label="o")
    assert len(list(_parse(svg).iter("circle"))) == 2


def test_bar_chart_widths_are_proportional_and_negative_bars_go_left() -> None:
    svg = bar_chart("importance", "importance", ["a", "b", "<b>x</b>"], [0.04, 0.02, -0.01], x_label="AUC drop")
    root = _parse(svg)
    rects = list(root.iter("rect"))
    assert len(rects) == 3
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.02) and widths[2] == pytest.approx(widths[1] / 2, rel=0.05)
    x = [float(r.get("x")) for r in rects]
    assert x[2] + widths[2] == pytest.approx(x[0], abs=0.2)  # the negative bar ends at zero, where the others start
    assert "&lt;b&gt;x&lt;/b&gt;" in svg and "<b>x</b>" not in svg
    with pytest.raises(ValueError):
        bar_chart("bad", "bad", ["a"], [1.0, 2.0], x_label="x")


def test_histogram_pair_draws_two_bars_per_bin() -> None:
    svg = histogram_pair(
        "drift-1", "age", ["< 20", "20 – 30", "> 30", "missing"], [0.1, 0.5, 0.4, 0.0], [0.2, 0.2, 0.6, 0.0]
    )
    rects = list(_parse(svg).iter("rect"))
    assert len(rects) == 8
    heights = [float(r.get("height")) for r in rects]
    assert heights[2] == pytest.approx(2.5 * heights[3], rel=0.02) and heights[6] == heights[7] == 0


def test_spark_histogram_and_ticks() -> None:
    rects = list(_parse(spark_histogram("hist-0", "h", [1, 4, 0, 2])).iter("rect"))
    assert [float(r.get("height")) for r in rects][1] == pytest.approx(28.0)
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(-0.013, 0.047)
    assert ticks[0] <= -0.013 and ticks[-1] >= 0.047 and len(ticks) <= 8
    assert number(0.81234) == "0.812" and number(None) == "–" and number(12345.0) == "12,345"
