"""What a regression model's report draws: its residuals, its calibration by decile and its gains by
predicted amount, on numpy arrays of actual values ``y`` ``[n]`` and predictions ``yhat`` ``[n]``.

- :func:`residual_histogram`: how far off the predictions are (actual minus predicted), as a histogram;
- :func:`decile_calibration`: the rows in ten groups by predicted value, the mean predicted beside the mean
  actual value of each (a calibrated model's points lie on the diagonal);
- :func:`amount_gains`: contacting the rows with the largest predictions first, the share of the total
  actual amount that the top share of rows holds (the regression counterpart of cumulative gains).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from needmap.errors import DataError

#: Equal-width bins of the residual histogram between the 1% and the 99% quantile of the residuals.
RESIDUAL_BINS = 20
#: Groups of rows by predicted value in :func:`decile_calibration`.
DECILES = 10


def _pairs(y: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y`` and ``yhat`` as float64 ``[n]`` with the rows where either is not finite left out."""
    y, yhat = np.asarray(y, dtype=np.float64).ravel(), np.asarray(yhat, dtype=np.float64).ravel()
    if y.shape != yhat.shape:
        raise DataError(f"y has {y.size} values and the predictions {yhat.size}; expected one prediction per row.")
    keep = np.isfinite(y) & np.isfinite(yhat)
    return y[keep], yhat[keep]


def residual_histogram(y: np.ndarray, yhat: np.ndarray) -> dict[str, Any] | None:
    """Residuals (actual minus predicted) in :data:`RESIDUAL_BINS` equal-width bins between their 1% and 99%
    quantiles, the rest counted in the outer bins.

    Returns:
        ``{"edges": [b+1], "counts": [b+2] (below, each bin, above), "mean", "median", "p5", "p95"}``;
        None without a finite pair.
    """
    y, yhat = _pairs(y, yhat)
    if y.size == 0:
        return None
    residuals = y - yhat
    low, high = np.quantile(residuals, [0.01, 0.99])
    edges = np.linspace(low, high, RESIDUAL_BINS + 1) if high > low else np.array([low, high])
    index = np.searchsorted(edges, residuals, side="right")
    index[residuals == edges[-1]] = len(edges) - 1
    counts = np.bincount(index, minlength=len(edges) + 1)
    return {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "mean": float(residuals.mean()),
        "median": float(np.median(residuals)),
        "p5": float(np.quantile(residuals, 0.05)),
        "p95": float(np.quantile(residuals, 0.95)),
    }


def decile_calibration(y: np.ndarray, yhat: np.ndarray, groups: int = DECILES) -> dict[str, list[Any]] | None:
    """The rows sorted by prediction (ties in row order) and cut into ``groups`` groups of near-equal size,
    lowest predictions first: each group's mean predicted and mean actual value and its row count.

    Returns:
        ``{"mean_predicted", "mean_actual", "count"}``, one entry per non-empty group; None without rows.
    """
    y, yhat = _pairs(y, yhat)
    if y.size == 0:
        return None
    order = np.argsort(yhat, kind="stable")
    parts = [p for p in np.array_split(order, min(groups, y.size)) if p.size]
    return {
        "mean_predicted": [float(yhat[p].mean()) for p in parts],
        "mean_actual": [float(y[p].mean()) for p in parts],
        "count": [int(p.size) for p in parts],
    }


def amount_gains(y: np.ndarray, yhat: np.ndarray, points: int = 100) -> dict[str, list[float]] | None:
    """The share of the total actual amount held by the top share of rows by prediction, at ``points`` + 1
    shares from 0 to 1 (ties in row order).

    Returns:
        ``{"share", "captured"}``; None without rows or when the actual values do not add up to a positive
        total (a share of it means nothing then).
    """
    y, yhat = _pairs(y, yhat)
    total = float(y.sum()) if y.size else 0.0
    if y.size == 0 or not total > 0:
        return None
    order = np.argsort(-yhat, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(y[order])])
    shares = np.linspace(0.0, 1.0, points + 1)
    counts = np.ceil(shares * y.size - 1e-9).astype(int)
    return {"share": [float(s) for s in shares], "captured": [float(c) for c in cumulative[counts] / total]}
