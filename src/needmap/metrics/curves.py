"""Curves of a binary classifier for people to look at: ROC, precision-recall, gains, lift,
calibration and profit. Pure numpy on arrays; every function returns lists of Python floats.

Rows are ranked by score from high to low with a stable sort (tied scores keep their input order),
and the top share ``s`` of ``n`` rows holds ``ceil(s * n)`` rows, as in
:func:`needmap.metrics.classification.lift_capture`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from needmap.errors import ConfigError, DataError
from needmap.metrics._checks import as_1d, binary_labels, fraction, probabilities, same_length
from needmap.metrics.classification import _top_count
from needmap.metrics.score_order import descending_order

LIFT_TOPS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


def _labels_scores(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = binary_labels(y)
    scores = as_1d(p, "p")
    same_length(labels, scores, "y_true", "p")
    return labels, scores


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} is {value!r}; expected an integer >= {minimum}.")
    return int(value)


def _amount(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} is {value!r}; expected a finite number >= 0.")
    return float(value)


def _need_both_classes(labels: np.ndarray, what: str) -> None:
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        only = "positives" if positives else "negatives"
        raise DataError(f"y_true holds only {only} ({len(labels)} rows); {what} needs both classes.")


def _need_positive(labels: np.ndarray, what: str) -> None:
    if not labels.any():
        raise DataError(f"y_true holds no positive ({len(labels)} rows); {what} needs at least one.")


def _downsample(count: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``count`` points, evenly spread, first and last kept."""
    if count <= max_points:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, max_points)).astype(np.int64))


def _ranked_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives ``[m]`` when contacting every row scoring >= each distinct score
    (distinct scores from high to low): the points of the ROC and precision-recall curves."""
    order = descending_order(scores)
    sorted_scores, sorted_labels = scores[order], labels[order]
    # the last row of each group of tied scores
    ends = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(sorted_scores) - 1]
    tp = np.cumsum(sorted_labels)[ends]
    fp = ends + 1 - tp
    return tp.astype(np.float64), fp.astype(np.float64)


def roc_points(y: np.ndarray, p: np.ndarray, max_points: int = 201) -> dict[str, list[float]]:
    """The ROC curve: false positive rate against true positive rate.

    Args:
        y: binary labels ``[n]`` (0/1 or bool); both classes must occur.
        p: scores ``[n]`` (higher = more likely positive).
        max_points: the most points returned (>= 2). A curve with more distinct scores keeps
            ``max_points`` of its points evenly spread along it, always (0, 0) and (1, 1).

    Returns:
        ``{"fpr": [...], "tpr": [...]}``: rates in [0, 1] at each distinct score threshold from high
        to low, starting at (0, 0) and ending at (1, 1). Not downsampled, the area under the points
        (trapezoids) equals the ROC AUC.
    """
    labels, scores = _labels_scores(y, p)
    _need_both_classes(labels, "a ROC curve")
    points = _count(max_points, "max_points", 2)
    tp, fp = _ranked_counts(labels, scores)
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    keep = _downsample(len(tpr), points)
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}


def pr_points(y: np.ndarray, p: np.ndarray, max_points: int = 201) -> dict[str, list[float]]:
    """The precision-recall curve.

    Args:
        y: binary labels ``[n]`` (0/1 or bool); at least one positive.
        p: scores ``[n]`` (higher = more likely positive).
        max_points: the most points returned (>= 2), evenly spread along the curve, first and last kept.

    Returns:
        ``{"recall": [...], "precision": [...]}``: starting at recall 0 with precision 1 (nobody
        contacted), then one point per distinct score threshold from high to low, ending at recall 1
        with precision = the share of positives. Not downsampled,
        ``sum((recall[i] - recall[i - 1]) * precision[i])`` is the average precision.
    """
    labels, scores = _labels_scores(y, p)
    _need_positive(labels, "a precision-recall curve")
    points = _count(max_points, "max_points", 2)
    tp, fp = _ranked_counts(labels, scores)
    recall = np.r_[0.0, tp / tp[-1]]
    precision = np.r_[1.0, tp / (tp + fp)]
    keep = _downsample(len(recall), points)
    return {"recall": recall[keep].tolist(), "precision": precision[keep].tolist()}


def _captured(labels: np.ndarray, scores: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows contacted ``[len(shares)]`` (ceil(share * n), 0 for share 0) and positives among them."""
    n = len(labels)
    order = descending_order(scores)
    caught = np.r_[0, np.cumsum(labels[order])]
    contacted = np.array([_top_count(n, float(s)) if s > 0 else 0 for s in shares], dtype=np.int64)
    return contacted, caught[contacted]


def _shares(points: int, *, with_zero: bool) -> np.ndarray:
    steps = np.arange(0 if with_zero else 1, points + 1)
    return np.round(steps / points, 12)


def gains_curve(y: np.ndarray, p: np.ndarray, points: int = 100) -> dict[str, list[float]]:
    """The cumulative gains curve: share of all positives captured by contacting the top rows.

    Args:
        y: binary labels ``[n]``; at least one positive.
        p: scores ``[n]`` (higher = more likely positive).
        points: number of steps: shares 0, 1/points, ..., 1.

    Returns:
        ``{"share": [...], "captured": [...]}`` with ``points + 1`` values each: share of rows
        contacted (0 to 1) and share of positives among them (0 to 1).
    """
    labels, scores = _labels_scores(y, p)
    _need_positive(labels, "a gains curve")
    shares = _shares(_count(points, "points", 1), with_zero=True)
    _, caught = _captured(labels, scores, shares)
    return {"share": shares.tolist(), "captured": (caught / labels.sum()).tolist()}


def lift_curve(y: np.ndarray, p: np.ndarray, points: int = 100) -> dict[str, list[float]]:
    """The cumulative lift curve: positive rate in the top rows / positive rate of all rows.

    Args:
        y: binary labels ``[n]``; at least one positive.
        p: scores ``[n]`` (higher = more likely positive).
        points: number of steps: shares 1/points, 2/points, ..., 1.

    Returns:
        ``{"share": [...], "lift": [...]}`` with ``points`` values each (share > 0); lift is 1 at
        share 1 and above 1 where the top rows are richer in positives than the average.
    """
    labels, scores = _labels_scores(y, p)
    _need_positive(labels, "a lift curve")
    shares = _shares(_count(points, "points", 1), with_zero=False)
    contacted, caught = _captured(labels, scores, shares)
    base_rate = labels.sum() / len(labels)
    return {"share": shares.tolist(), "lift": (caught / contacted / base_rate).tolist()}


def lift_table(y: np.ndarray, p: np.ndarray, tops: tuple[float, ...] = LIFT_TOPS) -> list[dict[str, float | None]]:
    """Lift and capture rate at a few top shares: :func:`~needmap.metrics.classification.lift_capture` at
    each, from one ranking of the rows (the same stable sort, so the same rows in each top group) rather than
    one sort per share.

    Returns:
        ``[{"top": 0.01, "lift": ..., "capture": ...}, ...]``, one row per share in ``tops``; lift
        and capture are None when ``y`` has no positive.
    """
    labels = binary_labels(y)
    scores = as_1d(p, "p")
    same_length(labels, scores, "y_true", "p")
    shares = [fraction(top, "top") for top in tops]
    n, positives = len(labels), int(labels.sum())
    if positives == 0:
        return [{"top": float(top), "lift": None, "capture": None} for top in tops]
    caught_within = np.cumsum(labels[descending_order(scores)])  # positives among the first k + 1
    rows: list[dict[str, float | None]] = []
    for top, share in zip(tops, shares, strict=True):
        k = _top_count(n, share)
        caught = int(caught_within[k - 1])
        lift = (caught / k) / (positives / n)
        rows.append({"top": float(top), "lift": float(lift), "capture": float(caught / positives)})
    return rows


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[Any]]:
    """The reliability curve: mean predicted probability against the observed positive rate per bin.

    Bins are ``bins`` equal-width intervals over [0, 1]; a probability exactly on an inner edge
    falls in the lower bin and 1 in the last bin, as in scikit-learn's
    ``calibration_curve(strategy="uniform")``. Empty bins are left out.

    Args:
        y: binary labels ``[n]``.
        p: probabilities ``[n]`` in [0, 1].
        bins: number of bins (>= 1).

    Returns:
        ``{"mean_predicted": [...], "observed": [...], "count": [...]}``, one value per non-empty bin
        from low to high: mean of ``p``, share of positives (both in [0, 1]) and rows in the bin.
    """
    labels = binary_labels(y).astype(np.float64)
    prob = probabilities(p)
    same_length(labels, prob, "y_true", "p")
    k = _count(bins, "bins", 1)
    edges = np.linspace(0.0, 1.0, k + 1)
    index = np.searchsorted(edges[1:-1], prob)
    count = np.bincount(index, minlength=k)
    full = count > 0
    mean_p = np.bincount(index, weights=prob, minlength=k)[full] / count[full]
    observed = np.bincount(index, weights=labels, minlength=k)[full] / count[full]
    return {"mean_predicted": mean_p.tolist(), "observed": observed.tolist(), "count": count[full].tolist()}


def profit_curve(
    y: np.ndarray, p: np.ndarray, contact_cost: float, conversion_value: float, points: int = 100
) -> dict[str, Any]:
    """Profit of contacting the top share of rows ranked by score.

    Contacting ``k`` rows that hold ``c`` positives earns
    ``profit = conversion_value * c - contact_cost * k`` (in the unit of the two amounts).

    Args:
        y: binary labels ``[n]`` (1 = the contacted row converts).
        p: scores ``[n]`` (higher = more likely positive).
        contact_cost: cost of contacting one row (>= 0).
        conversion_value: value of one conversion (>= 0).
        points: number of steps: shares 1/points, 2/points, ..., 1 (share 0, nobody, is profit 0).

    Returns:
        ``{"share": [...], "threshold": [...], "profit": [...], "best": {...}}``: ``points`` values
        each; ``threshold`` is the lowest score contacted. ``best`` is the cutoff with the highest
        profit over every number of rows 0..n (the fewest rows among equals), as
        ``{"share", "threshold", "profit", "contacted", "conversions"}``; contacting nobody gives
        share 0, threshold None and profit 0.
    """
    labels, scores = _labels_scores(y, p)
    cost = _amount(contact_cost, "contact_cost")
    value = _amount(conversion_value, "conversion_value")
    shares = _shares(_count(points, "points", 1), with_zero=False)
    n = len(labels)
    order = descending_order(scores)
    sorted_scores = scores[order]
    caught = np.r_[0, np.cumsum(labels[order])]
    every = value * caught - cost * np.arange(n + 1)  # profit of contacting the top k rows, k = 0..n
    contacted = np.array([_top_count(n, float(s)) for s in shares], dtype=np.int64)
    best_k = int(np.argmax(every))  # the first maximum: the fewest rows
    best = {
        "share": best_k / n,
        "threshold": float(sorted_scores[best_k - 1]) if best_k else None,
        "profit": float(every[best_k]),
        "contacted": best_k,
        "conversions": int(caught[best_k]),
    }
    return {
        "share": shares.tolist(),
        "threshold": sorted_scores[contacted - 1].tolist(),
        "profit": every[contacted].tolist(),
        "best": best,
    }
