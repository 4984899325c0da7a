"""Metrics of a lifetime-value model: a predicted spend over a horizon against the spend that came.

Most customers spend nothing in a horizon and a few spend much, so the figures the customer-lifetime-value
literature reports (Wang, Liu & Miao 2019, "A Deep Probabilistic Model for Customer Lifetime Value
Prediction") are about ranking and about money in aggregate rather than about squared error alone:

* :func:`normalized_gini`: how much of the spend the prediction's ranking puts first, relative to the
  perfect ranking;
* :func:`spearman`: the rank correlation of prediction and spend;
* :func:`decile_calibration` and :func:`decile_mape`: mean predicted against mean actual spend per decile of
  the prediction;
* :func:`aggregate_error`: the total predicted against the total spent;
* the AUC of the chance to buy against "spent something", RMSE and MAE.

Pure numpy on arrays; JSON-safe results (None where a figure is undefined, with a note).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from needmap.errors import ConfigError
from needmap.metrics._checks import as_1d, same_length
from needmap.metrics.compare import weighted_auc

#: The number of groups of :func:`decile_calibration`.
DECILES = 10


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` ``[n]``, ties given the mean of the ranks they span (as
    ``scipy.stats.rankdata(method="average")``)."""
    x = as_1d(values, "values")
    order = np.argsort(x, kind="mergesort")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def _tie_means(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``actual`` with each group of rows of equal ``predicted`` given the group's mean: a ranking cannot
    order rows it scores alike, so they count as if spread evenly (no credit for the input's order)."""
    _, inverse, counts = np.unique(predicted, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=actual)
    return (sums / counts)[inverse]


def gini(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """The Gini coefficient of the cumulative actual spend with rows ranked by ``predicted``, highest first.

    With rows sorted by ``predicted`` descending and ``L_k`` the share of the total ``actual`` in the first k
    of n rows, ``gini = 2 * mean_k(L_k - k / n)``: twice the area between the curve of cumulative spend and the
    diagonal of a ranking that knows nothing. Wang et al.'s code computes ``2 * mean_k(L_k) - 1``, which is this
    plus ``1/n``; the difference vanishes on many rows and makes a constant prediction score exactly 0 here.
    Rows tied on ``predicted`` share their spend evenly, so ties earn nothing from the rows' order. At most
    ``1 - 1/n`` (all spend in the first row); negative for a ranking worse than chance. None when the total
    ``actual`` is 0 (no spend to order).
    """
    y = as_1d(actual, "actual")
    p = as_1d(predicted, "predicted")
    same_length(y, p, "actual", "predicted")
    total = float(y.sum())
    if total == 0:
        return None
    spread = _tie_means(y, p)
    order = np.argsort(-p, kind="mergesort")
    cumulative = np.cumsum(spread[order]) / total
    chance = np.arange(1, len(y) + 1) / len(y)
    return float(2.0 * np.mean(cumulative - chance))


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """:func:`gini` of ``predicted`` divided by :func:`gini` of the perfect ranking (``actual`` itself).

    1 for a ranking that orders the spend as well as the spend itself, 0 for a constant prediction (and about 0
    for a random one), negative for one worse. None when the total spend is 0 or all rows spend alike (the
    perfect Gini is 0: there is no order to find).
    """
    model = gini(actual, predicted)
    perfect = gini(actual, actual)
    if model is None or perfect is None or perfect <= 1e-12:
        return None
    return float(model / perfect)


def spearman(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """Spearman's rank correlation: Pearson's correlation of the :func:`average_ranks` of both (equals
    ``scipy.stats.spearmanr``); None when either is constant."""
    y = as_1d(actual, "actual")
    p = as_1d(predicted, "predicted")
    same_length(y, p, "actual", "predicted")
    a, b = average_ranks(y), average_ranks(p)
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return None if denominator == 0 else float(np.dot(a, b) / denominator)


def decile_calibration(actual: np.ndarray, predicted: np.ndarray, groups: int = DECILES) -> list[dict[str, Any]]:
    """Mean predicted and mean actual spend per decile of ``predicted``, lowest decile first.

    The rows sorted by ``predicted`` (ties in input order) are cut into ``groups`` parts of sizes differing by
    at most one (``numpy.array_split``); fewer rows than groups gives one part per row. Each entry:
    ``{"decile", "rows", "predicted", "actual"}`` (means over the part).
    """
    y = as_1d(actual, "actual")
    p = as_1d(predicted, "predicted")
    same_length(y, p, "actual", "predicted")
    order = np.argsort(p, kind="mergesort")
    parts = [part for part in np.array_split(order, min(groups, len(order))) if len(part)]
    return [
        {"decile": i + 1, "rows": len(part), "predicted": float(p[part].mean()), "actual": float(y[part].mean())}
        for i, part in enumerate(parts)
    ]


def decile_mape(deciles: list[dict[str, Any]]) -> float | None:
    """The mean over deciles of ``|mean predicted - mean actual| / mean actual`` (a fraction, 0.1 = 10%), from
    :func:`decile_calibration`; deciles whose mean actual spend is 0 are left out (the ratio is undefined there).
    None when every decile is left out."""
    errors = [abs(d["predicted"] - d["actual"]) / d["actual"] for d in deciles if d["actual"] > 0]
    return float(np.mean(errors)) if errors else None


def aggregate_error(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """``sum(predicted) / sum(actual) - 1``: the relative error of the total spend (0.05 = 5% too much);
    None when nothing was spent."""
    y = as_1d(actual, "actual")
    p = as_1d(predicted, "predicted")
    same_length(y, p, "actual", "predicted")
    total = float(y.sum())
    return None if total == 0 else float(p.sum() / total - 1.0)


_PAIRED = {"normalized_gini": normalized_gini, "spearman": spearman}


def _groups(values: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows sorted by ``values`` (``order``), where each run of equal values starts in that order
    (``starts``), and each row's run (``group`` ``[n]``, in the rows' own order)."""
    order = np.argsort(-values if descending else values, kind="mergesort")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.empty(len(values), dtype=np.int64)
    group[order] = np.cumsum(first) - 1
    return order, np.flatnonzero(first), group


def _resampled_gini(counts: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """:func:`gini` of each resample ``[B]``, the resamples given as draw counts ``[B, n]`` of the rows: the
    value :func:`gini` gives on the rows drawn, computed without sorting each resample again. A run of rows
    tied on ``predicted`` holds ``C`` drawn rows after ``a`` others and spends ``S``; in the cumulative curve
    it adds ``S * (n - a - (C - 1) / 2)`` to the sum of the cumulative spend. NaN where nothing was spent."""
    order, starts, _ = _groups(predicted, descending=True)
    weights = counts[:, order].astype(np.float64)
    drawn = np.add.reduceat(weights, starts, axis=1)
    spent = np.add.reduceat(weights * actual[order], starts, axis=1)
    before = np.cumsum(drawn, axis=1) - drawn
    n = drawn.sum(axis=1)
    total = spent.sum(axis=1)
    area = (spent * (n[:, None] - before - (drawn - 1.0) / 2.0)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, 2.0 / n * area / total - (n + 1.0) / n, np.nan)


def _resampled_normalized_gini(counts: np.ndarray, actual: np.ndarray, *predicted: np.ndarray) -> list[np.ndarray]:
    """:func:`normalized_gini` of each resample ``[B]`` for each of ``predicted`` (NaN where it is undefined);
    the perfect ranking's Gini is computed once for all."""
    perfect = _resampled_gini(counts, actual, actual)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.where(perfect > 1e-12, _resampled_gini(counts, actual, p) / perfect, np.nan) for p in predicted]


def _resampled_ranks(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each row's :func:`average_ranks` rank ``[B, n]`` among the rows drawn in each resample."""
    order, starts, group = _groups(values, descending=False)
    drawn = np.add.reduceat(counts[:, order], starts, axis=1)
    ranks = np.cumsum(drawn, axis=1) - drawn + (drawn + 1.0) / 2.0
    return ranks[:, group]


def _resampled_spearman(counts: np.ndarray, actual: np.ndarray, *predicted: np.ndarray) -> list[np.ndarray]:
    """:func:`spearman` of each resample ``[B]`` for each of ``predicted``: the correlation of the ranks, each
    row weighted by how often it was drawn (NaN where either side is constant)."""
    weights = counts.astype(np.float64)
    n = weights.sum(axis=1, keepdims=True)

    def centered(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ranks = _resampled_ranks(weights, values)
        ranks -= (weights * ranks).sum(axis=1, keepdims=True) / n
        return ranks, (weights * ranks * ranks).sum(axis=1)

    a, a_spread = centered(actual)
    weighted = weights * a
    out = []
    for p in predicted:
        b, b_spread = centered(p)
        spread = np.sqrt(a_spread * b_spread)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(spread > 0, (weighted * b).sum(axis=1) / spread, np.nan))
    return out


_RESAMPLED = {"normalized_gini": _resampled_normalized_gini, "spearman": _resampled_spearman}
#: Resampled cells (resamples x rows) scored at a time: bounds the memory of the batched resamples.
RESAMPLE_CELLS = 2_000_000


def paired_ltv_difference(
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    metric: str = "normalized_gini",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Paired bootstrap interval of ``metric(y, a) - metric(y, b)`` for two predicted spends on the same rows.

    ``metric``: "normalized_gini" or "spearman" (higher is better). Each of ``n_boot`` resamples draws the rows
    with replacement once and scores both predictions on them, so the interval reflects the difference, not
    each figure's own spread; the interval is the percentile one at ``level``. Resamples where the metric is
    undefined (no spend drawn) are drawn again, counted in ``redrawn``. The resamples are scored in batches,
    as draw counts per row (the same figures as scoring the drawn rows one resample at a time).

    Returns ``{"metric", "deep", "other", "difference", "low", "high", "level", "n_boot", "redrawn",
    "method"}`` (the layout of :func:`needmap.metrics.compare.bootstrap_difference`; ``deep`` is ``a``'s
    value); ``difference``, ``low`` and ``high`` are None when the metric is undefined on all rows.
    """
    if metric not in _PAIRED:
        raise ConfigError(f"metric is {metric!r}; expected one of {sorted(_PAIRED)}.")
    if not isinstance(n_boot, int) or n_boot < 1:
        raise ConfigError(f"n_boot is {n_boot!r}; expected a positive whole number.")
    score = _PAIRED[metric]
    resampled = _RESAMPLED[metric]
    target = as_1d(y, "y")
    first, second = as_1d(a, "a"), as_1d(b, "b")
    same_length(target, first, "y", "a")
    same_length(target, second, "y", "b")
    deep, other = score(target, first), score(target, second)
    result: dict[str, Any] = {
        "metric": metric,
        "deep": deep,
        "other": other,
        "level": level,
        "n_boot": n_boot,
        "redrawn": 0,
        "method": "bootstrap",
        "difference": None,
        "low": None,
        "high": None,
    }
    if deep is None or other is None:
        return result
    from needmap.metrics.compare import _resample_counts

    rng = np.random.default_rng(seed)
    batch = max(1, RESAMPLE_CELLS // len(target))
    differences: list[np.ndarray] = []
    kept, redrawn = 0, 0
    while kept < n_boot and kept + redrawn < 10 * n_boot:
        counts = _resample_counts(rng, min(batch, n_boot - kept), len(target))
        scored_first, scored_second = resampled(counts, target, first, second)
        gap = scored_first - scored_second
        defined = gap[np.isfinite(gap)]
        differences.append(defined)
        kept += len(defined)
        redrawn += len(gap) - len(defined)
    values = np.concatenate(differences)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail]) if len(values) else (None, None)
    result.update(
        difference=float(deep - other),
        low=None if low is None else float(low),
        high=None if high is None else float(high),
        redrawn=redrawn,
        n_boot=len(values),
    )
    return result


def ltv_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The metrics of a lifetime-value prediction against the spend ``y`` ``[n]`` (>= 0).

    ``scores``: the expected spend ``[n]``, or ``[n, k]`` whose column 0 is the expected spend and column 1
    (when k >= 2) the chance to buy. ``auc`` ranks the chance to buy (the expected spend when no chance is
    given) against ``y > 0``: None with a note when every row or no row spent.

    Returns ``normalized_gini``, ``gini``, ``spearman``, ``auc``, ``decile_mape``, ``aggregate_error``,
    ``rmse``, ``mae`` (target units), ``positive_rate`` (share of rows that spent) and ``n``.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim == 2:
        spend, buy = values[:, 0], (values[:, 1] if values.shape[1] >= 2 else values[:, 0])
    else:
        spend = buy = values
    target = as_1d(y, "y")
    predicted = as_1d(spend, "expected spend")
    same_length(target, predicted, "y", "expected spend")
    bought = (target > 0).astype(np.int64)
    error = predicted - target
    result: dict[str, Any] = {
        "normalized_gini": normalized_gini(target, predicted),
        "gini": gini(target, predicted),
        "spearman": spearman(target, predicted),
        "auc": None,
        "decile_mape": decile_mape(decile_calibration(target, predicted)),
        "aggregate_error": aggregate_error(target, predicted),
        "rmse": float(np.sqrt(np.mean(error * error))),
        "mae": float(np.mean(np.abs(error))),
        "positive_rate": float(bought.mean()),
        "n": len(target),
    }
    if 0 < bought.sum() < len(bought):
        result["auc"] = weighted_auc(bought, as_1d(buy, "chance to buy"))
    else:
        result["note"] = "every row or no row spent: the AUC of the chance to buy is undefined, so it is None."
    if result["normalized_gini"] is None:
        result["note"] = "the spend is the same in every row: the normalized Gini is undefined, so it is None."
    return result
