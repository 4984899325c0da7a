"""Distributed training on this machine: `needmap train` with 1 and 2 processes (DistributedDataParallel over
gloo), and what an all-reduce costs per step for the DeepFM benchmark model.

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_distributed --rows 200000

Both runs train the DeepFM of the speed benchmark (embedding 16, hidden 400,400,400, batch 4,096, one epoch,
seed 1, no baselines) on the same Criteo-shaped rows (``../shared/tools/make_criteo_like.py`` when present, else
the same generator's shape drawn here), and report wall time, the training loop's rows/s (all ranks together)
and the test AUC from metrics.json.

The scaling table is arithmetic, not a measurement of several machines: DistributedDataParallel all-reduces
every parameter's gradient at every step (the embedding tables too, with dense updates), so each rank sends and
receives about ``2 (N - 1) / N x parameters x 4 bytes`` per step in a ring all-reduce. Beside the step's compute
at the measured single-process speed, that gives the step time N ranks on N machines would take at a given
network bandwidth. On this 2-core machine two ranks share the cores a single process uses, so its 2-process
speed says how the code behaves, not how two machines would scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

MODEL_ARGS = ["--model", "deepfm", "--embedding-dim", "16", "--hidden", "400,400,400", "--batch-size", "4096",
              "--epochs", "1", "--lr", "0.001", "--seed", "1", "--no-baseline"]  # fmt: skip
BANDWIDTHS_GBIT = (1, 10, 25)


def criteo_like(rows: int, out: Path) -> Path:
    tool = Path(__file__).resolve().parents[2] / "shared" / "tools" / "make_criteo_like.py"
    if not tool.is_file():
        sys.exit(f"{tool} not found: this benchmark uses the shared Criteo-shaped generator")
    subprocess.run([sys.executable, str(tool), "--rows", str(rows), "--out", str(out)], check=True,
                   capture_output=True)  # fmt: skip
    return out


def train(data: Path, out: Path, nproc: int) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "needmap", "train", str(data), "--target", "label", *MODEL_ARGS, "--nproc",
         str(nproc), "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": "src"},
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"train --nproc {nproc} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    training = metrics["training"]
    test = metrics.get("test") or {}
    return {
        "nproc": nproc,
        "wall_s": round(wall, 1),
        "train_time_s": training.get("train_time_s"),
        "rows_per_s": training.get("rows_per_s"),
        "world_size": training.get("world_size"),
        "test_auc": test.get("auc"),
    }


def parameters(model_dir: Path) -> int:
    from safetensors.numpy import load_file

    return int(sum(v.size for v in load_file(str(model_dir / "weights.safetensors")).values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/distributed.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="needmap-bench-ddp-"))
    data = criteo_like(args.rows, work / "criteo_like.parquet")
    runs = [train(data, work / f"m{n}", n) for n in (1, 2)]
    n_params = parameters(work / "m1")
    one = runs[0]
    step_rows = 4096
    compute_s = step_rows / one["rows_per_s"]
    table = []
    for ranks in (1, 2, 4, 8, 16):
        volume = 2 * (ranks - 1) / ranks * n_params * 4
        row: dict[str, Any] = {"ranks": ranks, "allreduce_bytes_per_rank_per_step": round(volume)}
        for gbit in BANDWIDTHS_GBIT:
            comm = volume * 8 / (gbit * 1e9)
            step = compute_s / ranks + comm
            row[f"rows_per_s_at_{gbit}gbit"] = round(step_rows / step)
        table.append(row)
    report = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "rows": args.rows, "runs": runs, "parameters": n_params, "scaling_model": table}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for r in runs:
        print(f"--nproc {r['nproc']}: wall {r['wall_s']} s, training {r['train_time_s']} s, "
              f"{r['rows_per_s']} rows/s, test AUC {r['test_auc']}")  # fmt: skip
    print(f"parameters {n_params:,} ({n_params * 4 / 1e6:.1f} MB of float32 gradients a step)")
    for row in table:
        print(row)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
