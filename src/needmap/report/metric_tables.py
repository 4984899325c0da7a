"""The metric tables of the summary and baselines sections: held-out metrics side by side, every model of an
evaluation document, and the paired bootstrap comparisons; :func:`metric_value` writes each number."""

from __future__ import annotations

import math
from typing import Any

from needmap.report.content import percent
from needmap.report.html import note, table
from needmap.report.text import number

#: Metrics shown in the tables, per task, in order.
TABLE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "pr_auc", "logloss", "lift_at_10", "capture_at_10", "ece", "accuracy"),
    "multiclass": ("accuracy", "logloss", "macro_auc"),
    "regression": ("rmse", "mae", "r2"),
}


def metric_value(value: float | None) -> str:
    """A metric in a table: four decimals below 10 (``0.7800``, so that AUCs line up and differences of
    0.001 show), else :func:`number`'s short form; "–" for None."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4f}" if abs(value) < 10 else number(value)


def _metric_rows(task: str, columns: dict[str, Any]) -> list[list[object]]:
    keys = TABLE_METRICS.get(task, ())
    present = {k: v for k, v in columns.items() if isinstance(v, dict)}
    return [[key, *(metric_value(values.get(key)) for values in present.values())] for key in keys]


def columns_table(task: str, columns: dict[str, Any]) -> str:
    """The task's table metrics (rows) of each metrics dict of ``columns`` (a column per name; entries that
    are not dicts are left out); a note when none is left."""
    present = {k: v for k, v in columns.items() if isinstance(v, dict)}
    if not present:
        return note("no held-out metrics in metrics.json")
    return table(["metric", *present], _metric_rows(task, present), numeric=range(1, len(present) + 1))


def models_table(document: dict[str, Any], task: str | None) -> str:
    """Every model of an evaluation document (the deep one first): its kind and the task's table metrics."""
    keys = TABLE_METRICS.get(document.get("task") or task or "binary", ())
    rows = [
        [name, model.get("kind", ""), *(metric_value((model.get("metrics") or {}).get(k)) for k in keys)]
        for name, model in document["models"].items()
    ]
    return table(["model", "kind", *keys], rows, numeric=range(2, 2 + len(keys)))


def _interval(comparison: dict[str, Any]) -> str:
    low, high = comparison.get("low"), comparison.get("high")
    return "–" if low is None or high is None else f"[{low:+.4f}, {high:+.4f}]"


def comparisons_table(comparisons: list[dict[str, Any]]) -> str:
    """One row per paired bootstrap comparison of the deep model with a baseline."""
    return table(
        ["baseline", "metric", "deep", "baseline's", "difference", "interval", "level", "resamples"],
        [
            [
                c.get("baseline"), c.get("metric"),
                metric_value(c.get("deep")), metric_value(c.get("other")),
                f"{c['difference']:+.4f}" if c.get("difference") is not None else "–",
                _interval(c),
                percent(c.get("level")), c.get("n_boot", ""),
            ]
            for c in comparisons
        ],
        numeric=(2, 3, 4, 6, 7),
    )  # fmt: skip
