"""Ray Train as a launcher of needmap's training: a local Ray cluster of 2 workers runs ``train_worker`` under its
TorchTrainer (Ray makes the gloo process group) and gives the model one process gives, within 0.005 of test AUC.

Ray is in the dev extras; where it is not installed the test skips with a reason, and fails where
NEEDMAP_REQUIRE_RAY=1 (CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import needs
from needmap.workflows.distributed import train_worker

pytestmark = pytest.mark.slow


def _ray():
    try:
        import ray
        from ray.train import ScalingConfig
        from ray.train.torch import TorchTrainer
    except ImportError:
        needs.missing("Ray Train is not installed (pip install 'ray[train]')", "NEEDMAP_REQUIRE_RAY")
    return ray, ScalingConfig, TorchTrainer


def test_ray_train_with_two_workers_trains_the_model_of_one_process(tmp_path: Path, bank_csv: Path) -> None:
    ray, scaling_config, torch_trainer = _ray()
    options = {"drop": ["duration"], "hidden": [32, 16], "epochs": 4, "batch_size": 128, "patience": None,
               "seed": 3, "progress": False}  # fmt: skip
    config = {"data": str(bank_csv), "target": "y", "options": options, "run": {"baseline": False}}
    alone = train_worker({**config, "out": str(tmp_path / "one")})
    assert alone is not None
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})  # fmt: skip
    try:
        trainer = torch_trainer(
            train_worker,
            train_loop_config={**config, "out": str(tmp_path / "ray")},
            scaling_config=scaling_config(num_workers=2, use_gpu=False, resources_per_worker={"CPU": 1}),
        )
        trainer.fit()
    finally:
        ray.shutdown()
    metrics = json.loads((tmp_path / "ray" / "metrics.json").read_text())
    assert metrics["training"]["world_size"] == 2
    assert abs(metrics["test"]["auc"] - alone["test"]["auc"]) < 0.005
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "ray"]  # one model directory per run
