"""The evaluation document (``evaluation.json`` of a model directory): every model's metrics and
curves on the same test rows, the deep model against each baseline with a paired interval (the
bootstrap's, or on many rows the asymptotic one it converges to:
:func:`needmap.metrics.compare.bootstrap_difference`), and one sentence that says which model to use.

Layout for a binary task (version 1)::

    version, task, data (which rows, in words), rows, positives, primary (the deep model's name),
    models: {name: {kind: "deep" | "baseline", metrics, roc, pr, gains, lift, lift_table,
                    calibration, profit}}            deep model first, then the baselines
    profit_settings: {contact_cost, conversion_value}
    comparisons: [{baseline, metric, deep, other, difference, low, high, level, n_boot[, method]}]
                     method only where the interval is not the bootstrap's ("delong", with n_boot 0)
    verdict, group_auc (None or {column, gauc, groups_used, groups_skipped, rows_used}),
    importance (None here: permutation importance is added by its own step, with importance_rows: how many
    rows it was measured on, a random sample where the rows are more than its max_rows)

A multiclass or regression document holds version, task, data, rows, primary, models (kind and
metrics; a regression model also ``residuals``, ``deciles`` and ``amount_gains``, see
:mod:`needmap.metrics.regression_curves`), comparisons (empty) and a verdict on the primary metric (log
loss, RMSE). A lifetime-value (ltv) document holds the same keys; each model has ``metrics``
(:func:`needmap.metrics.ltv.ltv_metrics`) and ``deciles`` (:func:`needmap.metrics.ltv.decile_calibration` of
its expected spend), ``comparisons`` holds the primary model's paired bootstrap against each baseline in
normalized Gini and in Spearman correlation, and the verdict is stated in normalized Gini. Training adds
``importance`` and ``importance_rows`` to every task's document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from needmap.errors import ConfigError
from needmap.metrics import task_metrics
from needmap.metrics._checks import binary_labels, probabilities, same_length
from needmap.metrics.classification import binary_metrics
from needmap.metrics.compare import bootstrap_difference, verdict_sentence
from needmap.metrics.curves import (
    calibration_curve,
    gains_curve,
    lift_curve,
    lift_table,
    pr_points,
    profit_curve,
    roc_points,
)
from needmap.metrics.group import group_auc
from needmap.metrics.ltv import decile_calibration as ltv_deciles
from needmap.metrics.ltv import paired_ltv_difference
from needmap.metrics.regression_curves import amount_gains, decile_calibration, residual_histogram
from needmap.metrics.score_order import shared_orders

VERSION = 1
TASKS = ("binary", "multiclass", "regression", "ltv")
#: the metric each task's verdict compares on, and whether higher is better
PRIMARY_METRIC = {"multiclass": ("logloss", "log loss", False), "regression": ("rmse", "RMSE", False)}
COMPARISON_KEYS = ("metric", "deep", "other", "difference", "low", "high", "level", "n_boot")
GROUP_KEYS = ("gauc", "groups_used", "groups_skipped", "rows_used")


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, NaN and infinities as None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _binary_model(kind: str, labels: np.ndarray, p: np.ndarray, cost: float, value: float) -> dict[str, Any]:
    """Metrics and curves of one model's probabilities ``p`` ``[n]`` on labels ``[n]``: the rows ranked by ``p``
    once for all of them (:func:`~needmap.metrics.score_order.shared_orders`)."""
    both = 0 < int(labels.sum()) < len(labels)
    with shared_orders():
        return {
            "kind": kind,
            "metrics": binary_metrics(labels, p),
            "roc": roc_points(labels, p) if both else None,
            "pr": pr_points(labels, p) if both else None,
            "gains": gains_curve(labels, p) if both else None,
            "lift": lift_curve(labels, p) if both else None,
            "lift_table": lift_table(labels, p) if both else None,
            "calibration": calibration_curve(labels, p),
            "profit": profit_curve(labels, p, cost, value),
        }


def _ordered(scores: Mapping[str, np.ndarray], primary: str) -> list[str]:
    if not scores:
        raise ConfigError("scores is empty; expected the deep model's scores and those of its baselines by name.")
    if primary not in scores:
        raise ConfigError(f"primary is {primary!r}; expected one of the scored models {list(scores)}.")
    return [primary, *(name for name in scores if name != primary)]


def _comparison(baseline: str, result: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``comparisons``: the baseline's name and the :data:`COMPARISON_KEYS` of its
    :func:`~needmap.metrics.compare.bootstrap_difference` result, and its ``method`` when the interval is not
    the bootstrap's. Documents written before asymptotic intervals hold bootstraps only and no ``method``, so
    an entry without one reads the same whichever version wrote it."""
    entry = {"baseline": baseline, **{key: result[key] for key in COMPARISON_KEYS}}
    if result["method"] != "bootstrap":
        entry["method"] = result["method"]
    return entry


def _binary_document(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    names: list[str],
    *,
    data: str,
    contact_cost: float,
    conversion_value: float,
    groups: np.ndarray | None,
    group_column: str | None,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    labels = binary_labels(y)
    probs = {}
    for name in names:
        probs[name] = probabilities(scores[name], f"scores[{name!r}]")
        same_length(labels, probs[name], "y", f"scores[{name!r}]")
    primary = names[0]
    models = {
        name: _binary_model(
            "deep" if name == primary else "baseline", labels, probs[name], contact_cost, conversion_value
        )
        for name in names
    }
    positives = int(labels.sum())
    comparisons: list[dict[str, Any]] = []
    if 0 < positives < len(labels):
        for name in names[1:]:
            result = bootstrap_difference(labels, probs[primary], probs[name], metric="auc", n_boot=n_boot, seed=seed)
            comparisons.append(_comparison(name, result))
        verdict = verdict_sentence(comparisons)
    else:
        only = "positives" if positives else "negatives"
        verdict = f"no comparison: the test rows hold only {only} ({len(labels)} rows); the AUC needs both classes."
    group = None
    if groups is not None:
        result = group_auc(labels, probs[primary], groups)
        group = {"column": group_column, **{key: result[key] for key in GROUP_KEYS}}
    return {
        "version": VERSION,
        "task": "binary",
        "data": data,
        "rows": len(labels),
        "positives": positives,
        "primary": primary,
        "models": models,
        "profit_settings": {"contact_cost": float(contact_cost), "conversion_value": float(conversion_value)},
        "comparisons": comparisons,
        "verdict": verdict,
        "group_auc": group,
        "importance": None,
    }


def _plain_verdict(task: str, models: dict[str, dict[str, Any]], primary: str) -> str:
    """The verdict of a multiclass or regression task: the deep model against the best baseline."""
    key, name, higher_better = PRIMARY_METRIC[task]
    baselines = [m for m in models if m != primary]
    if not baselines:
        return "no comparison: no baseline was scored on these rows."
    deep = models[primary]["metrics"].get(key)
    values = {m: models[m]["metrics"].get(key) for m in baselines if models[m]["metrics"].get(key) is not None}
    if deep is None or not values:
        return f"no comparison: the test {name} is undefined."
    base = (max if higher_better else min)(values, key=lambda m: values[m])
    other = values[base]
    gain = (deep - other) if higher_better else (other - deep)
    where = "on these rows; no bootstrap interval for this task"
    if gain > 0:
        return f"the deep model is better than {base} by {gain:.3f} {name} ({deep:.4f} vs {other:.4f} {where})."
    if gain < 0:
        return (
            f"use {base}: it is better than the deep model by {-gain:.3f} {name} ({other:.4f} vs {deep:.4f} {where})."
        )
    return f"use {base}: the deep model is not better on this data ({name} {deep:.4f} for both, {where})."


def _spend(values: np.ndarray) -> np.ndarray:
    """The expected spend ``[n]`` of a lifetime-value model's outputs: column 0 of ``[n, k]``, else as given."""
    array = np.asarray(values, dtype=np.float64)
    return array[:, 0] if array.ndim == 2 else array


def _ltv_document(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    names: list[str],
    *,
    primary: str,
    data: str,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """The evaluation document of a lifetime-value target: each model's metrics (:func:`ltv_metrics`) and
    decile calibration of its expected spend, the primary model's paired bootstrap comparisons with each
    baseline in normalized Gini and in Spearman correlation, and the verdict in normalized Gini."""
    y = np.asarray(y, dtype=np.float64)
    models = {
        name: {
            "kind": "deep" if name == primary else "baseline",
            "metrics": task_metrics("ltv", y, scores[name]),
            "deciles": ltv_deciles(y, _spend(scores[name])),
        }
        for name in names
    }
    comparisons = [
        {
            **paired_ltv_difference(y, _spend(scores[primary]), _spend(scores[name]), metric, n_boot, seed),
            "baseline": name,
        }
        for metric in ("normalized_gini", "spearman")
        for name in names
        if name != primary
    ]
    gini = [c for c in comparisons if c["metric"] == "normalized_gini" and c["difference"] is not None]
    if not comparisons:
        verdict = "no comparison: no baseline was scored on these rows."
    elif not gini:
        verdict = "no comparison: the test normalized Gini is undefined (no spend in the test rows)."
    else:
        verdict = verdict_sentence(gini)
    return {
        "version": VERSION,
        "task": "ltv",
        "data": data,
        "rows": len(y),
        "primary": primary,
        "models": models,
        "comparisons": comparisons,
        "verdict": verdict,
    }


def evaluation_document(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    task: str,
    primary: str,
    data: str,
    contact_cost: float = 1.0,
    conversion_value: float = 10.0,
    groups: np.ndarray | None = None,
    group_column: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The evaluation document of models scored on the same test rows.

    Args:
        y: test targets ``[n]``: labels 0/1 (binary), class indices (multiclass) or values (regression).
        scores: each model's outputs on the test rows, by display name: P(positive) ``[n]`` (binary),
            class probabilities ``[n, K]`` (multiclass) or predictions ``[n]`` (regression).
        task: "binary", "multiclass" or "regression".
        primary: the deep model's name, a key of ``scores``; every other model is a baseline.
        data: which rows these are, in words (such as "test rows (20% of bank.csv, stratified, seed 0)").
        contact_cost: cost of contacting one row, for the profit curves (binary).
        conversion_value: value of one conversion, for the profit curves (binary).
        groups: a group per row ``[n]`` for the group AUC of the deep model (binary), or None.
        group_column: the name of the column ``groups`` came from, recorded beside the group AUC.
        n_boot: resamples of the paired bootstrap (binary); on many rows the interval is the asymptotic one
            and none is drawn (:data:`needmap.metrics.compare.ASYMPTOTIC_CELLS`).
        seed: seed of the resampling: the same seed gives the same intervals.

    Returns:
        A dict of JSON-safe values (no NaN: undefined values are None) in the layout of this
        module's docstring; ``importance`` is None.
    """
    if task not in TASKS:
        raise ConfigError(f"task is {task!r}; expected one of {list(TASKS)}.")
    names = _ordered(scores, primary)
    if task == "binary":
        document = _binary_document(
            y,
            scores,
            names,
            data=data,
            contact_cost=contact_cost,
            conversion_value=conversion_value,
            groups=groups,
            group_column=group_column,
            n_boot=n_boot,
            seed=seed,
        )
        return json_safe(document)
    if groups is not None:
        raise ConfigError(f"a group AUC needs a binary task; this task is {task!r}. Leave groups out.")
    if task == "ltv":
        return json_safe(_ltv_document(y, scores, names, primary=primary, data=data, n_boot=n_boot, seed=seed))
    models = {
        name: {"kind": "deep" if name == primary else "baseline", "metrics": task_metrics(task, y, scores[name])}
        for name in names
    }
    if task == "regression":
        for name in names:
            models[name]["residuals"] = residual_histogram(y, scores[name])
            models[name]["deciles"] = decile_calibration(y, scores[name])
            models[name]["amount_gains"] = amount_gains(y, scores[name])
    document = {
        "version": VERSION,
        "task": task,
        "data": data,
        "rows": len(np.asarray(y)),
        "primary": primary,
        "models": models,
        "comparisons": [],
        "verdict": _plain_verdict(task, models, primary),
    }
    return json_safe(document)
