"""The baselines recover planted structure, and EASE / ItemKNN match their closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import ConfigError
from needmap.recommend.algorithm import histories_of
from needmap.recommend.baselines import EASE, ItemKNN, Popular
from needmap.recommend.generate import planted_interactions
from needmap.recommend.interactions import from_arrays
from needmap.recommend.top_k import exact_top_k


@pytest.mark.parametrize("algorithm", [EASE(l2=10.0), ItemKNN(neighbours=20)], ids=["ease", "itemknn"])
def test_recommends_the_customers_segment(algorithm) -> None:
    data, customer_segment, item_segment = planted_interactions(customers=200, items=60, events=6, seed=1)
    algorithm.fit(data)
    customers = np.arange(data.n_customers)
    histories = histories_of(data, customers)
    top, _ = exact_top_k(algorithm, histories, 5, exclude=histories)
    shown = top >= 0
    own = item_segment[np.maximum(top, 0)] == customer_segment[:, None]
    assert own[shown].mean() > 0.75  # random items would be of the own segment a third of the time


def test_popular_ranks_by_customers_and_recent_window() -> None:
    day = 86_400 * 1_000_000
    data = from_arrays(["a", "b", "c", "a", "b"], ["old", "old", "old", "new", "new"], [0, 0, 0, 99 * day, 100 * day])
    overall = Popular().fit(data).score([np.zeros(0, np.int32)])[0]
    recent = Popular(recent_days=10).fit(data).score([np.zeros(0, np.int32)])[0]
    old, new = data.item_ids.to_pylist().index("old"), data.item_ids.to_pylist().index("new")
    assert overall[old] > overall[new]
    assert recent[new] > recent[old]


def test_ease_is_the_closed_form() -> None:
    data, _, _ = planted_interactions(customers=50, items=12, seed=2)
    x = np.asarray(data.matrix().todense(), dtype=np.float64)
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(12))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    fitted = EASE(l2=5.0).fit(data).state_["weights"]
    assert np.allclose(fitted, b, atol=1e-5)


def test_itemknn_keeps_the_neighbours_and_shrinks() -> None:
    data, _, _ = planted_interactions(customers=80, items=20, seed=3)
    model = ItemKNN(neighbours=3, shrink=0.0).fit(data)
    per_row = np.diff(model.state_["indptr"])
    assert per_row.max() <= 3
    x = np.asarray(data.matrix().todense())
    norms = np.linalg.norm(x, axis=0)
    cosine = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(cosine, 0.0)
    row = 0
    cols = model.state_["indices"][model.state_["indptr"][row] : model.state_["indptr"][row + 1]]
    kept = model.state_["data"][model.state_["indptr"][row] : model.state_["indptr"][row + 1]]
    assert np.allclose(kept, cosine[row, cols], atol=1e-6)  # shrink 0: plain cosine
    assert kept.min() >= np.sort(cosine[row])[-3] - 1e-6  # the three most similar (ties either way)


def test_bad_options() -> None:
    data, _, _ = planted_interactions(customers=20, items=9)
    with pytest.raises(ConfigError, match="max_items"):
        EASE(max_items=5).fit(data)
    with pytest.raises(ConfigError, match="no option"):
        EASE().set_params(lambda_=3)
