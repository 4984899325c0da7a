"""Why an item: the history items that add most to its score, exact for ItemKNN and EASE."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import ConfigError
from needmap.recommend.generate import planted_interactions
from needmap.recommend.recommender import Recommender


@pytest.mark.parametrize("model", ["ease", "itemknn"])
def test_the_reasons_are_history_items_of_the_recommended_items_segment(model) -> None:
    data, _, item_segment = planted_interactions(customers=150, items=90, events=8, seed=6)
    rec = Recommender(model).fit(data)
    customers = data.customer_ids.to_pylist()[:40]
    out = rec.explain([*customers, "nobody"], k=3, top=2).to_pylist()
    segment_of = {data.item_ids[i].as_py(): item_segment[i] for i in range(data.n_items)}
    history_of = {c: set(data.item_ids.take(rec.histories(rec.customer_index([c]))[0]).to_pylist()) for c in customers}
    agree = total = 0
    for row in out:
        if row["customer"] == "nobody":
            assert row["because"] == [] and "no history" in row["reason"]
            continue
        assert 1 <= len(row["because"]) <= 2 and set(row["because"]) <= history_of[row["customer"]]
        assert row["reason"].startswith("because they have ")
        agree += sum(segment_of[b] == segment_of[row["item"]] for b in row["because"])
        total += len(row["because"])
    assert agree / total > 0.9


def test_the_terms_add_up_to_the_score() -> None:
    data, _, _ = planted_interactions(customers=60, items=20, seed=2)
    rec = Recommender("ease", l2=10.0).fit(data)
    history = rec.histories(rec.customer_index(["c5"]))[0]
    scores = rec.algorithm_.score([history])[0]
    for item in range(data.n_items):
        assert np.isclose(rec.algorithm_.contributions(history, item).sum(), scores[item], atol=1e-4)


def test_networks_and_popularity_say_they_cannot() -> None:
    data, _, _ = planted_interactions(customers=40, items=12, seed=1)
    with pytest.raises(ConfigError, match="explain works for itemknn and ease"):
        Recommender("popular").fit(data).explain(["c1"], k=2)
