"""The importance section of a model's report: the permutation importance of each input column as bars,
per target: the loss of its quality measure (:data:`needmap.workflows.importance.QUALITY`) when the column
is shuffled, below zero drawn to the left with its sign."""

from __future__ import annotations

from needmap.metrics.names import metric_text
from needmap.report.bar_charts import bar_chart
from needmap.report.content import MOST_BARS, ReportData, target_label
from needmap.report.html import Section, explain, note

#: Per task: the measure, how the section says its loss, and the bar chart's axis title.
_WORDING: dict[str, tuple[str, str, str]] = {
    "binary": ("auc", "the ranking quality (AUC) drops", "AUC drop when shuffled"),
    "regression": ("rmse", "the typical error (RMSE, in the target's units) grows", "RMSE rise when shuffled"),
    "multiclass": ("logloss", "the probability error (log loss) grows", "log loss rise when shuffled"),
    "ltv": (
        "normalized_gini",
        "the ranking of the spend (normalized Gini) drops",
        "normalized Gini drop when shuffled",
    ),
}


def importance_section(data: ReportData, missing_note: str) -> Section:
    """Permutation importance per target: how much its quality measure worsens when each input column is
    shuffled (the AUC drop, the RMSE or log loss rise)."""
    if not data.importance:
        return Section("importance", "Feature importance", note(missing_note))
    parts = []
    for target, importance in data.importance.items():
        measure, worsens, axis = _WORDING[data.targets.get(target) or "binary"]
        label = target_label(data, target)
        parts.append(
            explain(
                f"{label + ': h' if label else 'H'}ow much {worsens} when one column's values are shuffled across "
                f"the rows ({data.importance_rows or 'the rows'}): the larger, the more the model relies on the "
                "column. Near zero: the model does not rely on it. Below zero (bars to the left): the model did a "
                "little better with the column shuffled, so it gains nothing from it on these rows and the small "
                "difference is chance."
            )
        )
        shown = importance[:MOST_BARS]
        parts.append(
            bar_chart(
                f"importance-{label}" if label else "importance",
                f"permutation importance of {label}: {axis} per column"
                if label
                else f"permutation importance: {axis} per column",
                [r["feature"] for r in shown],
                [r["drop"] for r in shown],
                x_label=axis,
                value_text=lambda drop, measure=measure: metric_text(measure, drop),
            )
        )
    return Section("importance", "Feature importance", "".join(parts))
