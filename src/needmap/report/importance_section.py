"""The importance section of a model's report: the permutation importance of each input column as bars."""

from __future__ import annotations

from typing import Any

from needmap.report.bar_charts import bar_chart
from needmap.report.content import MOST_BARS
from needmap.report.html import Section, explain, note


def importance_section(importance: list[dict[str, Any]] | None, rows: str | None, missing_note: str) -> Section:
    """Permutation importance: the AUC drop when each input column is shuffled."""
    if not importance:
        return Section("importance", "Feature importance", note(missing_note))
    shown = importance[:MOST_BARS]
    parts = [
        explain(
            f"How much the AUC drops when one column's values are shuffled across the rows ({rows or 'the rows'}); "
            "near zero or below: the model does not rely on it."
        ),
        bar_chart(
            "importance",
            "permutation importance: AUC drop per column",
            [r["feature"] for r in shown],
            [r["drop"] for r in shown],
            x_label="AUC drop when shuffled",
        ),
    ]
    return Section("importance", "Feature importance", "".join(parts))
