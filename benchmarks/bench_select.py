"""The scorer `needmap train` chooses, with default settings, against LightGBM with its default settings.

For each dataset and seed, ``needmap train FILE --target T --seed S`` runs as a user would run it (a fresh
process, every option at its default: the network, both baselines, the scorer chosen on the validation
rows); the figures come from the model directory's metrics.json and evaluation.json: the chosen scorer's
test AUC (``test``), the network's (``network_test``), LightGBM's and logistic regression's (``baselines``)
and the paired bootstrap interval of the chosen scorer against LightGBM on the same test rows.

Datasets (from ``../shared/data``; each written once as the file a user would give):

* bank: UCI Bank Marketing, bank-additional-full, without ``duration`` (``--drop duration``); target ``y``.
* shoppers: Online Shoppers Purchasing Intention; target ``Revenue``.
* census: UCI Adult, adult.data with its column names; target ``income``.
* movielens: MovieLens latest-small ratings as clicks (``liked`` = rating >= 4) with ``userId``, ``movieId``
  and ``genres``; target ``liked``.
* criteo: 1M Criteo-shaped rows (benchmarks/make_criteo_like.py, ``--rows 1000000``); target ``label``.

Usage (accuracy does not depend on a busy machine; the run's time does):

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_select --datasets bank,shoppers,census,movielens \\
        --seeds 0,1,2 --out benchmarks/results/select_YYYY-MM-DD.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
ADULT = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation", "relationship",
    "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]  # fmt: skip


def _files(work: Path, data: Path) -> dict[str, tuple[Path, list[str]]]:
    """Each dataset's file and the options of its command (target, drop)."""
    return {
        "bank": (data / "bank_marketing" / "bank-additional-full.csv.gz", ["--target", "y", "--drop", "duration"]),
        "shoppers": (data / "online_shoppers_intention" / "online_shoppers_intention.csv.gz", ["--target", "Revenue"]),
        "census": (work / "adult.csv", ["--target", "income"]),
        "movielens": (work / "movielens.parquet", ["--target", "liked"]),
        "criteo": (REPO / "benchmarks" / "data" / "criteo_like_1m.parquet", ["--target", "label"]),
    }


def _prepare(name: str, path: Path, data: Path) -> None:
    """Write the file of a dataset that is not read as it is published."""
    if path.exists():
        return
    if name == "census":
        table = pacsv.read_csv(
            data / "census_income_adult" / "adult.data.gz", read_options=pacsv.ReadOptions(column_names=ADULT)
        )
        pacsv.write_csv(table, path)
    elif name == "movielens":
        root = data / "movielens_latest_small"
        ratings = pacsv.read_csv(root / "ratings.csv.gz")
        movies = pacsv.read_csv(root / "movies.csv.gz")
        index = pc.index_in(ratings.column("movieId"), movies.column("movieId"))
        genres = pc.take(movies.column("genres"), index)
        liked = pc.cast(pc.greater_equal(ratings.column("rating"), 4.0), pa.int64())
        pq.write_table(
            pa.table(
                {
                    "userId": ratings.column("userId"),
                    "movieId": ratings.column("movieId"),
                    "genres": genres,
                    "liked": liked,
                }
            ),
            path,
        )
    elif name == "criteo":
        raise SystemExit(f"{path} is missing: python benchmarks/make_criteo_like.py --rows 1000000 --out {path}")


def run_one(name: str, path: Path, options: list[str], seed: int, work: Path) -> dict[str, Any]:
    """One ``needmap train`` run; its figures."""
    out = work / f"{name}-{seed}"
    command = [sys.executable, "-m", "needmap", "train", str(path), *options, "--seed", str(seed), "--quiet",
               "--out", str(out)]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ}, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    evaluation = json.loads((out / "evaluation.json").read_text())
    network = (metrics.get("network_test") or metrics["test"])["auc"]
    lightgbm = metrics["baselines"]["LightGBM"]["auc"]
    scorer = metrics["selection"]["scorer"]
    vs = next((c for c in evaluation.get("comparisons") or [] if c["baseline"] == "LightGBM"), None)
    vs_net = next((c for c in evaluation.get("comparisons") or [] if c["baseline"].endswith(" network")), None)
    return {
        "dataset": name,
        "seed": seed,
        "scorer": scorer if scorer != "blend" else f"blend {metrics['selection']['weight']:.2f}",
        "chosen": metrics["test"]["auc"],
        "network": network,
        "lightgbm": lightgbm,
        "logistic": metrics["baselines"]["logistic regression"]["auc"],
        "vs_lightgbm": None if vs is None else [vs["difference"], vs["low"], vs["high"]],
        "vs_network": None if vs_net is None else [vs_net["difference"], vs_net["low"], vs_net["high"]],
        "seconds": seconds,
        "command": shlex.join(["needmap", "train", str(path), *options, "--seed", str(seed)]),
    }


def _interval(values: list[float] | None) -> str:
    return "same model" if values is None else f"{values[0]:+.4f} [{values[1]:+.4f}, {values[2]:+.4f}]"


def table(rows: list[dict[str, Any]]) -> str:
    """Per run, then per dataset the mean over the seeds and their spread (standard deviation)."""
    lines = [
        "| dataset | seed | chosen scorer | test AUC chosen | network | LightGBM | logistic "
        "| chosen - LightGBM [95%] | chosen - network [95%] | s |",
        "|---|---:|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['seed']} | {r['scorer']} | {r['chosen']:.4f} | {r['network']:.4f} | "
            f"{r['lightgbm']:.4f} | {r['logistic']:.4f} | {_interval(r['vs_lightgbm'])} | "
            f"{_interval(r.get('vs_network'))} | {r['seconds']:.0f} |"
        )
    lines += ["", "| dataset | seeds | chosen mean ± sd | network mean ± sd | LightGBM mean ± sd | chosen - LightGBM |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        stats = {k: np.array([r[k] for r in mine]) for k in ("chosen", "network", "lightgbm")}
        lines.append(
            f"| {name} | {len(mine)} | "
            + " | ".join(f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}" for v in stats.values())
            + f" | {(stats['chosen'] - stats['lightgbm']).mean():+.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="bank,shoppers,census,movielens,criteo")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=None, help="Markdown file for the table (and .json beside)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="needmap-select-") as tmp:
        work = Path(tmp)
        files = _files(work, args.data_dir)
        for name in args.datasets.split(","):
            path, options = files[name]
            _prepare(name, path, args.data_dir)
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run_one(name, path, options, seed, work)
                print(json.dumps(row), flush=True)
                rows.append(row)
    text = table(rows)
    print(text)
    if args.out is not None:
        header = (
            f"# The chosen scorer against LightGBM, default settings\n\n`{shlex.join(sys.argv)}`, "
            f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs\n\n"
        )
        args.out.write_text(header + text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
