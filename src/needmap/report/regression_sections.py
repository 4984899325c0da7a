"""The sections a regression target has in place of the binary charts: how far off the predictions are
(residuals), predicted against actual by decile (calibration), and the share of the total amount held by
the rows with the largest predictions (gains by predicted amount).

Each draws the models of the test rows' evaluation.json (:mod:`needmap.metrics.regression_curves` wrote
their points) and, when the report was given labelled data, the chosen model on it, dashed.
"""

from __future__ import annotations

import itertools
from typing import Any

from needmap.metrics.names import amount_text
from needmap.report.bar_charts import bar_chart
from needmap.report.chart_frame import PALETTE, nice_ticks
from needmap.report.content import NO_EVALUATION, ReportData, percent
from needmap.report.curve_sections import Document, task_documents
from needmap.report.html import Section, explain, facts, note, table
from needmap.report.line_charts import Series, line_chart
from needmap.report.text import esc

#: The top shares of rows the gains table lists.
GAINS_TOPS = (0.1, 0.2, 0.3, 0.5)


def _missing(data: ReportData, ident: str, heading: str, documents: list[Document], key: str) -> Section | None:
    """The one-line section when there is nothing to draw: no evaluation, or one written before these points."""
    if not data.evaluations and not data.data_evaluations:
        return Section(ident, heading, note(data.notes.get("curves", NO_EVALUATION)))
    if not any(model.get(key) for document, *_ in documents for model in (document.get("models") or {}).values()):
        return Section(
            ident, heading, note(f"the evaluation holds no {heading.lower()}: train the model again to get them")
        )
    return None


def _chosen(document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = document.get("primary") or next(iter(document.get("models") or {}), "")
    return name, (document.get("models") or {}).get(name) or {}


def _residual_bins(residuals: dict[str, Any]) -> tuple[list[str], list[float]]:
    edges, counts = residuals["edges"], residuals["counts"]
    total = max(sum(counts), 1)
    labels = [f"below {amount_text(edges[0])}"]
    labels += [f"{amount_text(low)} to {amount_text(high)}" for low, high in itertools.pairwise(edges)]
    labels.append(f"above {amount_text(edges[-1])}")
    return labels, [c / total for c in counts]


def residuals_section(data: ReportData) -> Section:
    """The chosen model's residuals (actual minus predicted) as a histogram, on the test rows and the data."""
    ident, heading = "residuals", "How far off the predictions are"
    documents = task_documents(data, "regression")
    missing = _missing(data, ident, heading, documents, "residuals")
    if missing:
        return missing
    parts = [
        explain(
            "Actual value minus prediction, row by row, in the target's units: bars right of zero are rows the model "
            "predicted too low, left of zero too high. A mean near zero means no overall bias."
        )
    ]
    for k, (document, suffix, _dashed, _target) in enumerate(documents, start=1):
        name, model = _chosen(document)
        residuals = model.get("residuals")
        if not residuals:
            continue
        labels, shares = _residual_bins(residuals)
        where = f"{name}{suffix}" + ("" if suffix else f" on {document.get('data') or 'the test rows'}")
        parts.append(f"<h3>{esc(where)}</h3>")
        parts.append(
            facts(
                [
                    ("mean (bias)", amount_text(residuals.get("mean"))),
                    ("median", amount_text(residuals.get("median"))),
                    (
                        "9 rows in 10 between",
                        f"{amount_text(residuals.get('p5'))} and {amount_text(residuals.get('p95'))}",
                    ),
                ]
            )
        )
        parts.append(
            bar_chart(
                f"residuals-{k}",
                f"residuals of {where}",
                labels,
                shares,
                x_label="share of rows",
                x_format="%",
            )
        )
    return Section(ident, heading, "".join(parts))


def _shared_range(series: list[Series]) -> tuple[float, float]:
    values = [float(v) for s in series for v in (*s.x, *s.y) if v is not None]
    ticks = nice_ticks(min(values), max(values))
    return ticks[0], ticks[-1]


def deciles_section(data: ReportData) -> Section:
    """Mean predicted against mean actual value in ten groups of rows by prediction, per model."""
    ident, heading = "deciles", "Predicted against actual, by decile"
    documents = task_documents(data, "regression")
    missing = _missing(data, ident, heading, documents, "deciles")
    if missing:
        return missing
    series, colors = [], {}
    for document, suffix, dashed, target in documents:
        for name, model in (document.get("models") or {}).items():
            deciles = model.get("deciles")
            if deciles:
                color = colors.setdefault((name, target), PALETTE[len(colors) % len(PALETTE)])
                series.append(
                    Series(
                        name + suffix, deciles["mean_predicted"], deciles["mean_actual"], dashed=dashed, points=True,
                        color=color,
                    )
                )  # fmt: skip
    span = _shared_range(series)
    chart = line_chart(
        ident, heading, series, x_label="mean predicted value", y_label="mean actual value", diagonal=True,
        x_range=span, y_range=span,
    )  # fmt: skip
    name, model = _chosen(documents[0][0])
    deciles = model.get("deciles") or {"mean_predicted": [], "mean_actual": [], "count": []}
    rows = [
        [f"{i}", f"{count:,}", amount_text(predicted), amount_text(actual)]
        for i, (predicted, actual, count) in enumerate(
            zip(deciles["mean_predicted"], deciles["mean_actual"], deciles["count"], strict=True), start=1
        )
    ]
    parts = [
        explain(
            "The rows sorted by prediction and cut into ten groups of equal size, lowest first: each group's mean "
            "prediction against its mean actual value. On the diagonal, the predictions are right on average; "
            "above it the model predicts too low for that group, below it too high."
        ),
        chart,
        explain(f"{name} on {documents[0][0].get('data') or 'the test rows'}, group by group:"),
        table(["decile", "rows", "mean predicted", "mean actual"], rows, numeric=(1, 2, 3)),
    ]
    return Section(ident, heading, "".join(parts))


def amount_gains_section(data: ReportData) -> Section:
    """Contacting the rows with the largest predictions first: the share of the total actual amount held."""
    ident, heading = "amount-gains", "Gains by predicted amount"
    documents = task_documents(data, "regression")
    missing = _missing(data, ident, heading, documents, "amount_gains")
    if missing:
        return missing
    series, colors, columns = [], {}, {}
    for document, suffix, dashed, target in documents:
        for name, model in (document.get("models") or {}).items():
            gains = model.get("amount_gains")
            if gains:
                color = colors.setdefault((name, target), PALETTE[len(colors) % len(PALETTE)])
                series.append(Series(name + suffix, gains["share"], gains["captured"], dashed=dashed, color=color))
                columns[name + suffix] = dict(zip(gains["share"], gains["captured"], strict=True))
    chart = line_chart(
        ident, heading, series, x_label="share of rows (largest prediction first)",
        y_label="share of the total amount", diagonal=True, x_range=(0.0, 1.0), y_range=(0.0, 1.0),
        x_format="%", y_format="%",
    )  # fmt: skip
    rows = []
    for top in GAINS_TOPS:
        rows.append([f"top {percent(top)}", *(percent(_at(points, top)) for points in columns.values())])
    return Section(
        ident,
        heading,
        "".join(
            [
                explain(
                    "Take the rows with the largest predictions first: the share of the total actual amount that the "
                    "top share of rows holds. The diagonal is taking rows at random; the higher the curve, the better "
                    "the model finds the large amounts."
                ),
                chart,
                table(
                    ["rows taken", *(f"amount held: {n}" for n in columns)], rows, numeric=range(1, len(columns) + 1)
                ),
            ]
        ),
    )


def _at(points: dict[float, float], share: float) -> float | None:
    """The captured share at the curve's share nearest ``share``."""
    if not points:
        return None
    nearest = min(points, key=lambda s: abs(s - share))
    return points[nearest]
