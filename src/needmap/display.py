"""Readable tables for the terminal (rich), shared by the command line and the demo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

METRIC_KEYS = {
    "binary": (
        "auc",
        "logloss",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "ece",
        "lift_at_10",
        "capture_at_10",
        "n",
    ),
    "multiclass": ("accuracy", "logloss", "macro_auc", "n"),
    "regression": ("rmse", "mae", "r2", "n"),
}


def fmt(value: Any) -> str:
    """A metric value as text: floats with 4 decimals, None as 'n/a'."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def metrics_table(task: str, columns: Mapping[str, Mapping[str, Any] | None], title: str | None = None) -> Table:
    """A table with one row per metric of ``task`` and one column per named metric set."""
    present = {name: m for name, m in columns.items() if m}
    table = Table(title=title)
    table.add_column("metric")
    for name in present:
        table.add_column(name, justify="right")
    for key in METRIC_KEYS.get(task, ()):
        if any(key in m for m in present.values()):
            table.add_row(key, *(fmt(m.get(key)) for m in present.values()))
    return table


def schema_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """The schema as a table: name, role, type, distinct, missing, reason."""
    table = Table(title=title)
    for col in ("column", "role", "type", "distinct", "missing", "reason"):
        table.add_column(col, justify="right" if col in ("distinct", "missing") else "left", overflow="fold")
    styles = {"target": "bold green", "ignored": "dim", "id": "cyan", "datetime": "cyan"}
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["role"]),
            str(row["type"]),
            fmt(row.get("distinct")),
            fmt(row.get("missing")),
            str(row.get("reason", "")),
            style=styles.get(str(row["role"])),
        )
    return table
