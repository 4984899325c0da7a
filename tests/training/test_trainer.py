"""Trainer: learning, early stopping, max_time, determinism, losses, optimizers, schedules, tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from training_helpers import CARDS, N_NUMERIC, best_column_auc, binary_data, small_mlp, synthetic

from needmap.errors import ConfigError, DataError
from needmap.metrics import binary_metrics, regression_metrics
from needmap.preprocessing.batch import FeatureBatch
from needmap.training import TrainConfig, Trainer, predict_proba, predict_raw
from needmap.training.losses import class_weights, make_loss
from needmap.training.predict import forward_in_batches, to_inputs
from reference_scores import batch_multiclass_references


@pytest.fixture(scope="module")
def binary_split() -> tuple[FeatureBatch, np.ndarray, FeatureBatch, np.ndarray]:
    """1500 training and 500 validation rows of the synthetic binary task."""
    train, y_train = binary_data(1500, seed=1)
    valid, y_valid = binary_data(500, seed=2)
    return train, y_train, valid, y_valid


def quiet(**options: object) -> TrainConfig:
    return TrainConfig(progress=False, threads=1, **options)


def test_mlp_learns_a_synthetic_signal(binary_split) -> None:
    train, y_train, valid, y_valid = binary_split
    model = small_mlp()
    result = Trainer(model, "binary", quiet(epochs=8, batch_size=128, lr=3e-3)).fit(train, y_train, valid, y_valid)
    auc = binary_metrics(y_valid, predict_proba(model, valid))["auc"]
    reference = best_column_auc(train, y_train, valid, y_valid)
    assert auc > reference, (auc, reference)  # x0 and x1 and the category together, not x0 alone
    assert result.monitor == "auc"
    assert result.best_score == pytest.approx(result.history[result.best_epoch - 1]["valid_auc"])
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert set(result.history[0]) >= {"epoch", "loss", "valid_auc", "valid_logloss", "lr", "seconds"}
    assert result.stopped_reason in ("epochs", "early_stopping")
    rows = len(train) * len(result.history)
    assert result.rows_per_s == pytest.approx(rows / result.train_time_s)
    assert 0 < result.train_time_s < result.wall_time_s  # the validation passes are not training steps
    assert result.embedding_updates == "dense"  # a small table: 'auto' keeps dense Adam
    assert not model.training


def test_early_stopping_restores_the_best_weights(binary_split) -> None:
    # Validation labels are the opposite of the training signal: the more the model learns, the
    # worse its validation AUC, so epoch 1 is the best and the weights must go back to it.
    train, y_train, valid, y_valid = binary_split
    model = small_mlp()
    config = quiet(epochs=20, batch_size=64, lr=3e-3, patience=2)
    result = Trainer(model, "binary", config).fit(train, y_train, valid, 1 - y_valid)
    assert result.stopped_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 2
    last_auc = result.history[-1]["valid_auc"]
    best_auc = result.history[result.best_epoch - 1]["valid_auc"]
    assert best_auc > last_auc
    final_auc = binary_metrics(1 - y_valid, predict_proba(model, valid))["auc"]
    assert final_auc == pytest.approx(best_auc, abs=1e-12)
    # 'plateau' halved the rate after the first epoch without improvement.
    lrs = [h["lr"] for h in result.history]
    assert lrs[result.best_epoch] == pytest.approx(3e-3)
    assert lrs[result.best_epoch + 1] == pytest.approx(1.5e-3)


def test_max_time_stops_after_the_epoch(binary_split) -> None:
    train, y_train, valid, y_valid = binary_split
    result = Trainer(small_mlp(), "binary", quiet(epochs=50, max_time=1e-6)).fit(train, y_train, valid, y_valid)
    assert result.stopped_reason == "max_time"
    assert len(result.history) == 1
    full = Trainer(small_mlp(), "binary", quiet(epochs=2, patience=None)).fit(train, y_train, valid, y_valid)
    assert full.stopped_reason == "epochs" and len(full.history) == 2


def _fit_twice_state(seed: int, binary_split) -> tuple[dict[str, torch.Tensor], list[dict]]:
    train, y_train, valid, y_valid = binary_split
    model = small_mlp(seed=0, dropout=0.2)
    config = quiet(epochs=3, batch_size=100, seed=seed, patience=None)
    result = Trainer(model, "binary", config).fit(train, y_train, valid, y_valid)
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in result.history]
    return model.state_dict(), history


def test_same_seed_gives_identical_weights_and_metrics(binary_split) -> None:
    state_a, history_a = _fit_twice_state(7, binary_split)
    state_b, history_b = _fit_twice_state(7, binary_split)
    state_c, _ = _fit_twice_state(8, binary_split)
    assert history_a == history_b
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert not all(torch.equal(state_a[k], state_c[k]) for k in state_a)
    # small_mlp reseeds the global generator; fit itself leaves it as it found it.
    torch.manual_seed(3)
    rng_before = torch.random.get_rng_state()
    train, y_train, _, _ = binary_split
    model = small_mlp()
    torch.manual_seed(3)
    Trainer(model, "binary", quiet(epochs=1)).fit(train, y_train)
    assert torch.equal(torch.random.get_rng_state(), rng_before)


def test_class_weight_changes_the_loss(binary_split) -> None:
    train, y_train, _, _ = binary_split
    positives = int(y_train.sum())
    weight = class_weights("binary", "balanced", y_train, 1)
    assert weight.tolist() == pytest.approx([(len(y_train) - positives) / positives])
    logits = torch.tensor([0.3, -1.2, 2.0])
    target = torch.tensor([1.0, 0.0, 1.0])
    loss = make_loss("binary", torch.tensor([3.0]))(logits, target)
    p = torch.sigmoid(logits)
    by_hand = -(3 * torch.log(p[0]) + torch.log(1 - p[1]) + 3 * torch.log(p[2])) / 3
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    losses = {}
    for option in (None, "balanced", 3.0):
        result = Trainer(small_mlp(), "binary", quiet(epochs=1, class_weight=option)).fit(train, y_train)
        losses[option] = result.history[0]["loss"]
    assert len({round(v, 6) for v in losses.values()}) == 3
    multi = class_weights("multiclass", "balanced", np.array([0, 0, 0, 1, 2, 2]), 4)
    assert multi.tolist() == pytest.approx([6 / 12, 6 / 4, 6 / 8, 0.0])
    with pytest.raises(ConfigError, match="binary tasks only"):
        class_weights("multiclass", 2.0, np.array([0, 1]), 2)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
@pytest.mark.parametrize("schedule", ["plateau", "cosine", "none"])
def test_each_optimizer_and_schedule_learns(optimizer: str, schedule: str) -> None:
    train, y_train = binary_data(600, seed=5)
    config = quiet(optimizer=optimizer, lr_schedule=schedule, epochs=4, batch_size=64, lr=3e-3)
    result = Trainer(small_mlp(), "binary", config).fit(train, y_train)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    lrs = [h["lr"] for h in result.history]
    if schedule == "cosine":
        assert lrs == pytest.approx([3e-3 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    elif schedule == "none":
        assert lrs == [3e-3] * 4
    assert result.best_epoch == 4  # without a validation set the last weights are kept


def test_regression_target_scaling_round_trips_to_original_units() -> None:
    train, score = synthetic(1200, seed=3)
    valid, score_v = synthetic(300, seed=4)
    y, y_v = 1000.0 + 50.0 * score, 1000.0 + 50.0 * score_v
    model = small_mlp()
    trainer = Trainer(model, "regression", quiet(epochs=10, batch_size=64, lr=3e-3))
    result = trainer.fit(train, y, valid, y_v)
    assert result.monitor == "rmse"
    assert trainer.target_scaling == result.target_scaling
    assert trainer.target_scaling[0] == pytest.approx({"mean": y.mean(), "std": y.std()})
    assert model.target_scaling.tolist() == pytest.approx([y.mean(), y.std()])
    predicted = predict_raw(model, valid)
    assert predicted.shape == (300,)
    raw = forward_in_batches(model, to_inputs(valid))[:, 0].double().numpy()
    assert predicted == pytest.approx(raw * y.std() + y.mean())
    # The same from the scaling alone (as a model directory stores it), and unscaled for classifiers.
    model.set_target_scaling(0.0, 1.0)
    scaling = trainer.target_scaling[0]
    assert predict_raw(model, valid, task="regression", target_scaling=scaling) == pytest.approx(predicted)
    assert predict_raw(model, valid, task="binary", target_scaling=scaling) == pytest.approx(raw)
    with pytest.raises(ConfigError, match="target_scaling is"):
        predict_raw(model, valid, target_scaling={"mean": 1.0, "std": 0.0})
    model.set_target_scaling(y.mean(), y.std())
    metrics = regression_metrics(y_v, predicted)
    assert metrics["rmse"] < 0.5 * y_v.std()
    assert metrics["rmse"] == pytest.approx(result.history[result.best_epoch - 1]["valid_rmse"])
    with pytest.raises(ConfigError, match="regression"):
        predict_proba(model, valid)


def test_multiclass_training_and_probabilities() -> None:
    train, score = synthetic(1500, seed=6)
    valid, score_v = synthetic(400, seed=7)
    y, y_v = np.digitize(score, [-1.0, 1.0]), np.digitize(score_v, [-1.0, 1.0])  # classes 0, 1, 2
    model = small_mlp(n_outputs=3)
    config = quiet(epochs=6, batch_size=64, lr=3e-3, class_weight="balanced")
    result = Trainer(model, "multiclass", config).fit(train, y, valid, y_v)
    assert result.monitor == "logloss"
    P = predict_proba(model, valid)
    assert P.shape == (400, 3)
    assert P.sum(axis=1) == pytest.approx(np.ones(400))
    # better than each column alone on the same rows (each class's share in the column's bin or category)
    reference = batch_multiclass_references(train, y, valid, y_v)
    accuracy = (P.argmax(1) == y_v).mean()
    assert accuracy > max(reference["best_column_accuracy"], reference["majority_share"]), (accuracy, reference)
    assert result.history[-1]["valid_macro_auc"] > reference["best_column_macro_auc"], (result.history, reference)
    assert predict_raw(model, valid).shape == (400, 3)


def test_trainer_rejects_inconsistent_inputs(binary_split) -> None:
    train, y_train, valid, _ = binary_split
    model = small_mlp()
    trainer = Trainer(model, "binary", quiet(epochs=1))
    with pytest.raises(DataError, match="y_train has 10 rows and the training features 1500"):
        trainer.fit(train, y_train[:10])
    with pytest.raises(DataError, match="not 0 or 1"):
        trainer.fit(train, y_train * 2)
    with pytest.raises(DataError, match="'auc' of the target 'target' is undefined on the validation rows"):
        trainer.fit(train, y_train, valid, np.zeros(len(valid), dtype=int))
    wide = FeatureBatch(np.zeros((4, N_NUMERIC + 1), np.float32), np.zeros((4, len(CARDS)), np.int64))
    with pytest.raises(DataError, match="training features have 4 numeric"):
        trainer.fit(wide, np.array([0, 1, 0, 1]))
    with pytest.raises(ConfigError, match="give both valid and y_valid"):
        trainer.fit(train, y_train, valid)
    with pytest.raises(ConfigError, match="unknown task 'ranking'"):
        Trainer(model, "ranking")
    with pytest.raises(ConfigError, match="multiclass task needs a model with one output per class"):
        Trainer(model, "multiclass")
    with pytest.raises(ConfigError, match=r"class_weight is 2\.0 but the task is regression"):
        Trainer(model, "regression", quiet(class_weight=2.0)).fit(train, y_train.astype(float))
    with pytest.raises(ConfigError, match="training loss became nan"):
        Trainer(small_mlp(), "binary", quiet(epochs=1, lr=1e30, optimizer="sgd")).fit(train, y_train)


def test_progress_prints_one_line_per_epoch_only_when_enabled(binary_split, capsys) -> None:
    train, y_train, valid, y_valid = binary_split
    config = TrainConfig(epochs=2, patience=None, threads=1, progress=True)
    Trainer(small_mlp(), "binary", config).fit(train, y_train, valid, y_valid)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "valid auc 0." in err
    Trainer(small_mlp(), "binary", quiet(epochs=2)).fit(train, y_train, valid, y_valid)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_fit_restores_the_thread_count(binary_split) -> None:
    train, y_train, _, _ = binary_split
    before = torch.get_num_threads()
    Trainer(small_mlp(), "binary", TrainConfig(epochs=1, progress=False, threads=1)).fit(train, y_train)
    assert torch.get_num_threads() == before


def test_independent_probabilities_for_a_multitask_model() -> None:
    """Two binary heads are two sigmoids, not one softmax over the heads."""
    model = small_mlp(n_outputs=2)
    batch, _ = synthetic(64, seed=4)
    joint = predict_proba(model, batch)
    independent = predict_proba(model, batch, independent=True)
    logits = forward_in_batches(model, to_inputs(batch)).double()
    np.testing.assert_allclose(independent, torch.sigmoid(logits).numpy())
    np.testing.assert_allclose(joint.sum(axis=1), 1.0)
    assert not np.allclose(independent.sum(axis=1), 1.0)


def test_what_preparing_freed_goes_back_before_the_heap_keeps_steps(binary_split, monkeypatch) -> None:
    """The trainer hands the heap's free memory back (malloc_trim) before it sets the heap to keep a step's
    temporaries, and again after training: otherwise the preparation's freed copies stay resident through it."""
    from needmap.training import trainer as trainer_module

    calls: list[str] = []
    monkeypatch.setattr(trainer_module, "return_freed_memory", lambda: calls.append("return") or True)
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append("keep") or True)
    train, y_train, valid, y_valid = binary_split
    Trainer(small_mlp(), "binary", quiet(epochs=1, batch_size=256)).fit(train, y_train, valid, y_valid)
    assert calls == ["return", "keep", "return"]


def test_compact_ids_are_int32_where_they_fit_and_train_alike(binary_split) -> None:
    """FeatureBatch.compact(): ids int32 when every one fits (numerics shared), kept int64 otherwise; a model
    trained on the compact rows is the one trained on the int64 rows."""
    train, y_train, valid, y_valid = binary_split
    compact = train.compact()
    assert compact.categorical.dtype == np.int32 and np.array_equal(compact.categorical, train.categorical)
    assert compact.numeric is train.numeric
    huge = FeatureBatch(train.numeric, train.categorical.copy(), (np.full((len(train), 2), 2**31, np.int64),))
    kept = huge.compact()
    assert kept.categorical.dtype == np.int32 and kept.lists[0].dtype == np.int64
    outputs = []
    for rows in (train, compact):
        model = small_mlp()
        Trainer(model, "binary", quiet(epochs=2, batch_size=256, seed=3)).fit(rows, y_train, valid.compact(), y_valid)
        outputs.append(predict_proba(model, valid))
    assert np.array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize(("batch_size", "slices"), [(128, 1024), (2048, 2048), (100_000, 8192)])
def test_the_validation_pass_scores_in_slices_no_larger_than_the_batches(
    binary_split, monkeypatch: pytest.MonkeyPatch, batch_size: int, slices: int
) -> None:
    """Slices of the training batch's size (at least 1024 rows, at most PREDICT_BATCH): the pass then reuses the
    memory the steps freed instead of growing the process at the end of each epoch."""
    import needmap.training.trainer as trainer_module

    train, y_train, valid, y_valid = binary_split
    seen: list[int] = []

    def forward(model: torch.nn.Module, inputs: object, batch_size: int = 8192) -> torch.Tensor:
        seen.append(batch_size)
        return forward_in_batches(model, inputs, batch_size)

    monkeypatch.setattr(trainer_module, "forward_in_batches", forward)
    model = small_mlp()
    result = Trainer(model, "binary", quiet(epochs=2, batch_size=batch_size, lr=3e-3)).fit(
        train, y_train, valid, y_valid
    )
    assert seen == [slices, slices] and len(result.history) == 2
    # the weights kept are those of the best epoch (the last one's as they are, an earlier one's restored)
    auc = binary_metrics(y_valid, predict_proba(model, valid))["auc"]
    assert auc == pytest.approx(result.history[result.best_epoch - 1]["valid_auc"], abs=1e-6)


def test_the_last_epoch_keeps_its_weights_without_copying_them(binary_split, monkeypatch: pytest.MonkeyPatch) -> None:
    """The best weights are copied after an improving epoch so that a later, worse one can be undone; after the
    last epoch (no checkpoint to write) nothing can come later, so the weights stay as they are, uncopied."""
    train, y_train, valid, y_valid = binary_split
    model = small_mlp()
    copies: list[int] = []
    state_dict = model.state_dict

    def counted(*args: object, **kwargs: object) -> object:
        copies.append(1)
        return state_dict(*args, **kwargs)

    monkeypatch.setattr(model, "state_dict", counted)
    result = Trainer(model, "binary", quiet(epochs=1, batch_size=256, lr=3e-3)).fit(train, y_train, valid, y_valid)
    assert copies == [] and result.best_epoch == 1
    copies.clear()
    result = Trainer(model, "binary", quiet(epochs=3, batch_size=256, lr=3e-3)).fit(train, y_train, valid, y_valid)
    best, improved = -math.inf, 0
    for entry in result.history[:2]:  # a copy after each of epochs 1-2 that raised the validation AUC
        improved, best = (improved + 1, entry["valid_auc"]) if entry["valid_auc"] > best else (improved, best)
    assert len(result.history) == 3 and len(copies) == improved >= 1
    auc = binary_metrics(y_valid, predict_proba(model, valid))["auc"]
    assert auc == pytest.approx(result.history[result.best_epoch - 1]["valid_auc"], abs=1e-6)
