"""Metrics of recommendations ranked over the whole catalogue (never over a sample of items).

For a customer with held-out items ``T`` and a list ``L`` of the top ``k`` recommendations:

* ``recall@k`` = |L ∩ T| / |T| (the field's usual form; with one held-out item it equals the hit rate);
* ``ndcg@k`` = sum over hits at rank r (1-based) of 1 / log2(r + 1), divided by the same sum for the
  best possible list (min(|T|, k) hits at the top ranks);
* ``hit_rate@k`` = 1 when L ∩ T is not empty, else 0;
* ``mrr@k`` = 1 / the rank of the first hit, 0 without a hit;

each averaged over the customers. Over all lists together:

* ``coverage@k`` = distinct items recommended / items in the catalogue;
* ``popularity_bias@k`` = the mean popularity percentile of the recommended items among the catalogue's
  items (by training customers per item): 0.5 is what items picked at random would score, 1.0 a list of
  the most popular items only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PER_CUSTOMER = ("ndcg", "recall", "hit_rate", "mrr")


def per_customer(top: np.ndarray, truth: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """``ndcg``, ``recall``, ``hit_rate``, ``mrr`` of each customer: ``top[c]`` are item indices ranked best
    first (-1 where fewer than k were recommended), ``truth[c]`` the held-out items."""
    n, k = top.shape
    if n != len(truth):
        raise ValueError(f"{n} recommendation lists for {len(truth)} customers")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    out = {name: np.zeros(n) for name in PER_CUSTOMER}
    for c in range(n):
        wanted = truth[c]
        if len(wanted) == 0:
            continue
        hits = np.isin(top[c], wanted) & (top[c] >= 0)
        count = int(hits.sum())
        if count == 0:
            continue
        out["recall"][c] = count / len(wanted)
        out["hit_rate"][c] = 1.0
        out["ndcg"][c] = float(discounts[hits].sum() / ideal[min(len(wanted), k) - 1])
        out["mrr"][c] = 1.0 / (int(np.argmax(hits)) + 1)
    return out


def ranking_metrics(top: np.ndarray, truth: Sequence[np.ndarray], popularity: np.ndarray) -> dict[str, float]:
    """The means of :func:`per_customer` and the catalogue's coverage and popularity bias, keyed ``name@k``."""
    k = top.shape[1]
    scores = per_customer(top, truth)
    metrics = {f"{name}@{k}": float(values.mean()) if len(values) else 0.0 for name, values in scores.items()}
    shown = top[top >= 0]
    metrics[f"coverage@{k}"] = float(len(np.unique(shown)) / len(popularity)) if len(popularity) else 0.0
    percentile = popularity_percentiles(popularity)
    metrics[f"popularity_bias@{k}"] = float(percentile[shown].mean()) if len(shown) else 0.0
    metrics["customers"] = len(truth)
    return metrics


def popularity_percentiles(popularity: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile in (0, 1], ties sharing their mean rank."""
    from scipy.stats import rankdata

    if len(popularity) == 0:
        return np.zeros(0)
    return rankdata(popularity, method="average") / len(popularity)
