"""MMoE and PLE: shapes, gates and layers; multi-task training: per-task losses, weights, history, monitor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from needmap.errors import ConfigError, DataError
from needmap.models import build_model
from needmap.models.mmoe import MMoE
from needmap.models.ple import PLE
from needmap.preprocessing.batch import FeatureBatch
from needmap.training import TrainConfig, Trainer
from needmap.training.predict import forward_in_batches, predict_raw, to_inputs
from needmap.training.target_heads import TargetHeads, head_outputs
from reference_scores import batch_references, batch_regression_references

CARDS = [6, 4]
LISTS = [{"name": "tags", "kind": "multihot", "cardinality": 5, "max_len": 3}]


def batch_inputs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    categorical = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], 1)
    return torch.randn(n, 3, generator=g), categorical, (torch.randint(0, 5, (n, 3), generator=g),)


@pytest.mark.parametrize("name", ["mmoe", "ple"])
def test_multitask_models_return_one_output_per_task(name: str) -> None:
    torch.manual_seed(0)
    small = {"expert_hidden": [8], "tower_hidden": [4], "embedding_dim": 4}
    model = build_model(name, n_numeric=3, cardinalities=CARDS, n_outputs=3, lists=LISTS, **small)
    out = model(*batch_inputs(7, seed=1))
    assert out.shape == (7, 3) and torch.isfinite(out).all()
    rebuilt = build_model(name, n_numeric=3, cardinalities=CARDS, n_outputs=3, lists=LISTS, **model.config())
    assert sorted(rebuilt.state_dict()) == sorted(model.state_dict())
    out.sum().backward()
    unreached = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert unreached == []  # every expert, gate and tower moves the outputs


def _reached(model: nn.Module, output: torch.Tensor) -> set[str]:
    """The parameters that ``output.sum()`` gives a nonzero gradient."""
    model.zero_grad()
    output.sum().backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize("name", ["mmoe", "ple"])
def test_each_task_trains_the_shared_layers_and_only_its_own_tower(name: str) -> None:
    """A task's loss reaches the input embeddings and the experts every task shares (MMoE: all experts
    and the gate; PLE: the shared experts of every layer), and its own tower and head, not the others'."""
    torch.manual_seed(0)
    small = {"expert_hidden": [8], "tower_hidden": [4], "embedding_dim": 4}
    model = build_model(name, n_numeric=3, cardinalities=CARDS, n_outputs=3, lists=LISTS, **small)
    names = [n for n, _ in model.named_parameters()]
    shared = [n for n in names if n.startswith(("input.", "experts.", "gate.")) or ".shared." in n]
    assert any(n.startswith("input.") for n in shared) and any(".0." in n for n in shared)  # embeddings, experts
    inputs = batch_inputs(16, seed=4)
    for task in range(3):
        reached = _reached(model, model(*inputs)[:, task])
        own = [n for n in names if n.startswith((f"towers.towers.{task}.", f"towers.heads.{task}."))]
        others = [n for n in names if n.startswith("towers.") and n not in own]
        assert own and set(own) <= reached, (task, sorted(set(own) - reached))
        assert set(shared) <= reached, (task, sorted(set(shared) - reached))
        assert not set(others) & reached, (task, sorted(set(others) & reached))


def test_mmoe_gates_are_a_mixture_per_task() -> None:
    model = MMoE(3, CARDS, 2, LISTS, num_experts=5, expert_hidden=[8], tower_hidden=[])
    gates = model.gates(*batch_inputs(4, seed=2))
    assert gates.shape == (4, 2, 5)
    torch.testing.assert_close(gates.sum(dim=-1), torch.ones(4, 2))
    assert len(model.experts) == 5 and len(model.towers.heads) == 2


def test_ple_layers_have_task_and_shared_experts() -> None:
    model = PLE(3, CARDS, 2, None, num_layers=3, num_shared_experts=1, num_task_experts=2, expert_hidden=[8, 6])
    assert len(model.layers) == 3
    first, last = model.layers[0], model.layers[-1]
    assert len(first.shared) == 1 and [len(t) for t in first.task] == [2, 2]
    assert first.task_gates[0].out_features == 3  # own 2 + shared 1
    assert first.shared_gate is not None and first.shared_gate.out_features == 5  # 2 tasks x 2 + 1 shared
    assert last.shared_gate is None
    assert model.layers[1].shared[0].in_dim == 6  # a layer reads the expert outputs of the one before
    numeric, categorical, _ = batch_inputs(5, seed=3)
    assert model(numeric, categorical).shape == (5, 2)


def test_multitask_models_reject_bad_expert_options() -> None:
    with pytest.raises(ConfigError, match="num_experts"):
        MMoE(3, CARDS, 2, num_experts=0)
    with pytest.raises(ConfigError, match="expert_hidden"):
        MMoE(3, CARDS, 2, expert_hidden=[])
    with pytest.raises(ConfigError, match="num_layers"):
        PLE(3, CARDS, 2, num_layers=0)


# -- training ------------------------------------------------------------------------------------------
def two_tasks(n: int, seed: int) -> tuple[FeatureBatch, np.ndarray]:
    """Task a (binary) depends on x0 and categorical column 0; task b (regression, mean 50, std ~12) on x1
    and categorical column 1: no single column gives either task, so a model that learned each from one
    column only stays below the best single column's reference (:mod:`reference_scores`)."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 3)).astype(np.float32)
    categorical = np.stack([rng.integers(0, c, n) for c in CARDS], 1).astype(np.int64)
    score = 2 * numeric[:, 0] + np.array([0, 0, 1.5, -1.5, 1, -1])[categorical[:, 0]]
    a = (rng.uniform(size=n) < 1 / (1 + np.exp(-score))).astype(np.float32)
    b = 50 + 10 * numeric[:, 1] + np.array([0, 8, -8, 4])[categorical[:, 1]] + rng.normal(scale=2, size=n)
    return FeatureBatch(numeric, categorical), np.stack([a, b.astype(np.float32)], axis=1)


def references(train: FeatureBatch, y_train: np.ndarray, valid: FeatureBatch, y_valid: np.ndarray) -> dict:
    """The best single column of the validation rows for each task (fitted on the training rows that have
    the target): AUC for a, R² for b, and the RMSE of b's training mean."""
    has_a, has_b = ~np.isnan(y_train[:, 0]), ~np.isnan(y_train[:, 1])
    valid_a, valid_b = ~np.isnan(y_valid[:, 0]), ~np.isnan(y_valid[:, 1])
    a = batch_references(train.take(np.flatnonzero(has_a)), y_train[has_a, 0], valid.take(np.flatnonzero(valid_a)),
                         y_valid[valid_a, 0], logistic=False)  # fmt: skip
    b = batch_regression_references(train.take(np.flatnonzero(has_b)), y_train[has_b, 1],
                                    valid.take(np.flatnonzero(valid_b)), y_valid[valid_b, 1])  # fmt: skip
    return {"a": a, "b": b}


def small_mmoe(n_outputs: int = 2) -> MMoE:
    torch.manual_seed(0)
    return MMoE(3, CARDS, n_outputs, num_experts=3, expert_hidden=[16], tower_hidden=[8], embedding_dim=4)


def quiet(**options: object) -> TrainConfig:
    return TrainConfig(progress=False, threads=1, batch_size=128, lr=3e-3, **options)


def test_the_loss_is_the_weighted_sum_of_the_per_task_losses() -> None:
    heads = TargetHeads(["binary", "regression"], ["a", "b"], quiet(task_weights={"b": 0.25}), 2)
    assert [h.weight for h in heads.heads] == [1.0, 0.25]
    _, y = two_tasks(64, seed=1)
    target = heads.target_tensor(y)
    heads.make_losses(y)
    assert heads.heads[1].mean == pytest.approx(float(y[:, 1].mean()), rel=1e-6)
    torch.testing.assert_close(target[:, 1].mean(), torch.tensor(0.0), atol=1e-5, rtol=0)
    out = torch.randn(64, 2)
    total, parts = heads.loss(out, target)
    bce = nn.functional.binary_cross_entropy_with_logits(out[:, 0], target[:, 0])
    mse = nn.functional.mse_loss(out[:, 1], target[:, 1])
    torch.testing.assert_close(parts, torch.stack([bce, mse]))
    torch.testing.assert_close(total, bce + 0.25 * mse)


def test_multitask_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="binary, regression"):
        TargetHeads(["binary", "multiclass"], ["a", "b"], quiet(), 2)
    with pytest.raises(ConfigError, match="2 outputs"):
        TargetHeads(["binary", "binary"], ["a", "b"], quiet(), 3)
    with pytest.raises(ConfigError, match="one per target"):
        TargetHeads(["binary", "binary"], ["a", "b"], quiet(task_weights=[1.0]), 2)
    with pytest.raises(ConfigError, match="'c'"):
        TargetHeads(["binary", "binary"], ["a", "b"], quiet(task_weights={"c": 2.0}), 2)
    with pytest.raises(ConfigError, match="task_weights"):
        TrainConfig(task_weights=[0.0, 0.0])
    with pytest.raises(ConfigError, match="monitor 'macro_auc'"):
        TargetHeads(["binary", "regression"], ["a", "b"], quiet(monitor="macro_auc"), 2)


def test_combined_monitor_name_direction_and_value() -> None:
    same = TargetHeads(["binary", "binary"], ["a", "b"], quiet(), 2)
    assert (same.monitor, same.direction) == ("mean_auc", "max")
    assert same.combine({"a": {"auc": 0.8}, "b": {"auc": 0.6}}) == pytest.approx(0.7)
    mixed = TargetHeads(["binary", "regression"], ["a", "b"], quiet(), 2)
    assert (mixed.monitor, mixed.direction) == ("mean_score", "max")
    mixed.heads[1].std = 10.0
    # auc 0.8 and rmse 5 in units of std 10: (0.8 - 0.5) / 2
    assert mixed.combine({"a": {"auc": 0.8}, "b": {"rmse": 5.0}}) == pytest.approx(0.15)


@pytest.mark.slow
def test_trainer_learns_both_tasks_and_logs_each() -> None:
    train, y_train = two_tasks(1500, seed=1)
    valid, y_valid = two_tasks(500, seed=2)
    model = small_mmoe()
    trainer = Trainer(model, ["binary", "regression"], quiet(epochs=12), names=["a", "b"])
    result = trainer.fit(train, y_train, valid, y_valid)
    assert result.monitor == "mean_score"
    last = result.history[-1]
    assert {"loss_a", "loss_b", "valid_a_auc", "valid_a_logloss", "valid_b_rmse", "valid_b_r2"} <= set(last)
    # each task learned from both of its inputs: better than its best single column on the same rows
    reference = references(train, y_train, valid, y_valid)
    assert last["valid_a_auc"] > reference["a"]["best_column_auc"], (last, reference)
    assert last["valid_b_r2"] > reference["b"]["best_column_r2"], (last, reference)
    assert last["loss"] == pytest.approx(last["loss_a"] + last["loss_b"], rel=1e-5)
    assert result.best_score == pytest.approx(result.history[result.best_epoch - 1]["valid_mean_score"])
    assert result.target_scaling is not None and result.target_scaling[0] is None
    assert result.target_scaling[1]["mean"] == pytest.approx(float(y_train[:, 1].mean()), rel=1e-5)
    # The regression head predicts in target units once the scaling is applied.
    raw = forward_in_batches(model, to_inputs(valid)).numpy()
    pred = head_outputs(raw, ["binary", "regression"], result.target_scaling)
    assert np.all((pred[:, 0] > 0) & (pred[:, 0] < 1))
    assert abs(pred[:, 1].mean() - y_valid[:, 1].mean()) < 2.0


def test_a_task_with_weight_zero_is_not_trained() -> None:
    train, y_train = two_tasks(600, seed=3)
    model = small_mmoe()
    tower_b = [p.detach().clone() for p in model.towers.towers[1].parameters()]
    tower_a = [p.detach().clone() for p in model.towers.towers[0].parameters()]
    Trainer(model, ["binary", "regression"], quiet(epochs=2, task_weights=[1.0, 0.0])).fit(train, y_train)
    assert all(torch.equal(p, q) for p, q in zip(model.towers.towers[1].parameters(), tower_b, strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(model.towers.towers[0].parameters(), tower_a, strict=True))


def test_multitask_targets_are_checked() -> None:
    train, y_train = two_tasks(200, seed=4)
    trainer = Trainer(small_mmoe(), ["binary", "regression"], quiet(epochs=1), names=["a", "b"])
    with pytest.raises(DataError, match=r"expected \[rows, 2\]"):
        trainer.fit(train, y_train[:, 0])
    bad = y_train.copy()
    bad[3, 0] = 2.0
    with pytest.raises(DataError, match="binary target 'a'"):
        trainer.fit(train, bad)
    one_class = y_train.copy()
    one_class[:, 0] = 1.0
    with pytest.raises(DataError, match="only the class 1 of the target 'a'"):
        trainer.fit(train, one_class)
    with pytest.raises(ConfigError, match="2 outputs"):
        Trainer(small_mmoe(3), ["binary", "regression"], quiet())


def test_rows_without_a_target_are_left_out_of_that_targets_loss_only() -> None:
    heads = TargetHeads(["binary", "regression"], ["a", "b"], quiet(), 2)
    _, y = two_tasks(64, seed=5)
    y[::4, 1] = np.nan  # a quarter of the rows lack target b
    y[1::8, 0] = np.nan  # an eighth lack target a
    target = heads.target_tensor(y)
    labelled_b = ~np.isnan(y[:, 1])
    assert heads.heads[1].mean == pytest.approx(float(y[labelled_b, 1].mean()), rel=1e-6)
    heads.make_losses(y)
    out = torch.randn(64, 2, requires_grad=True)
    total, parts = heads.loss(out, target)
    a, b = ~torch.isnan(target[:, 0]), ~torch.isnan(target[:, 1])
    bce = nn.functional.binary_cross_entropy_with_logits(out[a, 0], target[a, 0])
    mse = nn.functional.mse_loss(out[b, 1], target[b, 1])
    torch.testing.assert_close(parts, torch.stack([bce, mse]))
    total.backward()
    assert torch.all(out.grad[~b, 1] == 0) and torch.all(out.grad[b, 1] != 0)  # no gradient without a label
    assert torch.all(out.grad[~a, 0] == 0) and torch.all(out.grad[a, 0] != 0)
    # A batch with no row of target b contributes nothing for it (not NaN).
    _, parts = heads.loss(out[~b], target[~b])
    assert parts[1].item() == 0.0 and torch.isfinite(parts).all()


def test_trainer_learns_each_target_from_the_rows_that_have_it() -> None:
    train, y_train = two_tasks(600, seed=6)
    valid, y_valid = two_tasks(300, seed=7)
    y_train[: len(y_train) // 2, 1] = np.nan  # half the training rows lack b
    y_valid[::3, 1] = np.nan
    trainer = Trainer(small_mmoe(), ["binary", "regression"], quiet(epochs=20), names=["a", "b"])
    result = trainer.fit(train, y_train, valid, y_valid)
    last = result.history[-1]
    assert np.isfinite(last["loss"]) and np.isfinite(last["valid_b_rmse"])
    raw = predict_raw(trainer.model, valid, target_scaling={"mean": 0.0, "std": 1.0})
    metrics = trainer.heads.metrics(torch.from_numpy(raw), y_valid)
    assert metrics["b"]["rows_without_target"] == 100 and metrics["b"]["n"] == 200
    # better than the best single column on the rows that have each target (and than b's training mean)
    reference = references(train, y_train, valid, y_valid)
    assert metrics["b"]["rmse"] < reference["b"]["mean_rmse"], (metrics["b"], reference)
    assert metrics["b"]["r2"] > reference["b"]["best_column_r2"], (metrics["b"], reference)
    assert metrics["a"]["auc"] > reference["a"]["best_column_auc"], (metrics["a"], reference)
    all_missing = y_train.copy()
    all_missing[:, 1] = np.nan
    with pytest.raises(DataError, match="no row with a value for the target 'b'"):
        Trainer(small_mmoe(), ["binary", "regression"], quiet(epochs=1), names=["a", "b"]).fit(train, all_missing)
