"""Is the deep model really better? A paired interval over the test rows, and the sentence that says so.

Both models are scored on the same resampled rows, so the interval reflects the difference between
them rather than the noise of each. A resample is a vector of counts (how often each row is drawn),
and the AUC of a resample is a weighted Mann-Whitney statistic over scores sorted once, so a thousand
resamples cost one sort, not a thousand.

On many rows (more than :data:`ASYMPTOTIC_CELLS` resampled cells) the interval is the asymptotic one that
the bootstrap converges to, computed without resampling: DeLong's paired variance of the AUC difference
(:mod:`needmap.metrics.delong`) or, for the log loss, the central limit theorem's variance of the mean of the
per-row loss gaps, each with the normal quantile of the level. The result's ``method`` says which made it.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from needmap.errors import ConfigError, DataError
from needmap.metrics._checks import as_1d, binary_labels, probabilities, same_length
from needmap.metrics.delong import auc_difference_variance

METRICS = {"auc": ("AUC", True), "logloss": ("log loss", False)}
#: The metrics a verdict can be stated in: those of :func:`bootstrap_difference` and those of a lifetime-value
#: target, compared by :func:`needmap.metrics.ltv.paired_ltv_difference`.
VERDICT_METRICS = {**METRICS, "normalized_gini": ("normalized Gini", True), "spearman": ("Spearman correlation", True)}
#: resamples drawn at a time: about this many bytes of int32 counts (small blocks stay in the CPU cache)
CHUNK_BYTES = 2**20
#: a resample that loses a class is drawn again, up to this many times n_boot draws in all
MAX_DRAWS = 20
#: probabilities are clipped to [EPS, 1 - EPS] in the log loss, as scikit-learn's log_loss does
EPS = np.finfo(np.float64).eps
#: Resampled cells (resamples x rows) above which ``method="auto"`` gives the asymptotic interval instead of
#: the bootstrap. The bootstrap's cost grows with that product (n counts per resample, then a pass over them),
#: and on so many rows the distribution of its resampled differences is already the normal one whose variance
#: DeLong's formula (AUC) or the central limit theorem (log loss) gives directly: the percentiles of the
#: resamples would add their own Monte Carlo noise and nothing else. Below it the bootstrap stays, as it
#: makes no assumption of normality where the rows are few.
ASYMPTOTIC_CELLS = 20_000_000
#: How an interval is made: "auto" (the bootstrap up to :data:`ASYMPTOTIC_CELLS`, the asymptotic interval
#: above), or "bootstrap" or "asymptotic" whatever the size.
METHODS = ("auto", "bootstrap", "asymptotic")
#: The ``method`` a result records, and the interval's name in the verdict: the paired bootstrap's
#: percentiles, DeLong's normal interval of an AUC difference, the normal interval of a mean log-loss gap.
INTERVAL_NAMES = {"bootstrap": "bootstrap", "delong": "DeLong", "normal": "normal"}


class _RankedScores:
    """Scores ``[n]`` sorted once (ascending), with their tie blocks, for weighted AUCs of many resamples.

    ``auc`` takes row weights in this sorted order (``order[k]`` is the input row at position k).
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray) -> None:
        self.order = np.argsort(scores, kind="stable")
        ranked = scores[self.order]
        positive = labels[self.order] == 1
        self.negative_mask = (~positive).astype(np.int32)
        # tie blocks: runs of equal scores; each position's block starts at block_start
        new_block = np.r_[True, ranked[1:] != ranked[:-1]]
        starts = np.flatnonzero(new_block)
        block = np.cumsum(new_block) - 1
        block_start = starts[block]
        self.positive_columns = np.flatnonzero(positive)
        # a positive beats the negatives before its block: the cumulative count at block start - 1
        first = block_start[self.positive_columns]
        self.below_columns = np.maximum(first - 1, 0)
        self.below_valid = (first > 0).astype(np.int32)
        # blocks holding both classes add half of their positive x negative pairs
        block_positives = np.add.reduceat(positive.astype(np.int64), starts)
        block_size = np.diff(np.r_[starts, len(ranked)])
        mixed = (block_positives > 0) & (block_positives < block_size)
        self.tie_columns = np.flatnonzero(mixed[block])
        tie_block = block[self.tie_columns]
        self.tie_starts = np.flatnonzero(np.r_[True, tie_block[1:] != tie_block[:-1]]) if len(tie_block) else tie_block
        self.tie_positive = positive[self.tie_columns].astype(np.int32)

    def auc(self, weights: np.ndarray) -> np.ndarray:
        """Weighted ROC AUC of each row of ``weights`` ``[b, n]`` (sorted order) -> ``[b]`` (NaN: one class).

        AUC = sum over positive i, negative j of w_i * w_j * ([s_i > s_j] + [s_i == s_j] / 2),
        divided by (sum of positive weights) * (sum of negative weights).
        """
        # Integer counts stay integers (a row of counts sums to n): cumsum over 4-byte values.
        w = weights if np.issubdtype(weights.dtype, np.integer) else weights.astype(np.float64)
        total = w.sum(axis=1, dtype=np.float64)
        negatives_up_to = np.cumsum(w * self.negative_mask, axis=1, dtype=w.dtype)
        below = np.take(negatives_up_to, self.below_columns, axis=1) * self.below_valid
        pos = w[:, self.positive_columns].astype(np.float64)
        numerator = np.einsum("bk,bk->b", pos, below.astype(np.float64))
        if len(self.tie_columns):
            tied = w[:, self.tie_columns]
            tied_pos = tied * self.tie_positive
            block_pos = np.add.reduceat(tied_pos, self.tie_starts, axis=1).astype(np.float64)
            block_neg = np.add.reduceat(tied - tied_pos, self.tie_starts, axis=1).astype(np.float64)
            numerator += 0.5 * np.einsum("bk,bk->b", block_pos, block_neg)
        total_pos = pos.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return numerator / (total_pos * (total - total_pos))


def weighted_auc(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None) -> float:
    """ROC AUC of scores ``p`` ``[n]`` for labels ``y`` ``[n]`` with row weights ``[n]`` (>= 0; None: all 1).

    Equals ``sklearn.metrics.roc_auc_score(y, p, sample_weight=weights)``; tied scores count 1/2.
    """
    labels = binary_labels(y)
    scores = as_1d(p, "p")
    same_length(labels, scores, "y_true", "p")
    w = np.ones(len(labels)) if weights is None else as_1d(weights, "weights")
    same_length(labels, w, "y_true", "weights")
    if (w < 0).any():
        raise DataError("weights holds negative values; expected row weights >= 0.")
    ranked = _RankedScores(scores, labels)
    value = float(ranked.auc(w[ranked.order][None, :])[0])
    if not math.isfinite(value):
        raise DataError("the weighted rows hold one class only; the AUC needs positives and negatives.")
    return value


def _row_logloss(labels: np.ndarray, prob: np.ndarray) -> np.ndarray:
    q = np.clip(prob, EPS, 1 - EPS)
    return -(labels * np.log(q) + (1 - labels) * np.log1p(-q))


def _resample_counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """``rows`` bootstrap resamples of ``n`` rows as int32 counts ``[rows, n]``: how often each row is drawn."""
    drawn = rng.integers(0, n, size=(rows, n), dtype=np.int32)
    drawn += (np.arange(rows, dtype=np.int32) * n)[:, None]
    return np.bincount(drawn.ravel(), minlength=rows * n).astype(np.int32).reshape(rows, n)


def _check_options(metric: str, n_boot: int, level: float, method: str = "auto") -> None:
    if metric not in METRICS:
        raise ConfigError(f"metric is {metric!r}; expected one of {sorted(METRICS)}.")
    if method not in METHODS:
        raise ConfigError(f"method is {method!r}; expected one of {list(METHODS)}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot is {n_boot!r}; expected an integer >= 1 (1000 is usual).")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(f"level is {level!r}; expected a number in (0, 1), such as 0.95.")


def _use_asymptotic(method: str, n_boot: int, n: int, smaller: int) -> bool:
    """Whether the interval is the asymptotic one: asked for, or "auto" with more than
    :data:`ASYMPTOTIC_CELLS` resampled cells. ``smaller``: rows of the rarer class (AUC) or all rows (log
    loss); the asymptotic variance needs 2 of them, so "auto" keeps the bootstrap with fewer."""
    if method == "bootstrap" or (method == "auto" and (n_boot * n <= ASYMPTOTIC_CELLS or smaller < 2)):
        return False
    if smaller < 2:
        raise DataError(
            f"the asymptotic interval needs 2 rows or more of each class (of all rows for the log loss); "
            f"these {n} rows hold {smaller}. Expected method 'bootstrap' or 'auto'."
        )
    return True


def _normal_interval(difference: float, variance: float, level: float) -> tuple[float, float]:
    """``difference`` plus and minus the normal quantile of ``level`` times the standard error."""
    half = NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(max(variance, 0.0))
    return difference - half, difference + half


def _auc_resamples(
    ranked_a: _RankedScores, ranked_b: _RankedScores, n_boot: int, rng: np.random.Generator, positives: int
) -> tuple[np.ndarray, int]:
    """``n_boot`` resampled AUC differences (a - b) and how many resamples were drawn again for losing a class."""
    n = len(ranked_a.order)
    chunk = max(1, min(n_boot, CHUNK_BYTES // (4 * n)))
    diffs: list[np.ndarray] = []
    kept, drawn, redrawn = 0, 0, 0
    # Count columns are the rows in a's sorted order; b's sorted order is a permutation of them.
    position_in_a = np.empty(n, dtype=np.int64)
    position_in_a[ranked_a.order] = np.arange(n)
    to_b = position_in_a[ranked_b.order]
    while kept < n_boot:
        if drawn >= MAX_DRAWS * n_boot:
            raise DataError(
                f"only {kept} of {drawn} resamples of the {n} rows held both classes ({positives} positives); "
                f"expected more rows of the rarer class for a bootstrap interval of the AUC."
            )
        counts = _resample_counts(rng, chunk, n)
        drawn += chunk
        drawn_pos = counts[:, ranked_a.positive_columns].sum(axis=1)
        good = np.flatnonzero((drawn_pos > 0) & (drawn_pos < n))[: n_boot - kept]
        # resamples that lost a class, up to the last one used
        redrawn += (int(good[-1]) + 1 - len(good)) if kept + len(good) == n_boot else chunk - len(good)
        if len(good) < chunk:
            counts = counts[good]
        if len(good):
            diffs.append(ranked_a.auc(counts) - ranked_b.auc(np.take(counts, to_b, axis=1)))
            kept += len(good)
    return np.concatenate(diffs), redrawn


def _logloss_resamples(loss_gap: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` resampled means of the per-row log-loss gaps ``[n]``."""
    n = len(loss_gap)
    chunk = max(1, min(n_boot, CHUNK_BYTES // (4 * n)))
    diffs: list[np.ndarray] = []
    kept = 0
    while kept < n_boot:
        counts = _resample_counts(rng, min(chunk, n_boot - kept), n)
        diffs.append(counts @ loss_gap / n)
        kept += len(counts)
    return np.concatenate(diffs)


def bootstrap_difference(
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    *,
    metric: str = "auc",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    method: str = "auto",
) -> dict[str, Any]:
    """Paired interval of ``metric(a) - metric(b)`` over the rows: the bootstrap's, or on many rows the
    asymptotic interval it converges to.

    Each resample draws n rows with replacement; both models are scored on the same drawn rows.
    For the AUC, a resample holding one class only is drawn again (counted in ``redrawn``).
    Above :data:`ASYMPTOTIC_CELLS` resampled cells (``n_boot`` x n) no row is drawn: the interval is the
    difference plus and minus the normal quantile of ``level`` times its standard error, DeLong's paired
    one for the AUC (:func:`needmap.metrics.delong.auc_difference_variance`, ties counted 1/2 as here), the
    standard deviation of the per-row loss gaps over the square root of n for the log loss.

    Args:
        y: binary labels ``[n]`` (both classes for the AUC).
        p_a: scores of model a ``[n]`` (the deep model): any real numbers for the AUC,
            probabilities in [0, 1] for the log loss.
        p_b: scores of model b ``[n]`` (the other model), on the same rows.
        metric: "auc" (higher is better) or "logloss" (natural log, mean per row; lower is better).
        n_boot: number of resamples.
        level: coverage of the interval (0.95: from the 2.5th to the 97.5th percentile).
        seed: seed of the resampling: the same seed gives the same interval.
        method: "auto" (see above), "bootstrap" or "asymptotic" (:data:`METHODS`).

    Returns:
        ``{"metric", "deep", "other", "difference", "low", "high", "level", "n_boot", "redrawn", "method"}``:
        ``deep`` and ``other`` are the metric of a and b on all rows, ``difference`` = deep - other,
        ``low`` and ``high`` the percentiles of the resampled differences (or the asymptotic interval's ends);
        ``n_boot`` the resamples drawn (0 for an asymptotic interval); ``method`` "bootstrap", "delong" (AUC)
        or "normal" (log loss).
    """
    _check_options(metric, n_boot, level, method)
    labels = binary_labels(y)
    if metric == "auc":
        a, b = as_1d(p_a, "p_a"), as_1d(p_b, "p_b")
    else:
        a, b = probabilities(p_a, "p_a"), probabilities(p_b, "p_b")
    same_length(labels, a, "y_true", "p_a")
    same_length(labels, b, "y_true", "p_b")
    n = len(labels)
    rng = np.random.default_rng(seed)
    redrawn = 0
    if metric == "auc":
        positives = int(labels.sum())
        if positives in (0, n):
            only = "positives" if positives else "negatives"
            raise DataError(f"y_true holds only {only} ({n} rows); the AUC needs both classes.")
        ranked_a, ranked_b = _RankedScores(a, labels), _RankedScores(b, labels)
        deep, other = (float(r.auc(np.ones((1, n), dtype=np.int32))[0]) for r in (ranked_a, ranked_b))
        asymptotic = _use_asymptotic(method, n_boot, n, min(positives, n - positives))
        if asymptotic:
            low, high = _normal_interval(deep - other, auc_difference_variance(labels == 1, a, b), level)
            low, high, made = max(low, -1.0), min(high, 1.0), "delong"
        else:
            differences, redrawn = _auc_resamples(ranked_a, ranked_b, n_boot, rng, positives)
    else:
        loss_a, loss_b = _row_logloss(labels, a), _row_logloss(labels, b)
        loss_gap = loss_a - loss_b
        deep, other = float(loss_a.mean()), float(loss_b.mean())
        asymptotic = _use_asymptotic(method, n_boot, n, n)
        if asymptotic:
            low, high = _normal_interval(deep - other, float(np.var(loss_gap, ddof=1)) / n, level)
            made = "normal"
        else:
            differences = _logloss_resamples(loss_gap, n_boot, rng)
    if not asymptotic:
        tail = (1 - level) / 2
        low, high = np.quantile(differences, [tail, 1 - tail])
        made = "bootstrap"
    return {
        "metric": metric,
        "deep": deep,
        "other": other,
        "difference": deep - other,
        "low": float(low),
        "high": float(high),
        "level": float(level),
        "n_boot": 0 if asymptotic else int(n_boot),
        "redrawn": int(redrawn),
        "method": made,
    }


def interval_name(comparison: dict[str, Any]) -> str:
    """How the interval of a comparison was made, in words ("bootstrap", "DeLong", "normal"): its ``method``,
    "bootstrap" when it has none (comparisons saved before the asymptotic intervals, all bootstraps)."""
    method = comparison.get("method") or "bootstrap"
    return INTERVAL_NAMES.get(method, str(method))


def verdict_sentence(comparisons: list[dict[str, Any]]) -> str:
    """One sentence: is the deep model better than the best baseline, with its paired interval.

    Args:
        comparisons: one :func:`bootstrap_difference` result per baseline, each with a ``baseline``
            key naming it. The best baseline is the one with the best ``other`` value (highest AUC,
            lowest log loss); comparisons in AUC are preferred when several metrics are given. The
            interval is named by its ``method`` (:data:`INTERVAL_NAMES`); a comparison without one
            (written before intervals could be asymptotic) is a bootstrap's.

    Returns:
        "the deep model is better than B by ..." when the whole interval favours the deep model,
        "use B: it is better than the deep model by ..." when it favours B, and "use B: the deep
        model is not better on this data (...)" when the interval holds 0.
    """
    if not comparisons:
        return "no comparison: no baseline was scored on these rows."
    by_metric = [c for c in comparisons if c.get("metric") == "auc"] or [
        c for c in comparisons if c.get("metric") == comparisons[0].get("metric")
    ]
    metric = by_metric[0].get("metric", "auc")
    if metric not in VERDICT_METRICS:
        raise ConfigError(f"comparison metric is {metric!r}; expected one of {sorted(VERDICT_METRICS)}.")
    name, higher_better = VERDICT_METRICS[metric]
    best = (max if higher_better else min)(by_metric, key=lambda c: c["other"])
    base = best.get("baseline", "the baseline")
    d, low, high = best["difference"], best["low"], best["high"]
    interval = f"{best['level'] * 100:g}% {interval_name(best)} interval"
    # gain: how much better the deep model is, positive when it is better
    gain, gain_low, gain_high = (d, low, high) if higher_better else (-d, -high, -low)
    if gain_low > 0:
        return (
            f"the deep model is better than {base} by {gain:.3f} {name} [{gain_low:.3f}, {gain_high:.3f}] ({interval})."
        )
    if gain_high < 0:
        return (
            f"use {base}: it is better than the deep model by {-gain:.3f} {name} "
            f"[{-gain_high:.3f}, {-gain_low:.3f}] ({interval})."
        )
    return (
        f"use {base}: the deep model is not better on this data "
        f"({name} difference {d:+.3f} [{low:+.3f}, {high:+.3f}], {interval})."
    )
