"""MLflow tracking: a run with its parameters, metrics, per-epoch curves and model files, read back."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.errors import ConfigError
from needmap.tracking import EXPERIMENT, flat_metrics, log_to_mlflow, tracking_uri
from needmap.workflows.train import run_train

FAST = {"epochs": 3, "progress": False, "batch_size": 256, "hidden": (32, 16)}


def _client(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """MLflow's client of the run folder (MLflow 3 opens a folder store only when asked to)."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=folder.resolve().as_uri())


def test_tracking_uri_and_flat_metrics(tmp_path: Path) -> None:
    assert tracking_uri(str(tmp_path / "mlruns")) == (tmp_path / "mlruns").resolve().as_uri()
    assert tracking_uri("http://localhost:5000") == "http://localhost:5000"
    assert tracking_uri("file:///tmp/mlruns") == "file:///tmp/mlruns"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ConfigError, match=r"a_file.*is a file"):
        tracking_uri(str(tmp_path / "a_file"))
    nested = {
        "test": {"auc": 0.8, "note": "x", "recall": None, "n": 600},
        "baselines": {"logistic regression": {"auc": 0.7}},
        "ok": True,
        "bad": float("nan"),
    }
    flat = flat_metrics(nested)
    assert flat == {"test_auc": 0.8, "test_n": 600.0, "baselines_logistic regression_auc": 0.7}


def test_log_to_mlflow_writes_a_run_that_mlflow_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "metrics.json").write_text("{}")
    history = [{"epoch": 1, "loss": 0.5, "valid_auc": 0.70}, {"epoch": 2, "loss": 0.4, "valid_auc": 0.75}]
    run_id = log_to_mlflow(
        str(tmp_path / "mlruns"), run_name="bank", params={"lr": 0.001, "hidden": [32, 16]},
        metrics={"test_auc": 0.78}, history=history, artifact_dir=model_dir, tags={"target": "y"},
    )  # fmt: skip
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # the process environment is left as it was
    client = _client(tmp_path / "mlruns", monkeypatch)
    run = client.get_run(run_id)
    assert (
        run.info.status == "FINISHED" and run.data.tags["mlflow.runName"] == "bank" and run.data.tags["target"] == "y"
    )
    assert run.data.params == {"lr": "0.001", "hidden": "[32, 16]"}
    assert run.data.metrics["test_auc"] == 0.78
    steps = client.get_metric_history(run_id, "valid_auc")
    assert sorted((m.step, m.value) for m in steps) == [(1, 0.70), (2, 0.75)]
    assert [a.path for a in client.list_artifacts(run_id, "model")] == ["model/metrics.json"]
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT


@pytest.mark.slow
def test_run_train_tracks_params_metrics_epochs_and_the_model_files(
    bank_table: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = bank_table.take(pa.array(np.sort(np.random.default_rng(0).permutation(bank_table.num_rows)[:1500])))
    model = nm.Model("mlp", target="y", drop=["duration"], lr=0.003, **FAST)
    outcome = run_train(table, model, out=tmp_path / "bank", track=str(tmp_path / "mlruns"), n_boot=100)
    assert outcome.run_id is not None
    client = _client(tmp_path / "mlruns", monkeypatch)
    run = client.get_run(outcome.run_id)
    assert run.data.params["architecture"] == "mlp" and run.data.params["train.lr"] == "0.003"
    assert run.data.params["network.hidden"] == "[32, 16]"
    assert run.data.metrics["test_auc"] == pytest.approx(outcome.metrics["test"]["auc"])
    assert run.data.metrics["baseline_LightGBM_auc"] == pytest.approx(outcome.metrics["baselines"]["LightGBM"]["auc"])
    history = outcome.metrics["training"]["history"]
    steps = sorted((m.step, m.value) for m in client.get_metric_history(outcome.run_id, "valid_auc"))
    assert steps == [(e["epoch"], pytest.approx(e["valid_auc"])) for e in history] and len(steps) == 3
    files = {a.path for a in client.list_artifacts(outcome.run_id, "model")}
    assert {"model/metrics.json", "model/weights.safetensors", "model/evaluation.json"} <= files


def test_missing_mlflow_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install needmap\[mlflow\]"):
        log_to_mlflow(str(tmp_path / "mlruns"), run_name="x", params={}, metrics={})
