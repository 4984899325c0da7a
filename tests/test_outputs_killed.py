"""Outputs of a killed command: ``needmap predict`` and ``needmap features --out`` killed (SIGKILL) while they write
leave the previous output whole, never a part of the new one; two trainings writing one model path at once: the
second is refused while the first holds the path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import needmap as nm
from cli_run import run_cli
from needmap.model_place import model_path_lock


def _env() -> dict[str, str]:
    src = str(Path(nm.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _kill_while_writing(command: list[str], out: Path) -> None:
    """Start ``needmap COMMAND``, SIGKILL it once its temporary output file appears beside ``out``."""
    process = subprocess.Popen([sys.executable, "-m", "needmap", *command], env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(f".{out.name}.needmap-") for p in out.parent.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.002)
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _rows(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table({"x": x, "channel": rng.choice(["web", "shop"], size=n),
                     "y": (x + rng.normal(size=n) > 0).astype(np.int64)})  # fmt: skip


@pytest.mark.slow  # starts another interpreter that scores 600,000 rows
def test_a_predict_killed_while_writing_leaves_the_previous_scores_whole(tmp_path: Path) -> None:
    pacsv.write_csv(_rows(300, seed=0), tmp_path / "rows.csv")
    code, output = run_cli("train", tmp_path / "rows.csv", "--target", "y", "--out", tmp_path / "model",
                           "--epochs", "1", "--quiet", "--no-baseline")  # fmt: skip
    assert code == 0, output
    pq.write_table(_rows(600_000, seed=1).drop(["y"]), tmp_path / "big.parquet", row_group_size=50_000)
    out = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"old": [1, 2, 3]}), out)
    _kill_while_writing(["predict", str(tmp_path / "model"), str(tmp_path / "big.parquet"), "--out", str(out)], out)
    assert pq.read_table(out).to_pydict() == {"old": [1, 2, 3]}  # the old output, whole


@pytest.mark.slow  # starts another interpreter that builds the features of a large event log
def test_features_killed_while_writing_leaves_the_previous_table_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400_000
    log = pa.table({"customer": [f"c{i:06d}" for i in rng.integers(0, 200_000, n)],
                    "time": pa.array(np.datetime64("2024-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")),
                    "event": rng.choice(["visit", "purchase"], size=n)})  # fmt: skip
    pq.write_table(log, tmp_path / "log.parquet")
    out = tmp_path / "features.csv"
    out.write_text("old\n1\n", encoding="utf-8")
    command = ["features", str(tmp_path / "log.parquet"), "--customer", "customer", "--time", "time", "--as-of",
               "2024-10-01", "--out", str(out)]  # fmt: skip
    _kill_while_writing(command, out)
    assert out.read_text(encoding="utf-8") == "old\n1\n"


def test_a_second_training_to_a_model_path_in_use_is_refused_at_once(tmp_path: Path) -> None:
    pacsv.write_csv(_rows(200, seed=0), tmp_path / "rows.csv")
    with model_path_lock(tmp_path / "model"):  # another run is training to this path
        code, output = run_cli("train", tmp_path / "rows.csv", "--target", "y", "--out", tmp_path / "model",
                               "--epochs", "1", "--quiet", "--no-baseline")  # fmt: skip
    flat = " ".join(output.split())
    assert code != 0 and f"(process {os.getpid()}) is training a model at" in flat and "Traceback" not in output
    assert not (tmp_path / "model").exists()
    code, output = run_cli("train", tmp_path / "rows.csv", "--target", "y", "--out", tmp_path / "model",
                           "--epochs", "1", "--quiet", "--no-baseline")  # fmt: skip
    assert code == 0, output  # the path is free again, and no lock file is left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "rows.csv"]
