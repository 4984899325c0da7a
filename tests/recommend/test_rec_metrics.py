"""Full-ranking metrics against hand computations."""

from __future__ import annotations

import math

import numpy as np

from needmap.metrics.ranking import per_customer, ranking_metrics


def test_hand_computed() -> None:
    top = np.array([[5, 1, 2], [0, 3, -1], [7, 8, 9]])
    truth = [np.array([1]), np.array([3, 0]), np.array([4])]
    found = per_customer(top, truth)
    assert found["hit_rate"].tolist() == [1.0, 1.0, 0.0]
    assert found["recall"].tolist() == [1.0, 1.0, 0.0]
    assert found["mrr"].tolist() == [0.5, 1.0, 0.0]
    assert math.isclose(found["ndcg"][0], 1 / math.log2(3))
    assert math.isclose(found["ndcg"][1], 1.0)  # both held-out items at the top two ranks


def test_coverage_and_popularity_bias() -> None:
    popularity = np.array([10.0, 5.0, 1.0, 0.0])
    top = np.array([[0, 1], [0, 1]])
    metrics = ranking_metrics(top, [np.array([2]), np.array([3])], popularity)
    assert metrics["coverage@2"] == 0.5
    assert metrics["popularity_bias@2"] == (1.0 + 0.75) / 2
    assert metrics["ndcg@2"] == 0.0 and metrics["customers"] == 2
