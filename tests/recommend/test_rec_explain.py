"""Why an item: the history items that add most to its score, exact for ItemKNN and EASE, Integrated Gradients
for SASRec and the two-tower network (their terms add up to the score's change from a baseline, and they name
the item of a planted rule)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from needmap.errors import ConfigError
from needmap.recommend.generate import planted_interactions
from needmap.recommend.interactions import from_arrays
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


def test_popularity_says_it_cannot() -> None:
    data, _, _ = planted_interactions(customers=40, items=12, seed=1)
    with pytest.raises(ConfigError, match="explain works for itemknn, ease, sasrec and two_tower"):
        Recommender("popular").fit(data).explain(["c1"], k=2)


# ----------------------------------------------------------------------------------------------------------
# the networks

NETWORKS = {
    "sasrec": {"embedding_dim": 16, "max_len": 8, "epochs": 2, "batch_size": 32, "dropout": 0.1, "threads": 1},
    "two_tower": {"embedding_dim": 16, "hidden": (32,), "max_len": 8, "epochs": 2, "batch_size": 64, "threads": 1},
}


@pytest.fixture(scope="module")
def networks():
    """Both networks, briefly trained on 10 events per customer, of which they read the last 8."""
    data, _, _ = planted_interactions(customers=120, items=30, events=10, seed=5)
    return data, {name: Recommender(name, **params).fit(data) for name, params in NETWORKS.items()}


def _baseline_scores(algorithm, histories) -> np.ndarray:
    """The scores of the baseline of each history: the padding item's (zero) embedding at every position."""
    if algorithm.name == "two_tower":  # its tower pools item embeddings: the empty history
        return np.repeat(algorithm.score([np.zeros(0, dtype=np.int32)]), len(histories), axis=0)
    hook = algorithm._net.item_embedding.register_forward_hook(lambda _m, _i, output: torch.zeros_like(output))
    try:
        return algorithm.score(histories)
    finally:
        hook.remove()


@pytest.mark.parametrize("model", sorted(NETWORKS))
def test_network_terms_add_up_to_the_change_from_the_baseline(networks, model) -> None:
    data, fitted = networks
    algorithm = fitted[model].algorithm_
    histories = fitted[model].histories(np.arange(20))
    scores = algorithm.score(histories)
    change = scores - _baseline_scores(algorithm, histories)
    rng = np.random.default_rng(0)
    pairs = [(c, int(i)) for c in range(20) for i in [*np.argsort(-scores[c])[:3], *rng.integers(0, data.n_items, 2)]]
    terms = algorithm.contributions_batch([histories[c] for c, _ in pairs], [i for _, i in pairs])
    assert np.abs(change[tuple(np.array(pairs).T)]).max() > 0.1  # the items have something to share out
    unread_terms = 0
    for (c, item), found in zip(pairs, terms, strict=True):
        history = histories[c]
        assert found.shape == (len(np.unique(history)),)
        assert abs(found.sum() - change[c, item]) <= 0.01 * max(abs(change[c, item]), 1.0)
        # an item bought only before the last max_len events is not read: it adds nothing
        unread = np.isin(np.unique(history), history[-8:], invert=True)
        assert np.all(found[unread] == 0) and np.all(found[~unread] != 0)
        unread_terms += int(unread.sum())
    assert unread_terms > 0
    single = algorithm.contributions(histories[0], pairs[0][1])
    assert abs(single.sum() - change[0, pairs[0][1]]) <= 0.01 * max(abs(change[0, pairs[0][1]]), 1.0)


@pytest.mark.parametrize("model", sorted(NETWORKS))
def test_a_network_explains_in_the_columns_of_ease(networks, model) -> None:
    data, fitted = networks
    customers = [*data.customer_ids.to_pylist()[:5], "nobody"]
    exact = Recommender("ease").fit(data).explain(customers, k=4, top=2)
    out = fitted[model].explain(customers, k=4, top=2)
    assert out.schema == exact.schema and out.num_rows == exact.num_rows
    for row in out.to_pylist():
        if row["customer"] == "nobody":
            assert row["because"] == [] and "no history" in row["reason"]
            continue
        history = set(
            data.item_ids.take(fitted[model].histories(fitted[model].customer_index([row["customer"]]))[0]).to_pylist()
        )
        assert 1 <= len(row["because"]) <= 2 and set(row["because"]) <= history
        assert row["reason"] == "because they have " + ", ".join(str(b) for b in row["because"])


def _rule_interactions(customers: int = 300, leading: int = 60, events: int = 8, seed: int = 0):
    """Random baskets of 32 items in which ``p19`` is followed at once by ``p07`` 95% of the time; the first
    ``leading`` customers end on ``p19`` (among random others), with no ``p07`` yet. The rule's items are
    about as frequent as the others, and their ids sit in the middle of the catalogue."""
    rng = np.random.default_rng(seed)
    others = [f"p{j:02d}" for j in range(32) if j not in (7, 19)]
    rows_c, rows_i, rows_t = [], [], []
    for c in range(customers):
        if c < leading:
            basket = [*rng.choice(others, events - 1), "p19"]
        else:
            basket = []
            while len(basket) < events:
                if rng.random() < 0.04:
                    basket += ["p19", "p07"] if rng.random() < 0.95 else ["p19"]
                else:
                    basket.append(str(rng.choice(others)))
            basket = basket[:events]
        rows_c += [f"c{c}"] * len(basket)
        rows_i += basket
        rows_t += [np.datetime64("2024-01-01") + np.timedelta64(e, "D") for e in range(len(basket))]
    return from_arrays(rows_c, rows_i, np.array(rows_t, dtype="datetime64[us]"), source="a planted rule")


def test_sasrec_names_the_item_of_a_planted_rule() -> None:
    data = _rule_interactions()
    params = {"embedding_dim": 16, "max_len": 10, "epochs": 10, "batch_size": 32, "lr": 5e-3, "dropout": 0.1}
    rec = Recommender("sasrec", **params, threads=1).fit(data)
    leading = [f"c{c}" for c in range(60)]
    out = rec.explain(leading, k=3).to_pylist()
    followed = [row for row in out if row["item"] == "p07"]
    assert len(followed) >= 40  # the rule was learned: p07 is recommended to most who end on p19
    assert sum(row["because"][:1] == ["p19"] for row in followed) >= 0.9 * len(followed)
