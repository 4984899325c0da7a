"""The importance section of a model's report: the permutation importance of each input column as bars."""

from __future__ import annotations

from needmap.report.bar_charts import bar_chart
from needmap.report.content import MOST_BARS, ReportData, target_label
from needmap.report.html import Section, explain, note


def importance_section(data: ReportData, missing_note: str) -> Section:
    """Permutation importance: the AUC drop when each input column is shuffled, per binary target."""
    if not data.importance:
        return Section("importance", "Feature importance", note(missing_note))
    parts = [
        explain(
            f"How much the AUC drops when one column's values are shuffled across the rows "
            f"({data.importance_rows or 'the rows'}); near zero or below: the model does not rely on it."
        )
    ]
    for target, importance in data.importance.items():
        label = target_label(data, target)
        shown = importance[:MOST_BARS]
        parts.append(
            bar_chart(
                f"importance-{label}" if label else "importance",
                f"permutation importance of {label}: AUC drop per column"
                if label
                else "permutation importance: AUC drop per column",
                [r["feature"] for r in shown],
                [r["drop"] for r in shown],
                x_label="AUC drop when shuffled",
            )
        )
    return Section("importance", "Feature importance", "".join(parts))
