"""Evaluation metrics on numpy arrays: classification (binary, multiclass) and regression."""

from needmap.metrics.classification import (
    binary_metrics,
    expected_calibration_error,
    lift_capture,
    multiclass_metrics,
)
from needmap.metrics.regression import regression_metrics

__all__ = [
    "binary_metrics",
    "expected_calibration_error",
    "lift_capture",
    "multiclass_metrics",
    "regression_metrics",
]
