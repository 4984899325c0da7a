"""Checkpoints and resume: a training run killed in the middle of an epoch, resumed from its last checkpoint,
ends with the weights and validation metrics of a run never stopped (same seed, data and options); a resume
with other data or options, or from a damaged checkpoint, is refused with a message naming why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from safetensors.numpy import load_file

import needmap as nm
from cli_run import run_cli
from needmap.errors import ArtifactError, ConfigError

# Small batches and no early stopping: many steps per epoch, so a kill after the first checkpoint lands in an epoch.
OPTIONS = ["--target", "y", "--epochs", "4", "--batch-size", "16", "--patience", "none", "--dropout", "0.2",
           "--quiet", "--no-baseline", "--seed", "3"]  # fmt: skip


def _rows(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table(
        {
            "x": x,
            "z": rng.normal(size=n),
            "channel": rng.choice(["web", "shop", "phone"], size=n),
            "y": (x + rng.normal(size=n) > 0).astype(np.int64),
        }
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rows, and the model of a run never stopped."""
    folder = tmp_path_factory.mktemp("resume")
    pacsv.write_csv(_rows(4000, seed=0), folder / "rows.csv")
    code, output = run_cli("train", folder / "rows.csv", "--out", folder / "whole", *OPTIONS)
    assert code == 0, output
    return folder


def _weights(model: Path) -> dict[str, np.ndarray]:
    return load_file(model / "weights.safetensors")


def _validation(model: Path) -> dict:
    return json.loads((model / "metrics.json").read_text())["validation"]


def test_a_run_killed_mid_epoch_resumes_to_the_weights_of_a_run_never_stopped(folder: Path) -> None:
    out, checkpoint = folder / "killed", folder / "killed.checkpoint"
    src = str(Path(nm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "needmap", "train", str(folder / "rows.csv"), "--out", str(out), *OPTIONS,
               "--checkpoint-every", "1"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (checkpoint / "checkpoint.json").exists():  # the first epoch is done: the kill lands in the second
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.002)
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    done = json.loads((checkpoint / "checkpoint.json").read_text())["progress"]["epoch"]
    assert 1 <= done < 4 and not out.exists()  # killed during training, before the model was saved

    code, output = run_cli("train", folder / "rows.csv", "--out", out, *OPTIONS, "--resume", checkpoint,
                           "--checkpoint-every", "1")  # fmt: skip
    assert code == 0, output
    whole, resumed = _weights(folder / "whole"), _weights(out)
    assert whole.keys() == resumed.keys()
    for name in whole:
        np.testing.assert_allclose(resumed[name], whole[name], atol=1e-6, rtol=0, err_msg=name)
    assert _validation(out) == pytest.approx(_validation(folder / "whole"), abs=1e-9)
    assert json.loads((checkpoint / "checkpoint.json").read_text())["progress"]["epoch"] == 4


def _checkpoint_of_two_epochs(folder: Path, name: str) -> Path:
    checkpoint = folder / name
    if not (checkpoint / "checkpoint.json").exists():
        model = nm.Model("mlp", target="y", epochs=2, batch_size=256, progress=False, seed=3)
        model.fit(folder / "rows.csv", checkpoint_every=1, checkpoint_dir=checkpoint)
    return checkpoint


def test_a_resume_with_other_options_or_other_rows_names_what_differs(folder: Path) -> None:
    checkpoint = _checkpoint_of_two_epochs(folder, "two.checkpoint")
    options = {"target": "y", "epochs": 2, "batch_size": 256, "progress": False, "seed": 3}
    with pytest.raises(ConfigError, match=r"differs: the training option lr \(checkpoint: 0.001, now: 0.01\)"):
        nm.Model("mlp", **{**options, "lr": 0.01}).fit(folder / "rows.csv", resume=checkpoint)
    pacsv.write_csv(_rows(4000, seed=1), folder / "other.csv")
    with pytest.raises(ConfigError, match=r"the training rows' values \(other data, split"):
        nm.Model("mlp", **options).fit(folder / "other.csv", resume=checkpoint)
    # the command line says it in one paragraph, without a traceback
    code, output = run_cli("train", folder / "rows.csv", "--out", folder / "m", "--target", "y", "--epochs", "3",
                           "--quiet", "--no-baseline", "--resume", checkpoint)  # fmt: skip
    flat = " ".join(output.split())
    assert code != 0 and "is of another run" in flat and "Traceback" not in output, output
    assert "the training option epochs (checkpoint: 2, now: 3)" in flat and not (folder / "m").exists()


def test_a_damaged_or_missing_checkpoint_is_refused(folder: Path) -> None:
    checkpoint = _checkpoint_of_two_epochs(folder, "damaged.checkpoint")
    weights = checkpoint / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    options = {"target": "y", "epochs": 2, "batch_size": 256, "progress": False, "seed": 3}
    with pytest.raises(ArtifactError, match=r"damaged or incomplete \(weights.safetensors is not the file"):
        nm.Model("mlp", **options).fit(folder / "rows.csv", resume=checkpoint)
    with pytest.raises(ArtifactError, match="no checkpoint there"):
        nm.Model("mlp", **options).fit(folder / "rows.csv", resume=folder / "nowhere")
    with pytest.raises(ConfigError, match="needs the directory to write the checkpoints"):
        nm.Model("mlp", **options).fit(folder / "rows.csv", checkpoint_every=1)
