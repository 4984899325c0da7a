"""Evaluation metrics on numpy arrays: classification (binary, multiclass), regression and lifetime value."""

from typing import Any

import numpy as np

from needmap.metrics.classification import (
    binary_metrics,
    expected_calibration_error,
    lift_capture,
    multiclass_metrics,
)
from needmap.metrics.compare import bootstrap_difference, verdict_sentence, weighted_auc
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
from needmap.metrics.ltv import ltv_metrics
from needmap.metrics.regression import regression_metrics


def task_metrics(task: str, y: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    """The metric set of ``task`` ("binary", "multiclass", "regression", "ltv") for targets ``y`` ``[n]``
    and outputs ``out``: P(positive) ``[n]``, class probabilities ``[n, K]``, values ``[n]`` or, for "ltv",
    the expected spend ``[n]`` or ``[n, k]`` (column 0 the expected spend, column 1 the chance to buy)."""
    if task == "binary":
        return binary_metrics(y, out)
    if task == "multiclass":
        return multiclass_metrics(y, out)
    if task == "ltv":
        return ltv_metrics(y, out)
    return regression_metrics(y, out)


__all__ = [
    "binary_metrics",
    "bootstrap_difference",
    "calibration_curve",
    "expected_calibration_error",
    "gains_curve",
    "group_auc",
    "lift_capture",
    "lift_curve",
    "lift_table",
    "ltv_metrics",
    "multiclass_metrics",
    "pr_points",
    "profit_curve",
    "regression_metrics",
    "roc_points",
    "task_metrics",
    "verdict_sentence",
    "weighted_auc",
]
