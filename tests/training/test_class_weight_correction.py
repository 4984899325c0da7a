"""A head trained with class weights gives probabilities corrected for them (the prior correction).

Weighting the positives w times shifts the network's logit by log w (at a balanced weight on 2% positives the
odds are about 49 times too high); the head's scores subtract it again, so predict and evaluate give
probabilities whose mean is the base rate, while the ranking (AUC) stays as it was. A multiclass head's logits
are shifted by log w_k per class, and its scores subtract each again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

import needmap as nm
from needmap.training.config import TrainConfig
from needmap.training.heads import head_kind
from needmap.training.predict import predict_raw
from needmap.training.target_heads import TargetHeads


def _heads(tasks: list[str], class_weight: object, y: np.ndarray, n_outputs: int | None = None) -> TargetHeads:
    config = TrainConfig(class_weight=class_weight)
    heads = TargetHeads(tasks, [f"t{i}" for i in range(len(tasks))], config, n_outputs or len(tasks))
    heads.target_tensor(y.reshape(len(y), -1).astype(np.float64))
    return heads


def test_the_positives_weight_is_the_binary_heads_scaling() -> None:
    y = np.r_[np.ones(20), np.zeros(980)]
    assert _heads(["binary"], "balanced", y).scaling() == [{"pos_weight": pytest.approx(980 / 20)}]
    assert _heads(["binary"], 3.0, y).scaling() == [{"pos_weight": 3.0}]
    assert _heads(["binary"], None, y).scaling() == [None]
    # a regression head beside it keeps its mean and std; the binary head's weight counts its own labelled rows
    both = np.column_stack([np.r_[np.ones(20), np.zeros(970), np.full(10, np.nan)], np.arange(1000.0)])
    scaling = _heads(["binary", "regression"], "balanced", both).scaling()
    assert scaling[0] == {"pos_weight": pytest.approx(970 / 20)}
    assert scaling[1] == pytest.approx({"mean": 499.5, "std": float(np.arange(1000.0).std())})


def test_scores_undo_the_weight_by_the_prior_correction() -> None:
    raw = np.linspace(-6.0, 6.0, 25)[:, None]
    p = 1 / (1 + np.exp(-raw[:, 0]))
    w0, w1 = 1.0, 49.0  # the loss's weights of the negatives and the positives
    by_hand = p * w0 / (p * w0 + (1 - p) * w1)
    kind = head_kind("binary")
    assert kind.scores(raw, {"pos_weight": w1}) == pytest.approx(by_hand, rel=1e-12)
    assert kind.validation_scores(torch.from_numpy(raw), {"pos_weight": w1}) == pytest.approx(by_hand, rel=1e-12)
    assert kind.scores(raw, None) == pytest.approx(p, rel=1e-12)
    # the correction is monotone: it keeps the order of the rows
    assert np.all(np.diff(kind.scores(raw, {"pos_weight": w1})) > 0)


def _rare_table(n: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Rows with about 2% positives and the true probability of each (a logistic model of two columns)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    truth = 1 / (1 + np.exp(-(-4.5 + 0.9 * x[:, 0] - 0.6 * x[:, 1])))
    y = (rng.random(n) < truth).astype(np.int64)
    return pa.table({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "y": y}), truth


@pytest.mark.slow
def test_balanced_weights_give_probabilities_at_the_base_rate(tmp_path: Path) -> None:
    train, _ = _rare_table(8000, seed=0)
    test, truth = _rare_table(4000, seed=1)
    options = {"epochs": 8, "batch_size": 256, "hidden": [32], "lr": 3e-3, "progress": False, "threads": 2}
    model = nm.Model("mlp", target="y", class_weight="balanced", **options).fit(train)
    predictor = model.predictor_
    fit_rows = predictor.fit_rows_["train"]
    y_fit = train.column("y").to_numpy()[fit_rows]
    weight = (len(y_fit) - y_fit.sum()) / y_fit.sum()
    assert predictor.target_scaling_ == [{"pos_weight": pytest.approx(weight, rel=1e-6)}]

    rate = float(truth.mean())  # the true base rate of the test rows
    # The mean probability of a fitted model errs by about the base rate's standard error on the rows that
    # trained it (the error of its intercept): 4 of them.
    tolerance = 4 * math.sqrt(rate * (1 - rate) / len(fit_rows))
    corrected = predictor.predict_proba(test)
    raw = predict_raw(predictor.network_, predictor.preprocessor_.transform(test), target_scaling={"mean": 0, "std": 1})
    uncorrected = 1 / (1 + np.exp(-raw))
    assert abs(corrected.mean() - rate) < tolerance, (corrected.mean(), rate, tolerance)
    assert abs(uncorrected.mean() - rate) > 10 * tolerance, (uncorrected.mean(), rate, tolerance)
    # the ranking is the network's: the correction is monotone
    assert np.array_equal(np.argsort(corrected, kind="stable"), np.argsort(uncorrected, kind="stable"))

    # saved and loaded, the model keeps the correction (model.json's target_scaling)
    predictor.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["target_scaling"] == [{"pos_weight": pytest.approx(weight, rel=1e-6)}]
    assert nm.load(tmp_path / "m").predict_proba(test) == pytest.approx(corrected, rel=1e-9)


def test_the_class_weights_are_the_multiclass_heads_scaling() -> None:
    y = np.r_[np.zeros(700), np.ones(250), np.full(50, 2)]
    expected = [1000 / (3 * 700), 1000 / (3 * 250), 1000 / (3 * 50)]
    assert _heads(["multiclass"], "balanced", y, 3).scaling() == [{"class_weights": pytest.approx(expected, rel=1e-6)}]
    assert _heads(["multiclass"], None, y, 3).scaling() == [None]


def test_multiclass_scores_undo_each_classs_weight() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(40, 3)) * 3
    weights = [0.5, 1.5, 7.0]
    p = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
    by_hand = (p / weights) / (p / weights).sum(axis=1, keepdims=True)
    kind = head_kind("multiclass")
    scaling = {"class_weights": weights}
    assert kind.scores(raw, scaling) == pytest.approx(by_hand, rel=1e-12)
    assert kind.validation_scores(torch.from_numpy(raw), scaling) == pytest.approx(by_hand, rel=1e-12)
    assert kind.scores(raw, None) == pytest.approx(p, rel=1e-12)
    # a class with no training rows (weight 0) is left as it is, and the same factor on every weight changes nothing
    assert kind.scores(raw, {"class_weights": [0.5, 1.5, 0.0]}) == pytest.approx(
        kind.scores(raw, {"class_weights": [0.5, 1.5, 1.0]}), rel=1e-12
    )
    assert kind.scores(raw, {"class_weights": [5.0, 15.0, 70.0]}) == pytest.approx(by_hand, rel=1e-12)


def _three_class_table(n: int, seed: int) -> pa.Table:
    """Rows of three classes with shares about 80%, 15% and 5%, each depending on two of three columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    logits = np.column_stack([np.full(n, 2.0), 0.3 + 0.8 * x[:, 0], -0.9 + 0.8 * x[:, 1]])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return pa.table({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "segment": np.array(["a", "b", "c"])[y]})


@pytest.mark.slow
def test_balanced_multiclass_weights_give_probabilities_at_the_class_shares(tmp_path: Path) -> None:
    train = _three_class_table(9000, seed=0)
    test = _three_class_table(4000, seed=1)
    options = {"epochs": 6, "batch_size": 256, "hidden": [32], "lr": 3e-3, "progress": False, "threads": 2}
    weighted = nm.Model("mlp", target="segment", class_weight="balanced", **options).fit(train)
    plain = nm.Model("mlp", target="segment", **options).fit(train)
    predictor = weighted.predictor_
    fit_rows = predictor.fit_rows_["train"]
    classes = list(predictor.schema_.heads[0].classes)
    y_fit = np.searchsorted(classes, np.asarray(train.column("segment").to_numpy(zero_copy_only=False))[fit_rows])
    counts = np.bincount(y_fit, minlength=3)
    assert predictor.target_scaling_ == [{"class_weights": pytest.approx(len(y_fit) / (3 * counts), rel=1e-6)}]

    labels = np.asarray(test.column("segment").to_numpy(zero_copy_only=False))
    shares = np.array([(labels == c).mean() for c in classes])
    corrected = predictor.predict_proba(test)
    raw = predict_raw(predictor.network_, predictor.preprocessor_.transform(test), target_scaling={"mean": 0, "std": 1})
    uncorrected = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
    # the rarest class: weighted 16 times the commonest, its uncorrected probabilities are several times its share
    tolerance = 4 * np.sqrt(shares * (1 - shares) / len(fit_rows))
    assert np.all(np.abs(corrected.mean(axis=0) - shares) < tolerance), (corrected.mean(axis=0), shares)
    assert uncorrected.mean(axis=0)[2] > 3 * shares[2], (uncorrected.mean(axis=0), shares)

    # corrected, the weighted model's probabilities are as good as the unweighted model's (log loss within 2%)
    def log_loss(probs: np.ndarray) -> float:
        return float(-np.log(probs[np.arange(len(labels)), np.searchsorted(classes, labels)]).mean())

    assert log_loss(corrected) < 1.02 * log_loss(plain.predictor_.predict_proba(test))
    assert log_loss(uncorrected) > 1.2 * log_loss(corrected)

    predictor.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["target_scaling"] == [{"class_weights": pytest.approx(len(y_fit) / (3 * counts), rel=1e-6)}]
    assert nm.load(tmp_path / "m").predict_proba(test) == pytest.approx(corrected, rel=1e-9)
