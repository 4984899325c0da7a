"""Re-ranking with a zoo model: it learns what the recommender does not read (here, a segment)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import ConfigError
from needmap.metrics.ranking import ranking_metrics
from needmap.recommend.generate import planted_interactions
from needmap.recommend.recommender import Recommender
from needmap.recommend.rerank import Reranker
from needmap.recommend.split import leave_last_out


@pytest.mark.slow
def test_a_ranker_with_segments_lifts_popularity_candidates() -> None:
    data, customer_segment, item_segment = planted_interactions(customers=300, items=60, events=8, seed=7)
    parts = leave_last_out(data)
    customers = pa.table({"id": data.customer_ids, "segment": pa.array([f"s{s}" for s in customer_segment])})
    items = pa.table({"id": pa.array(data.item_ids.to_pylist()), "item_segment": [f"s{s}" for s in item_segment]})
    first = Recommender("popular").fit(parts.train)
    ranker = Reranker("mlp", candidates=30, epochs=15, seed=0, progress=False)
    ranker.fit(first, parts.validation, items=items, customer_table=customers)
    second = Recommender("popular").fit(parts.train_and_validation)
    plain, _ = second.top_items(parts.test.customers, 10)
    again, _ = ranker.top_items(second, parts.test.customers, 10)
    popularity = parts.train.popularity()
    before = ranking_metrics(plain, parts.test.items, popularity)["ndcg@10"]
    after = ranking_metrics(again, parts.test.items, popularity)["ndcg@10"]
    assert after > before + 0.1, (before, after)
    own = item_segment[np.maximum(again, 0)] == customer_segment[parts.test.customers][:, None]
    assert own[again >= 0].mean() > 0.5  # popularity alone: a third of the time


def test_unknown_ranker_is_refused() -> None:
    data, _, _ = planted_interactions(customers=30, items=12, events=5)
    parts = leave_last_out(data)
    with pytest.raises(ConfigError, match="ranker 'gbdt'"):
        Reranker("gbdt").fit(Recommender("popular").fit(parts.train), parts.validation)
