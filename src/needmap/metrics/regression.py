"""Metrics of a regression model: pure numpy on arrays, JSON-safe results."""

from __future__ import annotations

from typing import Any

import numpy as np

from needmap.metrics._checks import as_1d, same_length


def regression_metrics(y: np.ndarray, yhat: np.ndarray) -> dict[str, Any]:
    """Errors of predictions ``yhat`` [n] against targets ``y`` [n], in the target's own units.

    Returns:
        dict with ``rmse`` (root mean squared error), ``mae`` (mean absolute error), ``r2``
        (1 - SSE / SST; None with a ``note`` when ``y`` is constant) and ``n``.
    """
    target = as_1d(y, "y")
    pred = as_1d(yhat, "yhat")
    same_length(target, pred, "y", "yhat")
    error = pred - target
    sse = float(np.dot(error, error))
    centered = target - target.mean()
    sst = float(np.dot(centered, centered))
    result: dict[str, Any] = {
        "rmse": float(np.sqrt(sse / len(target))),
        "mae": float(np.abs(error).mean()),
        "r2": 1.0 - sse / sst if sst > 0 else None,
        "n": len(target),
    }
    if sst == 0:
        result["note"] = "y is constant: R² is undefined, so it is None."
    return result
