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


@pytest.fixture
def metric_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bytes]]:
    """Each computation of binary metrics from here on: its rows and a digest of its labels, scores and threshold."""
    import hashlib

    from needmap.metrics import classification

    counted: list[tuple[int, bytes]] = []
    real = classification._binary_metrics

    def counting(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
        digest = hashlib.blake2b(y.tobytes() + np.asarray(p).tobytes() + str(threshold).encode()).digest()
        counted.append((len(y), digest))
        return real(y, p, threshold)

    monkeypatch.setattr(classification, "_binary_metrics", counting)
    return counted


def test_within_a_block_a_models_binary_metrics_are_computed_once(metric_runs: list) -> None:
    """The same labels and scores (the labels in any dtype the metrics accept) share one computation inside a
    block, nested blocks included; each caller gets its own copy, so one that adds a key does not change the
    others'."""
    y, p = _scores(seed=2)
    want = binary_metrics(y, p)
    with shared_orders():
        first = binary_metrics(y, p)
        first["rows_without_target"] = 0  # what a caller adds to its copy
        with shared_orders():
            again = binary_metrics(y.astype(np.int64), p.copy())
        other = binary_metrics(y, p, threshold=0.4)
    assert first["auc"] == again["auc"] == want["auc"]
    assert again == want and "rows_without_target" not in again
    assert other != want
    assert len(metric_runs) == 3  # outside, inside once, the other threshold
    binary_metrics(y, p)
    assert len(metric_runs) == 4  # outside a block every call computes


def test_a_trained_models_test_metrics_are_computed_once_per_model(metric_runs: list) -> None:
    """The held-out judgement's metrics (its verdict) and the evaluation document's are one computation per model
    on the test rows: no labels and scores there are computed twice."""
    import pyarrow as pa

    import needmap as nm
    from needmap.workflows.train import run_train

    rng = np.random.default_rng(4)
    n = 2_000
    x = rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x + (group == "a"))))).astype(np.int64)
    table = pa.table({"x": x, "group": group, "y": y})
    model = nm.Model("mlp", target="y", epochs=2, batch_size=256, hidden=[8], progress=False, threads=1)
    run_train(table, model, out=None, n_boot=100)
    on_test = [digest for rows, digest in metric_runs if rows == 400]  # 20% of the rows: the test part
    assert len(on_test) >= 3  # the network and both baselines at least
    assert len(on_test) == len(set(on_test))
