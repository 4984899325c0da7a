"""Metrics of binary and multiclass classifiers: pure numpy (and scikit-learn) on arrays.

scikit-learn is imported when a metric is first computed, not with needmap (its import costs memory
and start-up time that training and scoring, which need none of it, should not pay).

Every function returns a dict of JSON-safe values (Python floats and ints, or None where a metric
is undefined for the given labels, with a ``note`` that says why).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from needmap.errors import ConfigError, DataError
from needmap.metrics._checks import as_1d, binary_labels, fraction, probabilities, same_length
from needmap.metrics.score_order import computed_once, descending_order

ECE_BINS = 10


def _sk() -> Any:
    """sklearn.metrics, imported on first use."""
    import sklearn.metrics

    return sklearn.metrics


def _top_count(n: int, top: float) -> int:
    """Number of rows in the top ``top`` share of ``n`` rows: ceil(top * n), at least 1."""
    # round() first, so that 0.1 * 30 = 3.0000000000000004 counts 3 rows, not 4.
    return max(1, math.ceil(round(top * n, 9)))


def lift_capture(y: np.ndarray, p: np.ndarray, top: float = 0.1) -> tuple[float | None, float | None]:
    """Lift and capture rate of the ``top`` share of rows ranked by score.

    Rows are ranked by ``p`` from high to low with a stable sort, so tied scores keep their input
    order and the result is deterministic. The top group holds ``ceil(top * n)`` rows (at least 1).

    Args:
        y: binary labels ``[n]`` (0/1 or bool).
        p: scores ``[n]`` (any real numbers; higher = more likely positive).
        top: share of rows in the top group, in (0, 1].

    Returns:
        ``(lift, capture)``: lift = positive rate in the top group / positive rate of all rows;
        capture = share of all positives that fall in the top group. Both None when ``y`` has no
        positive.
    """
    labels = binary_labels(y)
    scores = as_1d(p, "p")
    same_length(labels, scores, "y_true", "p")
    share = fraction(top, "top")
    positives = int(labels.sum())
    if positives == 0:
        return None, None
    k = _top_count(len(labels), share)
    order = descending_order(scores)
    caught = int(labels[order[:k]].sum())
    lift = (caught / k) / (positives / len(labels))
    return float(lift), float(caught / positives)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error with ``bins`` equal-width bins over [0, 1].

    ECE = sum over bins b of (n_b / n) * |mean(y in b) - mean(p in b)|; a probability of exactly 1
    falls in the last bin. ``y``: labels ``[n]`` 0/1; ``p``: probabilities ``[n]`` in [0, 1].
    """
    labels = binary_labels(y).astype(np.float64)
    prob = probabilities(p)
    same_length(labels, prob, "y_true", "p")
    index = np.minimum((prob * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(np.bincount(index, weights=labels, minlength=bins) - np.bincount(index, weights=prob, minlength=bins))
    # sum_b (n_b / n) * |sum_y_b / n_b - sum_p_b / n_b| = sum_b |sum_y_b - sum_p_b| / n
    return float(gap[count > 0].sum() / len(labels))


def binary_metrics(y_true: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """All metrics of a binary classifier.

    Args:
        y_true: labels ``[n]``: 0/1 or bool, 1 = positive class.
        p: predicted probabilities of the positive class ``[n]``, in [0, 1].
        threshold: a row is predicted positive when ``p >= threshold``.

    Returns:
        dict with ``auc`` (ROC AUC), ``logloss`` (natural log, mean per row), ``pr_auc`` (average
        precision), ``accuracy``, ``precision`` and ``recall`` at ``threshold``, ``ece`` (10
        equal-width bins), ``lift_at_10`` and ``capture_at_10`` (top 10% by score), ``positive_rate``
        (share of positives in ``y_true``), ``threshold`` (the cut-off of accuracy, precision and recall, so
        that they are never shown without it) and ``n``. When ``y_true`` holds one class only, ``auc``,
        ``pr_auc``, lift and capture are None (and ``recall`` too when there is no positive) and
        ``note`` says why.
    """
    y = binary_labels(y_true)
    prob = probabilities(p)
    same_length(y, prob, "y_true", "p")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ConfigError(f"threshold is {threshold!r}; expected a number in [0, 1].")
    # the held-out judgement and the evaluation document report the same model's metrics on the same rows
    return dict(computed_once("binary_metrics", (y, prob), lambda: _binary_metrics(y, prob, threshold), threshold))


def _binary_metrics(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, Any]:
    """:func:`binary_metrics` of checked labels and probabilities."""
    n = len(y)
    positives = int(y.sum())
    predicted = prob >= threshold
    tp = int((predicted & (y == 1)).sum())
    n_predicted = int(predicted.sum())
    result: dict[str, Any] = {
        "auc": None,
        "logloss": float(_sk().log_loss(y, prob, labels=[0, 1])),
        "pr_auc": None,
        "accuracy": float((predicted == (y == 1)).mean()),
        "precision": tp / n_predicted if n_predicted else 0.0,
        "recall": tp / positives if positives else None,
        "ece": expected_calibration_error(y, prob),
        "lift_at_10": None,
        "capture_at_10": None,
        "positive_rate": positives / n,
        "threshold": float(threshold),
        "n": n,
    }
    if 0 < positives < n:
        result["auc"] = float(_sk().roc_auc_score(y, prob))
        result["pr_auc"] = float(_sk().average_precision_score(y, prob))
        result["lift_at_10"], result["capture_at_10"] = lift_capture(y, prob, 0.1)
    else:
        only = "positives" if positives else "negatives"
        result["note"] = f"y_true holds only {only} ({n} rows): AUC, PR AUC, lift and capture need both classes: None."
    return result


def multiclass_metrics(y: np.ndarray, P: np.ndarray) -> dict[str, Any]:
    """Metrics of a classifier over K classes.

    Args:
        y: class indices ``[n]`` (int) in [0, K).
        P: predicted probabilities ``[n, K]``, rows summing to 1 (they are renormalized).

    Returns:
        dict with ``accuracy`` (argmax of P), ``logloss`` (natural log, mean per row), ``macro_auc``
        (unweighted mean of the one-vs-rest ROC AUC of each class present in ``y``; None when no
        class is both present and absent) and ``n``. When a class never occurs in ``y``, it is left
        out of ``macro_auc`` and ``note`` names it.
    """
    prob = np.asarray(P, dtype=np.float64)
    if prob.ndim != 2 or prob.shape[1] < 2:
        raise DataError(f"P has shape {prob.shape}; expected probabilities [n, K] with K >= 2 classes.")
    if not np.isfinite(prob).all() or (prob < 0).any():
        raise DataError("P holds negative, NaN or infinite values; expected probabilities in [0, 1].")
    labels = as_1d(y, "y", dtype=np.float64)
    same_length(labels, prob, "y", "P")
    k = prob.shape[1]
    if ((labels != np.round(labels)) | (labels < 0) | (labels >= k)).any():
        raise DataError(f"y holds values that are not class indices in [0, {k}); expected integers 0 to {k - 1}.")
    labels = labels.astype(np.int64)
    prob = prob / prob.sum(axis=1, keepdims=True)
    result: dict[str, Any] = {
        "accuracy": float((prob.argmax(axis=1) == labels).mean()),
        "logloss": float(_sk().log_loss(labels, prob, labels=list(range(k)))),
        "macro_auc": None,
        "n": len(labels),
    }
    counts = np.bincount(labels, minlength=k)
    scored = [c for c in range(k) if 0 < counts[c] < len(labels)]
    if scored:
        result["macro_auc"] = float(np.mean([_sk().roc_auc_score(labels == c, prob[:, c]) for c in scored]))
    missing = [c for c in range(k) if counts[c] == 0]
    if missing:
        result["note"] = (
            f"classes {missing} do not occur in y: macro_auc averages the one-vs-rest AUC of {len(scored)} "
            f"of {k} classes."
        )
    return result
