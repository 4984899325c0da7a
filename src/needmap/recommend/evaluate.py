"""A saved recommender judged on what customers did afterwards, beside the popularity it would fall back on.

For each customer of the new log, the items to find are the distinct items they touched there that their
stored history does not hold (an item the model has never seen counts as one it cannot find: it stays in
the denominator). The model ranks the whole catalogue, leaving out what each customer already has; so does
the popularity baseline. Customers the model has not seen are judged too (they get popular items): the
metrics say how the model serves the customers who actually came back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.errors import ConfigError, DataError
from needmap.metrics.ranking import per_customer, ranking_metrics
from needmap.recommend.interactions import ids_like, read_interactions
from needmap.recommend.recommender import Recommender
from needmap.recommend.split import HeldOut


def held_out_of(rec: Recommender, new: Any) -> tuple[pa.Array, np.ndarray, HeldOut]:
    """The new log's customers (ids), their model indices (-1: unknown) and the items to find."""
    index = rec.customer_index(new.customer_ids)
    ids = ids_like(new.item_ids, rec.data_.item_ids)
    if ids is None:
        raise DataError(f"{new.source}: the items are {new.item_ids.type}; expected {rec.data_.item_ids.type}.")
    to_model = pc.index_in(ids, value_set=rec.data_.item_ids).fill_null(-1).to_numpy(zero_copy_only=False)
    starts = new.starts()
    histories = rec.histories(index)
    customers, items = [], []
    for c in range(new.n_customers):
        touched = new.item[starts[c] : starts[c + 1]]
        mapped = to_model[touched]
        unknown = len(np.unique(touched[mapped < 0]))
        fresh = np.setdiff1d(mapped[mapped >= 0], histories[c])
        if len(fresh) + unknown == 0:
            continue
        customers.append(c)
        items.append(np.concatenate([fresh, np.full(unknown, -2, dtype=np.int64)]).astype(np.int64))
    return new.customer_ids, index, HeldOut(np.asarray(customers, dtype=np.int64), items)


def evaluate_on_log(rec: Recommender, source: Any, *, k: int = 10, sql: str | None = None,
                    seed: int = 0, **columns: Any) -> dict[str, Any]:  # fmt: skip
    """Metrics of ``rec`` and of popularity on a later log, and the verdict (see the module's docstring).

    ``columns``: customer, item, time, event, positive_events; by default those the model was trained with."""
    from needmap.recommend.train import verdict_text

    named = {**{k2: v for k2, v in (getattr(rec, "columns_", {}) or {}).items() if v}, **columns}
    if not named.get("customer") or not named.get("item"):
        raise ConfigError("the log's columns are not known; expected customer= and item= (--customer, --item).")
    new = read_interactions(source, sql=sql, **named)
    _, index, held = held_out_of(rec, new)
    if len(held) == 0:
        raise DataError(f"{new.source}: no customer touched an item they did not have already; nothing to judge.")
    chosen = index[held.customers]
    results: dict[str, Any] = {}
    ndcg = {}
    for name, scorer in ((rec.algorithm_.name, rec), ("popular", _popular_twin(rec))):
        top, _ = scorer.top_items(chosen, k)
        results[name] = ranking_metrics(top, held.items, rec.popularity_)
        ndcg[name] = per_customer(top, held.items)["ndcg"]
    key = f"ndcg@{k}"
    verdict = verdict_text(rec.algorithm_.name, ndcg, key, seed=seed, chosen_by="saved")
    return {
        "k": k,
        "customers": len(held),
        "unknown_customers": int((chosen < 0).sum()),
        "models": results,
        "verdict": verdict,
        "bad_rows": new.bad_rows,
    }


def _popular_twin(rec: Recommender) -> Recommender:
    from needmap.recommend.baselines import Popular

    twin = Recommender("popular")
    twin.algorithm_ = Popular().restore({"scores": rec.popularity_}, rec.data_.n_items)
    twin.data_ = rec.data_
    twin.popularity_ = rec.popularity_
    return twin
