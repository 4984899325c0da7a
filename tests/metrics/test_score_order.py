"""needmap.metrics.score_order: rows ranked by score once per array of scores within an evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.metrics import curves, score_order
from needmap.metrics.classification import binary_metrics
from needmap.metrics.score_order import descending_order, shared_orders
from needmap.workflows.evaluation import _binary_model


def _scores(n: int = 2_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    p = np.round(np.clip(0.5 * rng.random(n) + 0.3 * y, 0, 1), 2)  # rounded: many ties
    return y, p


@pytest.fixture
def sorts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lengths of the score arrays :mod:`needmap.metrics.score_order` sorts from here on, one per sort."""
    counted: list[int] = []
    real = score_order._sort

    def counting(a: np.ndarray) -> np.ndarray:
        counted.append(len(a))
        return real(a)

    monkeypatch.setattr(score_order, "_sort", counting)
    return counted


def test_the_order_is_the_stable_descending_sort_inside_and_outside_a_block() -> None:
    _, p = _scores()
    want = np.argsort(-p, kind="stable")
    assert np.array_equal(descending_order(p), want)
    with shared_orders():
        assert np.array_equal(descending_order(p), want)
        assert np.array_equal(descending_order(p[::-1].copy()), np.argsort(-p[::-1], kind="stable"))


def test_within_a_block_equal_scores_are_sorted_once(sorts: list[int]) -> None:
    """Arrays of the same values share one read-only order; other values, or another block, sort again."""
    _, p = _scores()
    with shared_orders():
        first = descending_order(p)
        again = descending_order(p.copy())
        assert again is first and not first.flags.writeable
        other = descending_order(p + 0.001)
        assert other is not first
    assert len(sorts) == 2
    with shared_orders():
        assert descending_order(p) is not first
    descending_order(p)
    descending_order(p)
    assert len(sorts) == 5  # outside a block every call sorts


def test_an_evaluation_document_part_is_the_same_with_one_sort(sorts: list[int]) -> None:
    """One model's metrics and curves, computed with the shared order, equal those computed a sort each; and
    the seven rankings among them take one sort (scikit-learn's AUC and average precision sort on their own)."""
    y, p = _scores(seed=1)
    separate = {
        "metrics": binary_metrics(y, p),
        "roc": curves.roc_points(y, p),
        "pr": curves.pr_points(y, p),
        "gains": curves.gains_curve(y, p),
        "lift": curves.lift_curve(y, p),
        "lift_table": curves.lift_table(y, p),
        "profit": curves.profit_curve(y, p, 1.0, 10.0),
    }
    assert len(sorts) == 7  # outside a block: a sort each
    shared = _binary_model("deep", y, p, 1.0, 10.0)
    for key, value in separate.items():
        assert shared[key] == value, key
    assert len(sorts) == 7 + 1
