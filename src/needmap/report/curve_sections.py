"""The evaluation chart sections: ROC, precision-recall, calibration, gains, lift and profit.

Each draws every model of the test rows' evaluation.json (the deep model and the baselines) and, when
the report was given labelled data, the deep model on it as a dashed line of the same colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from needmap.metrics.names import metric_text
from needmap.report.chart_frame import PALETTE
from needmap.report.content import NO_EVALUATION, ReportData, percent, target_label
from needmap.report.html import Section, explain, note, table
from needmap.report.line_charts import Marker, Series, line_chart
from needmap.report.text import number


# -- curves --------------------------------------------------------------------------------------------
@dataclass
class _Curve:
    """One evaluation chart: its section id and heading, the evaluation.json key and the point keys it
    draws, the axis titles, how to read it, a diagonal, and whether x is a share (ticks in %)."""

    ident: str
    heading: str
    key: str
    x: str
    y: str
    x_label: str
    y_label: str
    text: str
    diagonal: bool = False
    percent: bool = False


CURVES = (
    _Curve(
        "roc", "ROC curve", "roc", "fpr", "tpr", "false positive rate", "true positive rate",
        "Share of positives found (true positive rate) against share of negatives flagged, as the score "
        "threshold falls. The diagonal is a random score; higher and further left is better.",
        diagonal=True,
    ),
    _Curve(
        "pr", "Precision and recall", "pr", "recall", "precision", "recall", "precision",
        "Precision (positives among the flagged rows) against recall (share of all positives flagged). The "
        "dashed line is the positive rate: what a random score gets.",
    ),
    _Curve(
        "calibration", "Calibration", "calibration", "mean_predicted", "observed", "mean predicted probability",
        "observed positive rate",
        "Rows in 10 bins of predicted probability: the mean prediction against the share of positives. On the "
        "diagonal, a score of 0.3 means 3 in 10 such customers respond.",
        diagonal=True,
    ),
    _Curve(
        "gains", "Cumulative gains", "gains", "share", "captured", "share of rows contacted (by score)",
        "share of positives captured",
        "Contact the top share of rows by score: the share of all positives they hold. The diagonal is "
        "contacting at random.",
        diagonal=True, percent=True,
    ),
    _Curve(
        "lift", "Lift", "lift", "share", "lift", "share of rows contacted (by score)", "cumulative lift",
        "Positive rate of the top share of rows divided by the positive rate of all rows; 1 (dashed) is random.",
        percent=True,
    ),
    _Curve(
        "profit", "Profit", "profit", "share", "profit", "share of rows contacted (by score)", "profit",
        "Profit of contacting the top share of rows: conversions times their value minus contacts times their "
        "cost. The circle marks the most profitable share.",
        percent=True,
    ),
)  # fmt: skip


Document = tuple[dict[str, Any], str, bool, str]


def task_documents(data: ReportData, task: str = "binary") -> list[Document]:
    """(document, suffix of the legend names, dashed, target label) for the evaluation of each target of
    ``task`` on the test rows and on the given data (the target's name in the suffix when the model has
    several)."""
    out = []
    binary = [t for t, kind in data.targets.items() if kind == task]
    for target in binary:
        label = target_label(data, target)
        if target in data.evaluations:
            out.append((data.evaluations[target], f" ({label})" if label else "", False, label))
    for target in binary:
        label = target_label(data, target)
        if target in data.data_evaluations:
            on = f" on {data.data_name or 'the data'}"
            out.append((data.data_evaluations[target], f"{on} ({label})" if label else on, True, label))
    return out


def _curve_series(curve: _Curve, documents: list[Document]) -> tuple[list[Series], list[Marker]]:
    series: list[Series] = []
    markers: list[Marker] = []
    colors: dict[tuple[str, str], str] = {}  # a model of a target keeps its colour (the given data's is dashed)
    for document, suffix, dashed, target in documents:
        for name, model in (document.get("models") or {}).items():
            color = colors.setdefault((name, target), PALETTE[len(colors) % len(PALETTE)])
            points = model.get(curve.key)
            if not points or not points.get(curve.x):
                continue
            label = name + suffix
            auc = (model.get("metrics") or {}).get("auc")
            if curve.key == "roc" and auc is not None:
                label += f" (AUC {auc:.3f})"
            series.append(
                Series(
                    label,
                    points[curve.x],
                    points[curve.y],
                    dashed=dashed,
                    points=curve.key == "calibration",
                    color=color,
                )
            )
            best = points.get("best") if curve.key == "profit" else None
            if best and model.get("kind") == "deep":
                markers.append(Marker(best["share"], best["profit"], f"best: top {best['share'] * 100:.0f}%"))
    return series, markers


def curve_section(curve: _Curve, data: ReportData) -> Section:
    """One evaluation chart (ROC, PR, calibration, gains, lift or profit) of every model that has it."""
    if not data.evaluations and not data.data_evaluations:
        return Section(curve.ident, curve.heading, note(data.notes.get("curves", NO_EVALUATION)))
    documents = task_documents(data)
    if not documents:
        tasks = ", ".join(sorted({str(task) for task in data.targets.values()}))
        return Section(
            curve.ident, curve.heading, note(f"curves are drawn for binary targets; this model's task is {tasks}")
        )
    series, markers = _curve_series(curve, documents)
    if not series:
        return Section(curve.ident, curve.heading, note(f"the evaluation holds no {curve.heading.lower()} points"))
    hline = None
    if curve.key == "pr" and len({target for *_, target in documents}) == 1:
        first = documents[0][0]  # the share of positives of the one target's rows (one line per target otherwise)
        hline = first.get("positives", 0) / first["rows"] if first.get("rows") else None
    elif curve.key == "lift":
        hline = 1.0
    unit = (0.0, 1.0)
    chart = line_chart(
        curve.ident,
        curve.heading,
        series,
        x_label=curve.x_label,
        y_label=curve.y_label,
        diagonal=curve.diagonal,
        hline=hline,
        markers=markers,
        x_range=unit if curve.key in ("roc", "pr", "calibration", "gains") else None,
        y_range=unit if curve.key in ("roc", "pr", "calibration", "gains") else None,
        x_format="%" if curve.percent else "",
        y_format="%" if curve.key == "gains" else "",
    )
    parts = [explain(curve.text), chart]
    if curve.key == "profit":
        settings = documents[0][0].get("profit_settings") or {}
        parts.append(
            explain(
                f"contact cost {number(settings.get('contact_cost'))}, value of a conversion "
                f"{number(settings.get('conversion_value'))}"
            )
        )
        parts.append(_profit_table(documents))
    if curve.key == "lift":
        parts.append(_lift_table(documents))
    return Section(curve.ident, curve.heading, "".join(parts))


def _lift_table(documents: list[Document]) -> str:
    """Lift and the share of positives captured at each top share (rows), per model (columns)."""
    columns: dict[str, dict[float, dict[str, Any]]] = {}
    for document, suffix, *_ in documents:
        for name, model in (document.get("models") or {}).items():
            if model.get("lift_table"):
                columns[name + suffix] = {entry["top"]: entry for entry in model["lift_table"]}
    if not columns:
        return ""
    tops = sorted({top for entries in columns.values() for top in entries})
    rows = []
    for top in tops:
        cells: list[object] = [f"top {percent(top)}"]
        for entries in columns.values():
            entry = entries.get(top) or {}
            cells.append(f"{metric_text('lift_at_10', entry.get('lift'))} ({percent(entry.get('capture'))} captured)")
        rows.append(cells)
    return table(["contacted", *(f"lift: {name}" for name in columns)], rows, numeric=range(1, len(columns) + 1))


def _profit_table(documents: list[Document]) -> str:
    rows = []
    for document, suffix, *_ in documents:
        for name, model in (document.get("models") or {}).items():
            best = (model.get("profit") or {}).get("best")
            if best:
                rows.append(
                    [
                        name + suffix,
                        percent(best.get("share")),
                        number(best.get("threshold")),
                        f"{best.get('contacted', 0):,}",
                        f"{best.get('conversions', 0):,}",
                        number(best.get("profit")),
                    ]
                )
    if not rows:
        return ""
    return table(
        ["model", "contact top", "score above", "contacted", "conversions", "profit"], rows, numeric=(1, 2, 3, 4, 5)
    )
