"""Head kinds: the built-in tasks are registry entries, and a new kind plugs in by registering one entry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from training_helpers import small_mlp, synthetic

from needmap.errors import ConfigError
from needmap.training import TrainConfig, Trainer
from needmap.training import heads as head_registry
from needmap.training.heads import HeadKind, head_kind, head_tasks
from needmap.training.predict import forward_in_batches, to_inputs


def _count_metrics(y: np.ndarray, mean: np.ndarray) -> dict[str, Any]:
    """Mean Poisson deviance and RMSE of predicted means ``mean`` against counts ``y``."""
    y, mean = np.asarray(y, dtype=np.float64), np.asarray(mean, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mean), 0.0)
    return {"deviance": float(np.mean(2 * (term - (y - mean)))), "rmse": float(np.sqrt(np.mean((y - mean) ** 2)))}


COUNT = HeadKind(
    task="count",
    monitors={"deviance": "min", "rmse": "min"},
    default_monitor="deviance",
    loss=lambda labels, class_weight, n_outputs, reduction: nn.PoissonNLLLoss(log_input=True, reduction=reduction),
    scores=lambda raw, scaling: np.exp(raw[:, 0]),
    metrics=_count_metrics,
)


@pytest.fixture
def count_kind(monkeypatch: pytest.MonkeyPatch) -> HeadKind:
    """The test-local 'count' kind, registered for the test only."""
    monkeypatch.setitem(head_registry._KINDS, "count", COUNT)
    return COUNT


def counts(n: int, seed: int) -> tuple[Any, np.ndarray]:
    batch, score = synthetic(n, seed)
    rng = np.random.default_rng(seed + 50)
    return batch, rng.poisson(np.exp(0.4 * score)).astype(np.float64)


def quiet(**options: object) -> TrainConfig:
    return TrainConfig(progress=False, threads=1, batch_size=128, lr=3e-3, seed=0, **options)


def test_built_in_kinds() -> None:
    assert head_tasks() == ("binary", "regression", "multiclass", "ltv")
    assert head_kind("ltv").width == 3 and head_kind("ltv").monitor_for(None) == ("normalized_gini", "max")
    assert head_kind("binary").monitor_for(None) == ("auc", "max")
    assert head_kind("regression").standardized and not head_kind("multiclass").with_others
    with pytest.raises(ConfigError, match="does not apply to multiclass"):
        head_kind("multiclass").monitor_for("rmse")
    with pytest.raises(ConfigError, match="unknown task 'count'"):
        Trainer(small_mlp(), "count", quiet(epochs=1))


def test_a_registered_count_head_trains_alone_without_new_trainer_code(count_kind: HeadKind) -> None:
    train, y = counts(1500, seed=1)
    valid, y_v = counts(500, seed=2)
    model = small_mlp()
    result = Trainer(model, "count", quiet(epochs=8)).fit(train, y, valid, y_v)
    assert result.monitor == "deviance" and "valid_rmse" in result.history[0]
    predicted = count_kind.scores(forward_in_batches(model, to_inputs(valid)).double().numpy(), None)
    constant = _count_metrics(y_v, np.full(len(y_v), y.mean()))["deviance"]
    assert result.best_score == pytest.approx(_count_metrics(y_v, predicted)["deviance"])
    assert result.best_score < 0.7 * constant  # the Poisson loss learned the rate, not just its mean


def test_a_count_head_trains_beside_a_binary_head(count_kind: HeadKind) -> None:
    train, score = synthetic(1500, seed=3)
    rng = np.random.default_rng(9)
    y = np.stack([(rng.uniform(size=1500) < 1 / (1 + np.exp(-score))), rng.poisson(np.exp(0.4 * score))], 1)
    trainer = Trainer(small_mlp(n_outputs=2), ["binary", "count"], quiet(epochs=3), names=["buy", "visits"])
    result = trainer.fit(train, y.astype(np.float64), train, y.astype(np.float64))
    entry = result.history[-1]
    assert result.monitor == "mean_score"  # auc (max) and deviance (min) combine as a score
    assert {"loss_visits", "valid_visits_deviance", "valid_buy_auc", "valid_mean_score"} <= set(entry)
    assert trainer.target_scaling == [None, None]  # neither head is standardized
    with pytest.raises(ConfigError, match="one of binary, regression, count"):
        Trainer(small_mlp(n_outputs=2), ["binary", "multiclass"], quiet(), names=["a", "b"])
    assert torch.isfinite(torch.tensor(entry["loss"]))
