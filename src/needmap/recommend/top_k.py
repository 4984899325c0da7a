"""The k best items per customer over the whole catalogue: exact scoring, or a FAISS index for large ones.

Exact: the algorithm scores every item for a batch of histories, the items to leave out (what the customer
already has, unless kept; what is not eligible) get minus infinity, and ``torch.topk`` picks the k best.
A list holds fewer than k items only when fewer than k items are left to recommend; its empty places
hold item -1 and score NaN.

FAISS (retrieval networks only): the item vectors go into an inner-product index (``flat``: exact;
``hnsw``: approximate, for catalogues of hundreds of thousands of items) searched for k plus as many items
as a customer has to leave out, then filtered, so that a customer still gets k items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from needmap.recommend.algorithm import Algorithm

BATCH = 1024


def exact_top_k(
    algorithm: Algorithm,
    histories: Sequence[np.ndarray],
    k: int,
    *,
    exclude: Sequence[np.ndarray] | None = None,
    eligible: np.ndarray | None = None,
    batch: int = BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """Items (int32, -1 padded) and scores (float32, NaN padded) of the k best per history.

    ``exclude[c]``: items never to recommend to customer ``c`` (their history, usually); ``eligible``: a
    boolean mask over the catalogue (None: every item)."""
    import torch

    n = len(histories)
    items = np.full((n, k), -1, dtype=np.int32)
    scores = np.full((n, k), np.nan, dtype=np.float32)
    for start in range(0, n, batch):
        chunk = list(histories[start : start + batch])
        block = torch.from_numpy(np.ascontiguousarray(algorithm.score(chunk), dtype=np.float32))
        if eligible is not None:
            block[:, torch.from_numpy(~eligible)] = -torch.inf
        if exclude is not None:
            rows, cols = _pairs(exclude[start : start + batch])
            block[rows, cols] = -torch.inf
        take = min(k, block.shape[1])
        values, index = torch.topk(block, take, dim=1)
        found = torch.isfinite(values)
        index = torch.where(found, index, torch.full_like(index, -1))
        values = torch.where(found, values, torch.full_like(values, float("nan")))
        items[start : start + len(chunk), :take] = index.numpy()
        scores[start : start + len(chunk), :take] = values.numpy()
    return items, scores


def held_out_ndcg(
    algorithm: Algorithm, histories: Sequence[np.ndarray], items: Sequence[np.ndarray], k: int, *, batch: int = BATCH
) -> float:
    """The mean NDCG@k over customers of the lists recommended from ``histories`` (each customer's own items
    left out) against their held-out ``items``; 0 without a customer. What the networks watch to stop early."""
    from needmap.metrics.ranking import per_customer

    if len(items) == 0:
        return 0.0
    top, _ = exact_top_k(algorithm, histories, k, exclude=histories, batch=batch)
    return float(per_customer(top, items)["ndcg"].mean())


def _pairs(lists: Sequence[np.ndarray]) -> tuple[Any, Any]:
    import torch

    lengths = [len(x) for x in lists]
    rows = np.repeat(np.arange(len(lists)), lengths)
    cols = np.concatenate(lists).astype(np.int64) if sum(lengths) else np.zeros(0, np.int64)
    return torch.from_numpy(rows), torch.from_numpy(cols)


def faiss_index(item_vectors: np.ndarray, kind: str = "hnsw", *, neighbours: int = 32, search_depth: int = 128) -> Any:
    """An inner-product FAISS index of the item vectors (``flat`` exact, ``hnsw`` approximate)."""
    import faiss

    vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, neighbours, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = search_depth
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}")
    index.add(vectors)
    return index


def faiss_top_k(
    index: Any,
    customer_vectors: np.ndarray,
    k: int,
    *,
    exclude: Sequence[np.ndarray] | None = None,
    eligible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`exact_top_k`, searched in ``index``: a customer whose search found too few items left
    after leaving out theirs is searched again deeper."""
    n = len(customer_vectors)
    items = np.full((n, k), -1, dtype=np.int32)
    scores = np.full((n, k), np.nan, dtype=np.float32)
    total = index.ntotal
    blocked = 0 if eligible is None else int((~eligible).sum())
    longest = max((len(e) for e in exclude), default=0) if exclude is not None else 0
    depth = min(total, k + longest + blocked)
    queries = np.ascontiguousarray(customer_vectors, dtype=np.float32)
    pending = np.arange(n)
    while len(pending):
        found_scores, found_items = index.search(queries[pending], depth)
        retry = []
        for row, c in enumerate(pending):
            keep = found_items[row] >= 0
            if exclude is not None and len(exclude[c]):
                keep &= ~np.isin(found_items[row], exclude[c])
            if eligible is not None:
                keep &= eligible[np.maximum(found_items[row], 0)]
            chosen = found_items[row][keep][:k]
            if len(chosen) < k and depth < total:
                retry.append(c)
                continue
            items[c, : len(chosen)] = chosen
            scores[c, : len(chosen)] = found_scores[row][keep][:k]
        pending = np.asarray(retry, dtype=np.int64)
        depth = min(total, depth * 2)
    return items, scores
