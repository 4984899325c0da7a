"""The two-tower network: its loss by hand, the planted answer recovered, and the contract of an algorithm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from needmap.errors import ConfigError
from needmap.recommend.algorithm import histories_of
from needmap.recommend.baselines import Popular
from needmap.recommend.generate import planted_interactions
from needmap.recommend.interactions import from_arrays
from needmap.recommend.split import split_interactions
from needmap.recommend.top_k import exact_top_k
from needmap.recommend.two_tower import TwoTower, log_expected_counts, sampled_softmax_loss

SMALL = {"embedding_dim": 16, "hidden": (32,), "batch_size": 128, "lr": 3e-3, "threads": 1}


@pytest.fixture(scope="module")
def planted():
    return planted_interactions(customers=200, items=60, segments=3, events=12, seed=1)


def tiny_fit(data, **params):
    return TwoTower(**{**SMALL, "epochs": 2, **params}).fit(data)


def test_the_loss_is_the_hand_computed_corrected_softmax_with_accidental_hits_masked():
    customers = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    candidates = torch.tensor([[0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])  # the two targets, then one negative
    items = torch.tensor([5, 7, 5])  # the negative is row 0's own target again: masked for row 0 only
    log_q = torch.log(torch.tensor([0.5, 0.25, 0.1]))
    loss = sampled_softmax_loss(customers, candidates, items, log_q, temperature=0.5)

    logits = np.array([[0.6, 0.0, 1.0], [0.8, 1.0, 0.0]]) / 0.5 - np.log([0.5, 0.25, 0.1])
    row0 = logits[0, 0] - np.log(np.exp(logits[0, :2]).sum())  # candidate 2 is item 5, row 0's positive
    row1 = logits[1, 1] - np.log(np.exp(logits[1]).sum())
    assert float(loss) == pytest.approx(-(row0 + row1) / 2, rel=1e-6)


def test_the_correction_changes_the_loss_as_log_q_says():
    customers = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    candidates = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([0, 1])
    flat = sampled_softmax_loss(customers, candidates, items, torch.zeros(2), 1.0)
    popular_negative = sampled_softmax_loss(customers, candidates, items, torch.log(torch.tensor([1.0, 4.0])), 1.0)
    # row 0: the negative (item 1) loses log 4 in its logit; row 1: its positive does
    expected = (math.log(1 + math.exp(-1) / 4) + math.log(1 + 4 * math.exp(-1))) / 2
    assert float(flat) == pytest.approx(math.log(1 + math.exp(-1)))
    assert float(popular_negative) == pytest.approx(expected)


def test_expected_counts_mix_the_batch_frequency_and_the_uniform_draws():
    probability = torch.tensor([0.5, 0.3, 0.2, 0.0], dtype=torch.float64)
    candidates = torch.tensor([0, 2, 3])
    got = log_expected_counts(probability, candidates, rows=10, negatives=8, n_items=4)
    assert np.allclose(got.numpy(), np.log([5 + 2, 2 + 2, 0 + 2]))
    in_batch = log_expected_counts(probability, candidates[:2], rows=10, negatives=0, n_items=4)
    assert np.allclose(in_batch.numpy(), np.log([5.0, 2.0]))


def own_segment_share(algorithm, data, customer_segment, item_segment):
    """Per customer, the share of their top 5 (what they touched left out) that is of their own segment."""
    histories = histories_of(data, np.arange(data.n_customers))
    top, _ = exact_top_k(algorithm, histories, 5, exclude=histories)
    return (item_segment[top] == customer_segment[:, None]).mean(axis=1)


@pytest.mark.slow
def test_recovers_the_planted_segments_when_it_learns_the_next_few_items(planted):
    data, customer_segment, item_segment = planted
    # A customer walks through their segment's 20 items in order and has touched 12: the 8 left are the
    # next ones of the walk. Learning to predict the next 5 items (horizon) recovers the segment.
    algorithm = TwoTower(**SMALL, epochs=20, horizon=5).fit(data)
    share = own_segment_share(algorithm, data, customer_segment, item_segment)
    assert share.mean() >= 0.8
    assert (share >= 0.8).mean() >= 0.8
    # random items would be of the customer's segment a third of the time, the most popular ones less
    popular = own_segment_share(Popular().fit(data), data, customer_segment, item_segment)
    assert popular.mean() < 0.5


@pytest.mark.slow
def test_recovers_the_planted_successor_of_the_last_item(planted):
    data, _, _ = planted
    algorithm = TwoTower(**SMALL, epochs=20).fit(data)
    histories = histories_of(data, np.arange(data.n_customers))
    top, _ = exact_top_k(algorithm, histories, 1, exclude=histories)
    # the planted walk: item 1000 + i is followed by 1000 + (i + 3) % 60 (three segments of 20 items)
    original = np.asarray(data.item_ids.to_pylist()) - 1000
    successor = np.argsort(original)[(original[[h[-1] for h in histories]] + 3) % 60]
    assert (top[:, 0] == successor).mean() >= 0.8  # the most popular item would be right 1 time in 40


def test_stops_early_on_validation_and_keeps_the_best_epoch(planted):
    data = planted[0]
    split = split_interactions(data)
    algorithm = TwoTower(**SMALL, epochs=40, patience=1).fit(split.train, split.validation)
    summary = algorithm.summary_
    assert set(summary) == {
        "epochs_run",
        "best_epoch",
        "stopped_reason",
        "wall_time_s",
        "epochs_per_s",
        "examples_per_s",
        "validation_ndcg",
        "embedding_updates",
    }
    assert 1 <= summary["best_epoch"] <= summary["epochs_run"] <= 40
    assert 0 < summary["validation_ndcg"] <= 1
    if summary["stopped_reason"] == "early_stopping":
        assert summary["epochs_run"] == summary["best_epoch"] + 1
    histories = histories_of(split.train, split.validation.customers)
    top, _ = exact_top_k(algorithm, histories, 10, exclude=histories)
    from needmap.metrics.ranking import per_customer

    # the weights kept are those of the best check
    assert per_customer(top, split.validation.items)["ndcg"].mean() == pytest.approx(summary["validation_ndcg"])


def test_max_time_stops_after_one_epoch_and_no_validation_trains_every_epoch(planted):
    data = planted[0]
    timed = tiny_fit(data, epochs=5, max_time=0.0)
    assert timed.summary_["stopped_reason"] == "max_time"
    assert timed.summary_["epochs_run"] == 1
    full = tiny_fit(data, epochs=2)
    assert full.summary_["stopped_reason"] == "epochs"
    assert full.summary_["epochs_run"] == full.summary_["best_epoch"] == 2
    assert full.summary_["validation_ndcg"] is None


def test_the_same_seed_gives_the_same_state(planted):
    data = planted[0]
    first, second = tiny_fit(data, mixed_negatives=8), tiny_fit(data, mixed_negatives=8)
    assert first.state_.keys() == second.state_.keys()
    assert all(np.array_equal(first.state_[k], second.state_[k]) for k in first.state_)
    other = tiny_fit(data, mixed_negatives=8, seed=1)
    assert not np.array_equal(first.state_["item_embedding.weight"], other.state_["item_embedding.weight"])


def test_restore_scores_as_the_fitted_one_and_vectors_give_the_scores(planted, tmp_path):
    from safetensors.numpy import load_file, save_file

    data = planted[0]
    algorithm = tiny_fit(data, item_features={"kind": np.arange(data.n_items) % 4})
    histories = histories_of(data, np.arange(20))
    save_file(algorithm.state_, tmp_path / "state.safetensors")
    restored = TwoTower(**SMALL, epochs=2).restore(load_file(tmp_path / "state.safetensors"), algorithm.n_items_)
    assert np.array_equal(restored.score(histories), algorithm.score(histories))
    scores = algorithm.score(histories)
    assert scores.dtype == np.float32 and scores.shape == (20, data.n_items)
    products = algorithm.vectors(histories) @ algorithm.item_vectors().T
    assert np.allclose(products, scores, atol=1e-6)
    assert np.allclose(np.linalg.norm(algorithm.item_vectors(), axis=1), 1.0, atol=1e-5)


def test_a_faiss_index_of_the_item_vectors_finds_the_exact_top_k(planted):
    from needmap.recommend.top_k import faiss_index, faiss_top_k

    data = planted[0]
    algorithm = tiny_fit(data)
    histories = histories_of(data, np.arange(50))
    exact, _ = exact_top_k(algorithm, histories, 5, exclude=histories)
    index = faiss_index(algorithm.item_vectors(), "flat")
    found, _ = faiss_top_k(index, algorithm.vectors(histories), 5, exclude=histories)
    assert (found == exact).mean() >= 0.98  # float ties aside, the same lists


def test_an_empty_history_scores_without_error(planted):
    data = planted[0]
    algorithm = tiny_fit(data)
    scores = algorithm.score([np.zeros(0, dtype=np.int32), data.item[:3]])
    assert scores.shape == (2, data.n_items) and np.isfinite(scores).all()
    assert np.allclose(np.linalg.norm(algorithm.vectors([np.zeros(0, dtype=np.int32)]), axis=1), 1.0, atol=1e-5)


def test_item_features_reach_the_item_vectors_and_survive_restore(planted):
    data, _, item_segment = planted
    codes = (item_segment + 1).astype(np.int64)
    algorithm = tiny_fit(data, item_features={"segment": codes})
    assert np.array_equal(algorithm.state_["item_feature.segment"], codes)
    restored = TwoTower(**SMALL, epochs=2).restore(algorithm.state_, algorithm.n_items_)
    assert np.array_equal(restored.item_features["segment"], codes)
    assert np.array_equal(restored.item_vectors(), algorithm.item_vectors())
    changed = dict(algorithm.state_)
    changed["item_feature.segment"] = np.where(codes == 1, 2, codes)
    moved = TwoTower(**SMALL, epochs=2).restore(changed, algorithm.n_items_).item_vectors()
    differs = ~np.isclose(moved, algorithm.item_vectors()).all(axis=1)
    assert np.array_equal(differs, codes == 1)


def test_an_item_never_trained_on_scores_zero_without_features_and_by_its_features_with_them():
    data = from_arrays(["a", "a", "b", "b", "c"], [1, 2, 1, 2, 3], [1, 2, 1, 2, 1])
    unseen = data.subset(data.item != 2)  # item 3 (index 2) keeps its index but has no event
    assert unseen.n_items == 3
    plain = tiny_fit(unseen)
    assert np.array_equal(plain.item_vectors()[2], np.zeros(16, dtype=np.float32))
    assert np.array_equal(plain.score([np.array([0])])[:, 2], [0.0])
    described = tiny_fit(unseen, item_features={"kind": np.array([1, 2, 1])})
    assert np.linalg.norm(described.item_vectors()[2]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"item_features": {"kind": np.array([1.5, 2.0, 0.0])}}, "integer code per item"),
        ({"item_features": {"kind": np.array([1, 2])}}, "integer code per item"),
        ({"item_features": {"kind": np.array([1, -1, 0])}}, "negative codes"),
        ({"temperature": 0.0}, "positive numbers"),
        ({"embedding_dim": 0}, "at least 1"),
    ],
)
def test_bad_options_are_refused(params, words):
    data = from_arrays(["a", "a", "b"], [1, 2, 3], [1, 2, 1])
    with pytest.raises(ConfigError, match=words):
        TwoTower(**params).fit(data)


def test_a_large_catalogue_learns_its_id_tables_by_sparse_lazy_adam(planted, monkeypatch):
    import needmap.training.optimizers

    data = planted[0]
    monkeypatch.setattr(needmap.training.optimizers, "SPARSE_MIN_ROWS", 0)  # as if the catalogue were large
    first, second = tiny_fit(data), tiny_fit(data)
    assert first.summary_["embedding_updates"] == "sparse"
    assert all(np.array_equal(first.state_[k], second.state_[k]) for k in first.state_)
    restored = TwoTower(**SMALL).restore(first.state_, first.n_items_)
    histories = histories_of(data, np.arange(5))
    assert np.array_equal(restored.score(histories), first.score(histories))
    # sparse Adam applies no weight decay: with weight decay, every table learns by dense AdamW
    assert tiny_fit(data, weight_decay=1e-4).summary_["embedding_updates"] == "dense"
