"""Readable tables for the terminal (rich), shared by the command line and the demo.

Every cell and title is plain text (:func:`plain`): rich reads a string as markup, and a column named
``spend[eur]`` or a path ``runs/[a]`` must be shown as it is, not taken for a style and dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

METRIC_KEYS = {
    "binary": (
        "auc",
        "logloss",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "ece",
        "ece_uncalibrated",
        "lift_at_10",
        "capture_at_10",
        "n",
    ),
    "multiclass": ("accuracy", "logloss", "macro_auc", "n"),
    "regression": ("rmse", "mae", "r2", "n"),
    "ltv": (
        "normalized_gini",
        "spearman",
        "auc",
        "decile_mape",
        "aggregate_error",
        "rmse",
        "mae",
        "positive_rate",
        "n",
    ),
}


#: Metrics read at a score cut-off: their rows name it ("precision at 0.5").
AT_THRESHOLD = ("accuracy", "precision", "recall")


def plain(text: Any) -> Text | None:
    """``text`` as rich text that is never read as markup (None stays None)."""
    return None if text is None else Text(str(text))


def metric_label(key: str, sets: Sequence[Mapping[str, Any]]) -> str:
    """The row name of metric ``key``: with the score cut-off it is read at (``precision at 0.5``) where
    the metric sets say which (``threshold``, :func:`needmap.metrics.binary_metrics`)."""
    if key not in AT_THRESHOLD:
        return key
    cuts = {m["threshold"] for m in sets if m.get(key) is not None and m.get("threshold") is not None}
    return f"{key} at {fmt(cuts.pop()).rstrip('0').rstrip('.')}" if len(cuts) == 1 else key


def fmt(value: Any) -> str:
    """A metric value as text: floats with 4 decimals, None as 'n/a'."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def is_per_target(metrics: Mapping[str, Any] | None) -> bool:
    """Whether ``metrics`` holds one metric set per target (a multi-task model), not metrics themselves."""
    if not metrics:
        return False
    return all(isinstance(v, Mapping) for v in metrics.values())


def guess_task(metrics: Mapping[str, Any]) -> str | None:
    """The task whose metric set ``metrics`` is: 'ltv' (normalized_gini), 'binary' (auc), 'multiclass'
    (macro_auc), 'regression' (rmse)."""
    if "normalized_gini" in metrics:
        return "ltv"
    if "auc" in metrics:
        return "binary"
    if "macro_auc" in metrics:
        return "multiclass"
    if "rmse" in metrics:
        return "regression"
    return None


def metrics_table(
    task: str,
    columns: Mapping[str, Mapping[str, Any] | None],
    title: str | None = None,
    tasks: Mapping[str, str] | None = None,
) -> Table:
    """A table with one row per metric of ``task`` and one column per named metric set.

    Metric sets of a multi-task model (``{target: metrics}``, see :func:`is_per_target`) give rows
    ``<target> <metric>``, target by target, each with the metrics of its own task: ``tasks[target]``
    when given, else the task its metrics show (:func:`guess_task`), else ``task``.
    """
    present = {name: m for name, m in columns.items() if m}
    table = Table(title=plain(title))
    table.add_column("metric")
    for name in present:
        table.add_column(plain(name), justify="right")
    if present and all(is_per_target(m) for m in present.values()):
        targets: list[str] = []
        for m in present.values():
            targets += [t for t in m if t not in targets]
        for target in targets:
            sets = [m.get(target) or {} for m in present.values()]
            found = next((guess_task(m) for m in sets if guess_task(m)), None)
            target_task = (tasks or {}).get(target) or found or task
            keys = [key for key in METRIC_KEYS.get(target_task, ()) if any(key in m for m in sets)]
            for i, key in enumerate(keys):
                table.add_row(
                    plain(f"{target} {metric_label(key, sets)}"),
                    *(fmt(m.get(key)) for m in sets),
                    end_section=i == len(keys) - 1,
                )
        return table
    for key in METRIC_KEYS.get(task, ()):
        if any(key in m for m in present.values()):
            table.add_row(metric_label(key, list(present.values())), *(fmt(m.get(key)) for m in present.values()))
    return table


def cv_table(cv: Mapping[str, Any], title: str | None = None) -> Table:
    """The per-fold table of a cross-validation summary (:func:`needmap.workflows.cv.cv_summary`): one row
    per fold with its rows and each model's primary metric, then the mean and the standard deviation."""
    models = list(cv.get("models") or [])
    metric = cv.get("metric", "metric")
    table = Table(title=plain(title or f"{cv.get('k')}-fold cross-validation ({metric})"))
    table.add_column("fold")
    table.add_column("rows", justify="right")
    for name in models:
        table.add_column(plain(name), justify="right")
    folds = cv.get("folds") or []
    for i, fold in enumerate(folds):
        scores = fold.get("scores") or {}
        table.add_row(
            str(fold.get("fold")),
            fmt(fold.get("rows")),
            *(fmt(scores.get(name)) for name in models),
            end_section=i == len(folds) - 1,
        )
    for label in ("mean", "std"):  # of the folds' metrics; their rows are the folds' own, above
        values = cv.get(label) or {}
        table.add_row(label, "", *(fmt(values.get(n)) for n in models))
    return table


def schema_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """The schema as a table: name, role, type, distinct, missing, reason."""
    table = Table(title=plain(title))
    for col in ("column", "role", "type", "distinct", "missing", "reason"):
        table.add_column(col, justify="right" if col in ("distinct", "missing") else "left", overflow="fold")
    styles = {"target": "bold green", "ignored": "dim", "id": "cyan", "datetime": "cyan"}
    for row in rows:
        table.add_row(
            plain(row["name"]),
            plain(row["role"]),
            plain(row["type"]),
            fmt(row.get("distinct")),
            fmt(row.get("missing")),
            plain(row.get("reason", "")),
            style=styles.get(str(row["role"])),
        )
    return table
