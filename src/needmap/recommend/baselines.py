"""The baselines that win papers once evaluated honestly: popularity, ItemKNN and EASE.

* :class:`Popular`: items by how many customers touched them, over all the training time or over its last
  ``recent_days`` (what is popular now);
* :class:`ItemKNN`: item-to-item cosine similarity of the customer x item matrix, with shrinkage
  (``sim = x·y / (|x| |y| + shrink)``) and each item's ``neighbours`` most similar items kept; a customer's
  score of an item is the sum of its similarities to the customer's items (Deshpande & Karypis 2004);
* :class:`EASE`: the closed-form linear auto-encoder ``B = I - P / diag(P)``, ``P = (XᵀX + λI)⁻¹`` with a zero
  diagonal (Steck 2019); dense in the catalogue, so it refuses catalogues beyond ``max_items``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from needmap.errors import ConfigError
from needmap.recommend.algorithm import Algorithm, history_matrix
from needmap.recommend.interactions import Interactions

MICROS_PER_DAY = 86_400 * 1_000_000


class Popular(Algorithm):
    """Most popular items (over the last ``recent_days`` of training when given)."""

    name = "popular"

    def __init__(self, recent_days: float | None = None) -> None:
        self.recent_days = recent_days

    def fit(self, data: Interactions, validation: object = None) -> Popular:
        if self.recent_days is not None and self.recent_days <= 0:
            raise ConfigError(f"recent_days is {self.recent_days}; expected a positive number of days.")
        chosen = data
        if self.recent_days is not None and data.time.any():
            chosen = data.subset(data.time >= data.time.max() - self.recent_days * MICROS_PER_DAY)
        counts = chosen.popularity()
        overall = data.popularity()
        # ties in the recent window are broken by all-time popularity, then by the item's index
        self.state_ = {"scores": (counts + overall / (overall.max() + 1.0)).astype(np.float64)}
        self.n_items_ = data.n_items
        return self

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        row = self.state_["scores"].astype(np.float32)
        return np.broadcast_to(row, (len(histories), len(row))).copy()


class ItemKNN(Algorithm):
    """Item-based nearest neighbours over cosine similarity with shrinkage."""

    name = "itemknn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def fit(self, data: Interactions, validation: object = None) -> ItemKNN:
        import scipy.sparse as sp

        if int(self.neighbours) < 1 or self.shrink < 0:
            raise ConfigError(
                f"itemknn: neighbours {self.neighbours} and shrink {self.shrink}; expected neighbours of at least 1 "
                "and shrink of at least 0."
            )
        x = data.matrix().tocsc()
        norms = np.sqrt(np.asarray(x.power(2).sum(axis=0)).ravel())
        co = (x.T @ x).tocsr().astype(np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        co = co.tocoo()
        sims = co.data / (norms[co.row] * norms[co.col] + self.shrink + 1e-12)
        similarity = sp.csr_matrix((sims.astype(np.float32), (co.row, co.col)), shape=co.shape)
        similarity = _keep_top(similarity, int(self.neighbours))
        self.state_ = {
            "indptr": similarity.indptr.astype(np.int64),
            "indices": similarity.indices.astype(np.int32),
            "data": similarity.data.astype(np.float32),
        }
        self.n_items_ = data.n_items
        self._similarity = similarity
        return self

    def restore(self, state: dict[str, np.ndarray], n_items: int) -> ItemKNN:
        import scipy.sparse as sp

        super().restore(state, n_items)
        self._similarity = sp.csr_matrix((state["data"], state["indices"], state["indptr"]), shape=(n_items, n_items))
        return self

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        x = history_matrix(histories, self.n_items_)
        return np.asarray((x @ self._similarity).todense(), dtype=np.float32)

    def contributions(self, history: np.ndarray, item: int) -> np.ndarray:
        """The similarity of each distinct history item to ``item``: the terms of its score."""
        seen = np.unique(history)
        return np.asarray(self._similarity[seen, item].todense(), dtype=np.float64).ravel()


def _keep_top(matrix: object, k: int) -> object:
    """Each row's ``k`` largest entries of a CSR matrix."""
    import scipy.sparse as sp

    m = matrix.tocsr()  # type: ignore[attr-defined]
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        start, end = m.indptr[r], m.indptr[r + 1]
        if end == start:
            continue
        data = m.data[start:end]
        idx = m.indices[start:end]
        if end - start > k:
            top = np.argpartition(-data, k - 1)[:k]
            data, idx = data[top], idx[top]
        rows.append(np.full(len(idx), r, dtype=np.int32))
        cols.append(idx)
        vals.append(data)
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape, dtype=np.float32
    )


class EASE(Algorithm):
    """Embarrassingly shallow auto-encoder: one dense item x item matrix in closed form."""

    name = "ease"

    def __init__(self, l2: float = 500.0, max_items: int = 30_000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def fit(self, data: Interactions, validation: object = None) -> EASE:
        import torch

        if self.l2 <= 0:
            raise ConfigError(f"ease: l2 is {self.l2}; expected a positive number.")
        if data.n_items > self.max_items:
            raise ConfigError(
                f"ease: {data.n_items:,} items; EASE holds a dense item x item matrix and is limited to "
                f"max_items={self.max_items:,} ({data.n_items**2 * 4 / 2**30:.1f} GiB here). Expected a smaller "
                "catalogue, a larger max_items, or another model (itemknn, sasrec, two_tower)."
            )
        x = data.matrix()
        gram = torch.from_numpy(np.asarray((x.T @ x).todense(), dtype=np.float64))
        gram.diagonal().add_(float(self.l2))
        p = torch.cholesky_inverse(torch.linalg.cholesky(gram))  # the Gram matrix plus l2 is positive definite
        b = -p / p.diagonal().unsqueeze(0)
        b.diagonal().zero_()
        self.state_ = {"weights": b.to(torch.float32).numpy()}
        self.n_items_ = data.n_items
        return self

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        x = history_matrix(histories, self.n_items_)
        return np.asarray(x @ self.state_["weights"], dtype=np.float32)

    def contributions(self, history: np.ndarray, item: int) -> np.ndarray:
        """The weight of each distinct history item towards ``item``: the terms of its score."""
        return np.asarray(self.state_["weights"][np.unique(history), item], dtype=np.float64)
