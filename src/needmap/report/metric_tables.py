"""The metric tables of the summary and baselines sections: held-out metrics side by side, every model of an
evaluation document, and the paired comparisons (bootstrap, or asymptotic on many rows). Each metric is named
by its plain name with its key in small print (:func:`needmap.report.html.metric_label`) and written by
:func:`needmap.metrics.names.metric_text`."""

from __future__ import annotations

from typing import Any

from needmap.metrics.compare import interval_name
from needmap.metrics.names import metric_text
from needmap.report.content import percent
from needmap.report.html import metric_label, note, table

#: Metrics shown in the tables, per task, in order.
TABLE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "pr_auc", "logloss", "lift_at_10", "capture_at_10", "ece", "accuracy"),
    "multiclass": ("accuracy", "logloss", "macro_auc"),
    "regression": ("rmse", "mae", "r2"),
    "ltv": ("normalized_gini", "spearman", "auc", "decile_mape", "aggregate_error", "rmse", "mae"),
}


def _metric_rows(task: str, columns: dict[str, Any]) -> list[list[object]]:
    keys = TABLE_METRICS.get(task, ())
    present = {k: v for k, v in columns.items() if isinstance(v, dict)}
    return [
        [metric_label(key, meaning=True), *(metric_text(key, values.get(key)) for values in present.values())]
        for key in keys
    ]


def columns_table(task: str, columns: dict[str, Any]) -> str:
    """The task's table metrics (rows: plain name, key and what it means) of each metrics dict of ``columns``
    (a column per name; entries that are not dicts are left out); a note when none is left."""
    present = {k: v for k, v in columns.items() if isinstance(v, dict)}
    if not present:
        return note("no held-out metrics in metrics.json")
    return table(["metric", *present], _metric_rows(task, present), numeric=range(1, len(present) + 1))


def models_table(document: dict[str, Any], task: str | None) -> str:
    """Every model of an evaluation document (the deep one first): its kind and the task's table metrics."""
    keys = TABLE_METRICS.get(document.get("task") or task or "binary", ())
    rows = [
        [name, model.get("kind", ""), *(metric_text(k, (model.get("metrics") or {}).get(k)) for k in keys)]
        for name, model in document["models"].items()
    ]
    headers = ["model", "kind", *(metric_label(k) for k in keys)]
    return table(headers, rows, numeric=range(2, 2 + len(keys)))


def _interval(comparison: dict[str, Any]) -> str:
    low, high = comparison.get("low"), comparison.get("high")
    return "–" if low is None or high is None else f"[{low:+.4f}, {high:+.4f}]"


def _resamples(comparison: dict[str, Any]) -> object:
    """The resamples of a bootstrap interval; for an asymptotic one, that none were drawn and whose it is."""
    if interval_name(comparison) == "bootstrap":
        return comparison.get("n_boot", "")
    return f"none ({interval_name(comparison)})"


def comparisons_heading(comparisons: list[dict[str, Any]], where: str) -> str:
    """The heading above :func:`comparisons_table`: "Paired bootstrap over <where>" when every interval is a
    bootstrap's, else the intervals' names ("Paired DeLong intervals over <where>")."""
    names = list(dict.fromkeys(interval_name(c) for c in comparisons))
    if names == ["bootstrap"]:
        return f"Paired bootstrap over {where}"
    return f"Paired {' and '.join(names)} intervals over {where}"


def comparisons_table(comparisons: list[dict[str, Any]]) -> str:
    """One row per paired comparison of the deep model with a baseline (differences and interval in the
    metric's decimals, signed; the resamples of a bootstrap, or the asymptotic interval's name)."""
    return table(
        ["baseline", "metric", "deep", "baseline's", "difference", "interval", "level", "resamples"],
        [
            [
                c.get("baseline"), metric_label(str(c.get("metric"))),
                metric_text(str(c.get("metric")), c.get("deep")), metric_text(str(c.get("metric")), c.get("other")),
                f"{c['difference']:+.4f}" if c.get("difference") is not None else "–",
                _interval(c),
                percent(c.get("level")), _resamples(c),
            ]
            for c in comparisons
        ],
        numeric=(2, 3, 4, 6, 7),
    )  # fmt: skip
