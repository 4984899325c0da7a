"""Evaluation metrics on numpy arrays: classification (binary, multiclass) and regression."""

from typing import Any

import numpy as np

from needmap.metrics.classification import (
    binary_metrics,
    expected_calibration_error,
    lift_capture,
    multiclass_metrics,
)
from needmap.metrics.regression import regression_metrics


def task_metrics(task: str, y: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    """The metric set of ``task`` ("binary", "multiclass", "regression") for targets ``y`` ``[n]``
    and outputs ``out``: P(positive) ``[n]``, class probabilities ``[n, K]`` or values ``[n]``."""
    if task == "binary":
        return binary_metrics(y, out)
    if task == "multiclass":
        return multiclass_metrics(y, out)
    return regression_metrics(y, out)


__all__ = [
    "binary_metrics",
    "expected_calibration_error",
    "lift_capture",
    "multiclass_metrics",
    "regression_metrics",
    "task_metrics",
]
