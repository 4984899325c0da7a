"""Where training runs: the device option, its errors, and (on a machine with a CUDA GPU) training there."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch
from training_helpers import best_column_auc, binary_data, small_mlp

from needmap.errors import ConfigError
from needmap.metrics import binary_metrics
from needmap.models import build_model
from needmap.runtime import device as device_module
from needmap.runtime.device import resolve_device
from needmap.runtime.precision import precision_context
from needmap.training import TrainConfig, Trainer, predict_proba

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU on this machine")


def quiet(**options: object) -> TrainConfig:
    return TrainConfig(progress=False, threads=1, **options)


def test_device_names_are_checked() -> None:
    for name in ("auto", "cpu", "cuda", "cuda:1"):
        assert quiet(device=name).device == name
    for name in ("gpu", "cuda:x", "", "mps"):
        with pytest.raises(ConfigError, match="device is"):
            quiet(device=name)


def test_without_a_gpu_auto_is_the_cpu_and_cuda_is_an_error(monkeypatch) -> None:
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="needs a CUDA GPU, and torch sees none"):
        resolve_device("cuda")
    train, y_train = binary_data(200, seed=1)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        Trainer(small_mlp(), "binary", quiet(device="cuda:0", epochs=1)).fit(train, y_train)


def test_a_gpu_number_torch_does_not_see_is_an_error(monkeypatch) -> None:
    monkeypatch.setattr(device_module.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device_module.torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="sees 1 CUDA GPU"):
        resolve_device("cuda:3")
    assert resolve_device("cuda:0") == torch.device("cuda:0")


def test_cpu_training_reports_its_device() -> None:
    train, y_train = binary_data(400, seed=1)
    result = Trainer(small_mlp(), "binary", quiet(device="cpu", epochs=1)).fit(train, y_train)
    assert result.device == "cpu"


@needs_cuda
@pytest.mark.parametrize(("updates", "precision"), [("dense", "fp32"), ("sparse", "fp32"), ("sparse", "bf16")])
def test_cuda_training_reaches_the_cpu_auc_and_returns_a_cpu_model(updates: str, precision: str) -> None:
    train, y_train = binary_data(3000, seed=1)
    valid, y_valid = binary_data(1000, seed=2)
    aucs = {}
    for device in ("cpu", "cuda"):
        model = small_mlp()
        config = quiet(epochs=8, batch_size=128, lr=3e-3, embedding_updates=updates, device=device)
        config.precision = precision if device == "cuda" else "fp32"
        result = Trainer(model, "binary", config).fit(train, y_train, valid, y_valid)
        assert result.device.startswith(device)
        assert result.embedding_updates == updates
        assert all(p.device.type == "cpu" for p in model.parameters())
        aucs[device] = binary_metrics(y_valid, predict_proba(model, valid))["auc"]
    reference = best_column_auc(train, y_train, valid, y_valid)
    assert aucs["cuda"] > reference, (aucs, reference)
    assert abs(aucs["cuda"] - aucs["cpu"]) < 0.01


@needs_cuda
def test_cuda_multitask_training() -> None:
    train, y_train = binary_data(2000, seed=1)
    both = np.stack([y_train, 1 - y_train], 1).astype(np.float64)
    model = build_model("mmoe", n_numeric=3, cardinalities=[6, 4], n_outputs=2, embedding_dim=4)
    config = quiet(epochs=3, batch_size=128, device="cuda", class_weight="balanced")
    result = Trainer(model, ["binary", "binary"], config, names=["a", "b"]).fit(train, both, train, both)
    assert result.device.startswith("cuda")
    assert result.history[-1]["valid_a_auc"] > 0.8


@needs_cuda
def test_cuda_bf16_autocast_runs_matrix_products_in_bfloat16() -> None:
    layer = torch.nn.Linear(4, 3).cuda()
    with precision_context("bf16", "cuda")():
        assert layer(torch.randn(2, 4, device="cuda")).dtype == torch.bfloat16


@needs_cuda
def test_model_fit_on_cuda_saves_and_scores_on_the_cpu(tmp_path) -> None:
    from needmap.estimator import Model, load

    rng = np.random.default_rng(0)
    n = 4000
    city = rng.choice(["a", "b", "c", "d"], n)
    spend = rng.gamma(2.0, 50.0, n)
    logit = (city == "a") * 1.5 - (city == "d") * 1.0 + (spend - 100) / 50
    table = pa.table({"city": city, "spend": spend, "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)})
    model = Model("deepfm", target="y", epochs=4, progress=False, device="cuda", precision="bf16").fit(table)
    assert model.metrics_["training"]["device"].startswith("cuda")
    probs = model.predict_proba(table)
    assert binary_metrics(table.column("y").to_numpy(), probs)["auc"] > 0.75
    model.save(tmp_path / "m")
    assert np.allclose(load(tmp_path / "m").predict_proba(table), probs)


@needs_cuda
@pytest.mark.parametrize("streamed", [False, True])
def test_fit_from_a_file_on_cuda(tmp_path, monkeypatch, streamed: bool) -> None:
    import pyarrow.parquet as pq

    from needmap.estimator import Model
    from needmap.training import from_file

    if streamed:
        monkeypatch.setattr(from_file, "RESIDENT_MAX_BYTES", 0)
    rng = np.random.default_rng(1)
    n = 6000
    city = rng.choice([f"c{i}" for i in range(50)], n)
    spend = rng.gamma(2.0, 50.0, n)
    logit = (np.char.endswith(city.astype(str), "7")) * 2.0 + (spend - 100) / 50
    table = pa.table({"city": city, "spend": spend, "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)})
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path, row_group_size=1000)
    model = Model("deepfm", target="y", epochs=3, progress=False, device="cuda", embedding_updates="sparse")
    model.fit(path, validation=0.2, stream=True)
    assert model.report_["streamed_each_epoch"] is streamed
    assert model.metrics_["training"]["device"].startswith("cuda")
    assert model.metrics_["validation"]["auc"] > 0.75
    assert model.predict_proba({"city": "c7", "spend": 100.0}).shape == (1,)


def test_a_trained_model_keeps_no_gradients() -> None:
    train, y_train = binary_data(400, seed=1)
    model = small_mlp()
    Trainer(model, "binary", quiet(device="cpu", epochs=1, embedding_updates="sparse")).fit(train, y_train)
    assert all(p.grad is None for p in model.parameters())
