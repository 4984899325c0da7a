"""Distributed training: ``needmap train --nproc 2`` and ``torchrun -m needmap train`` on this machine's CPUs (gloo).

Two processes share every global batch (each its half, DDP averaging the gradients), so they train nearly the
model one process trains with the same seed and batch size; the same world size and seed give the same weights;
rank 0 alone writes the one model directory (:mod:`needmap.training.distributed`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from needmap.errors import ConfigError
from needmap.runtime.device import cores_per_process, usable_cores
from needmap.training.distributed import Ranks, shard
from needmap.workflows.distributed import train_worker, without_nproc

#: The network and training of the runs compared: small, a few epochs, the validation share's early stopping off.
TRAIN_ARGS = [
    "--target", "y", "--drop", "duration", "--hidden", "32,16", "--epochs", "4", "--batch-size", "128",
    "--patience", "none", "--seed", "3", "--no-baseline", "--quiet",
]  # fmt: skip


def _needmap(args: list[str], *, launcher: list[str] | None = None) -> float:
    """Run ``needmap`` (under ``launcher`` when given) in a new interpreter; its wall time in seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, *(launcher or []), "-m", "needmap", *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return time.perf_counter() - started


def _test_auc(directory: Path) -> float:
    return float(json.loads((directory / "metrics.json").read_text())["test"]["auc"])


@pytest.mark.slow
def test_two_processes_train_the_model_of_one_and_the_same_model_again(tmp_path: Path, bank_csv: Path) -> None:
    one, two, again = tmp_path / "one" / "model", tmp_path / "two" / "model", tmp_path / "again" / "model"
    seconds_one = _needmap(["train", str(bank_csv), *TRAIN_ARGS, "--out", str(one)])
    seconds_two = _needmap(["train", str(bank_csv), *TRAIN_ARGS, "--nproc", "2", "--out", str(two)])
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    _needmap(["train", str(bank_csv), *TRAIN_ARGS, "--out", str(again)], launcher=torchrun)
    print(f"1 process {seconds_one:.1f} s, 2 processes {seconds_two:.1f} s (wall, start-up included)")

    metrics = json.loads((two / "metrics.json").read_text())
    assert metrics["training"]["world_size"] == 2
    assert abs(_test_auc(two) - _test_auc(one)) < 0.005, (_test_auc(one), _test_auc(two))
    # One model directory, written by rank 0; nothing else beside it (no second model, no lock left behind).
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["model"]
    assert (two / "weights.safetensors").read_bytes() == (again / "weights.safetensors").read_bytes()


@pytest.mark.slow
def test_train_worker_in_one_process_is_a_training_run(tmp_path: Path, bank_table: pa.Table) -> None:
    """Without a launcher's environment the launchers' function trains in this process and reports rank 0's."""
    result = train_worker(
        {
            "data": bank_table,
            "target": "y",
            "out": str(tmp_path / "model"),
            "options": {"drop": ["duration"], "hidden": [16], "epochs": 1, "progress": False},
            "run": {"baseline": False},
        }
    )
    assert result is not None and result["out"] == str(tmp_path / "model")
    assert result["training"]["world_size"] == 1 and 0.5 < result["test"]["auc"] <= 1


def test_train_worker_names_an_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epochs'\]"):
        train_worker({"data": "x.csv", "target": "y", "epochs": 3})
    with pytest.raises(ConfigError, match="needs 'target'"):
        train_worker({"data": "x.csv"})


def test_the_shares_of_a_batch_are_disjoint_and_make_the_batch() -> None:
    index = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    shares = [shard(index, Ranks(rank, 3, rank, 3, "gloo")) for rank in range(3)]
    assert [len(s) for s in shares] == [4, 4, 3]
    assert torch.equal(torch.cat(shares), index)


def test_each_process_of_a_launch_takes_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert cores_per_process() == usable_cores()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(2 * usable_cores()))
    assert cores_per_process() == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert cores_per_process() == max(1, usable_cores() // 2)


def test_the_relaunched_command_leaves_out_nproc() -> None:
    argv = ["train", "d.csv", "--nproc", "2", "--target", "y", "--nproc=3", "--out", "m"]
    assert without_nproc(argv) == ["train", "d.csv", "--target", "y", "--out", "m"]
