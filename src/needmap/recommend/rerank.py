"""Re-ranking a recommender's top candidates with a model of the zoo (DeepFM, DCN-v2, DIN), as production
systems combine retrieval with CTR ranking.

The recommender proposes each customer's ``candidates`` best items; the ranker scores every (customer,
candidate) pair from one row of features and the list is sorted again by that score. The row:

* ``item`` (the candidate, categorical) and ``history`` (the customer's last items, a sequence sharing the
  item's vocabulary, so DIN attends over what the customer did against the candidate);
* ``retrieval_score`` and ``retrieval_rank`` (what the recommender thought), ``item_popularity`` (log of
  the customers who touched it), ``history_length``;
* the columns of an item table (``items=``), joined on the item, and of a customer table
  (``customers=``), joined on the customer: the context a retrieval model does not read.

It learns from the validation customers: the recommender fitted without their validation events proposes
candidates, and a candidate is a positive when it is the item the customer touched next (label 1), else 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.errors import ConfigError
from needmap.recommend.recommender import Recommender
from needmap.recommend.split import HeldOut

RANKERS = ("deepfm", "dcnv2", "din", "mlp")
#: How many of each customer's last items the ``history`` column holds.
HISTORY = 50


class Reranker:
    """A zoo model re-ranking a recommender's candidates (see the module's docstring).

    Args:
        model: the zoo architecture (``deepfm``, ``dcnv2``, ``din`` or ``mlp``).
        candidates: how many of the recommender's best items are re-ranked per customer.
        **params: :class:`needmap.Model` options (``epochs=5``, ``hidden=(128, 64)``, ``seed=0``).
    """

    def __init__(self, model: str = "deepfm", candidates: int = 50, **params: Any) -> None:
        self.model = model
        self.candidates = candidates
        self.params = params

    def rows(self, rec: Recommender, customers: np.ndarray, items: Any = None, customer_table: Any = None) -> tuple[
        pa.Table, np.ndarray
    ]:  # fmt: skip
        """The feature rows of each customer's candidates, and the candidates (customers x candidates, -1 pad)."""
        top, scores = rec.top_items(customers, self.candidates)
        n, width = top.shape
        present = (top >= 0).ravel()
        owner = np.repeat(np.arange(n), width)[present]
        candidate = top.ravel()[present]
        histories = rec.histories(customers)
        ids = rec.data_.item_ids
        text_ids = pc.cast(ids, pa.string())
        history_lists = [text_ids.take(pa.array(h[-HISTORY:].astype(np.int64))).to_pylist() for h in histories]
        columns = {
            "item": text_ids.take(pa.array(candidate.astype(np.int64))),
            "history": pa.array([history_lists[o] for o in owner], type=pa.list_(pa.string())),
            "retrieval_score": pa.array(scores.ravel()[present].astype(np.float64)),
            "retrieval_rank": pa.array(np.tile(np.arange(1, width + 1), n)[present].astype(np.float64)),
            "item_popularity": pa.array(np.log1p(rec.popularity_[candidate])),
            "history_length": pa.array(np.array([len(histories[o]) for o in owner], dtype=np.float64)),
        }
        table = pa.table(columns)
        if items is not None:
            table = _joined(table, items, text_ids.take(pa.array(candidate.astype(np.int64))), "item table")
        if customer_table is not None:
            known = customers[owner]
            keys = pc.cast(rec.data_.customer_ids.take(pa.array(np.maximum(known, 0))), pa.string())
            table = _joined(table, customer_table, keys, "customer table")
        return table, top

    def fit(self, rec: Recommender, held: HeldOut, *, items: Any = None, customer_table: Any = None) -> Reranker:
        """Learn from ``held`` (customer indices of ``rec`` and the items they touched next), ``rec`` fitted
        on the events before them."""
        from needmap.estimator import Model

        if self.model not in RANKERS:
            raise ConfigError(f"ranker {self.model!r}: expected one of {', '.join(RANKERS)}.")
        table, top = self.rows(rec, held.customers, items, customer_table)
        truth = np.zeros(top.shape, dtype=bool)
        for row, wanted in enumerate(held.items):
            truth[row] = np.isin(top[row], wanted) & (top[row] >= 0)
        label = truth.ravel()[(top >= 0).ravel()].astype(np.int64)
        if label.sum() == 0:
            raise ConfigError(
                f"none of the validation customers' next items is among the recommender's top {self.candidates}; "
                "a ranker has no positive to learn from (expected more candidates)."
            )
        table = table.append_column("label", pa.array(label))
        options = {"epochs": 5, "seed": 0, **self.params}
        self.ranker_ = Model(self.model, target="label", task="binary", categorical=["item"],
                             sequence={"history": {"vocabulary_of": "item"}}, **options)  # fmt: skip
        self.ranker_.fit(table, validation=0.1)
        self.items_, self.customer_table_ = items, customer_table
        return self

    def top_items(self, rec: Recommender, customers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best of each customer's candidates by the ranker's score (customers: indices of ``rec``)."""
        table, top = self.rows(rec, customers, self.items_, self.customer_table_)
        score = self.ranker_.predict(table).column("score").to_numpy()
        grid = np.full(top.shape, -np.inf)
        grid.ravel()[np.flatnonzero((top >= 0).ravel())] = score
        order = np.argsort(-grid, axis=1, kind="stable")[:, :k]
        items = np.take_along_axis(top, order, axis=1)
        chosen = np.take_along_axis(grid, order, axis=1)
        items[~np.isfinite(chosen)] = -1
        return items.astype(np.int32), np.where(np.isfinite(chosen), chosen, np.nan).astype(np.float32)


def _joined(table: pa.Table, other: Any, keys: pa.Array, label: str) -> pa.Table:
    """``table`` with the columns of ``other`` (its first column the key, matched as text) beside each row."""
    from needmap.data.read import read

    other = other if isinstance(other, pa.Table) else read(other)
    key = other.column_names[0]
    where = pc.index_in(keys, value_set=pc.cast(other.column(key), pa.string()))
    rows = where.fill_null(-1).to_numpy(zero_copy_only=False)
    missing = rows < 0
    for name in other.column_names[1:]:
        if name in table.column_names:
            raise ConfigError(f"the {label}'s column {name!r} clashes with a ranker feature; rename it.")
        values = other.column(name).take(pa.array(np.maximum(rows, 0)))
        if missing.any():
            values = pc.if_else(pa.array(~missing), values, pa.nulls(len(values), values.type))
        table = table.append_column(name, values)
    return table
