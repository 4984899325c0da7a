"""`needmap tune` on UCI Bank Marketing (bank-additional-full, without `duration`) over several seeds:
the validation AUC of the default configuration against the best of the search, and the test AUC of the
tuned model beside the default MLP, logistic regression and LightGBM on the same split.

Each seed draws its own stratified 80/20 split (the split of `needmap train --seed S`); the search runs
on the 80% only (each trial validates on 10% of it), so the test rows of that seed are never seen by it.
The best configuration is retrained by the search itself (`run_tune`), the default one by `run_train`
with the same seed; the baselines come from the tuned run (the same rows).

Usage: .venv/bin/python -m benchmarks.bank_tune --seeds 0 1 2 3 4 --trials 30 --out runs/bank-tune-seeds
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import needmap as nm
from needmap.datasets import bank_marketing_path
from needmap.workflows.train import run_train
from needmap.workflows.tune import run_tune


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ({statistics.pstdev(values):.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--out", type=Path, default=Path("runs/bank-tune-seeds"))
    args = parser.parse_args()
    table = nm.read(bank_marketing_path())
    rows = []
    for seed in args.seeds:
        started = time.perf_counter()
        out = args.out / f"seed-{seed}"
        shutil.rmtree(out, ignore_errors=True)
        tuned = run_tune(
            table, nm.Model(args.model, target="y", drop=["duration"], progress=False), trials=args.trials,
            timeout_s=None, out=out, seed=seed,
        )  # fmt: skip
        searched = time.perf_counter() - started
        default = run_train(
            table, nm.Model(args.model, target="y", drop=["duration"], seed=seed, progress=False), out=None,
            test_size=0.2, split="stratified", validation=0.1, n_boot=200,
        )  # fmt: skip
        m = tuned.train.metrics
        row = {
            "seed": seed,
            "default_valid": tuned.default_value,
            "best_valid": tuned.best_value,
            "tuned_test": m["test"]["auc"],
            "default_test": default.metrics["test"]["auc"],
            "lr_test": m["baselines"]["logistic regression"]["auc"],
            "lgbm_test": m["baselines"]["LightGBM"]["auc"],
            "verdict": m["verdict"],
            "best": tuned.best_params,
            "seconds": searched,
        }
        rows.append(row)
        print(
            f"seed {seed}: validation AUC default {row['default_valid']:.4f} -> best {row['best_valid']:.4f}; test "
            f"AUC tuned {row['tuned_test']:.4f}, default {row['default_test']:.4f}, logistic regression "
            f"{row['lr_test']:.4f}, LightGBM {row['lgbm_test']:.4f}; search and retrain {searched:.0f} s",
            flush=True,
        )
        print(f"  verdict: {row['verdict']}", flush=True)
        print(f"  best: {row['best']}", flush=True)
    print()
    print("| seed | validation AUC default | validation AUC best | test AUC tuned | test AUC default | "
          "logistic regression | LightGBM |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['default_valid']:.4f} | {r['best_valid']:.4f} | {r['tuned_test']:.4f} | "
              f"{r['default_test']:.4f} | {r['lr_test']:.4f} | {r['lgbm_test']:.4f} |")  # fmt: skip
    cols = ("default_valid", "best_valid", "tuned_test", "default_test", "lr_test", "lgbm_test")
    print("| mean (std) | " + " | ".join(_mean_std([r[c] for r in rows]) for c in cols) + " |")
    gap = statistics.mean(r["tuned_test"] - r["lgbm_test"] for r in rows)
    print(f"\ntuned test AUC minus LightGBM's, mean over {len(rows)} seeds: {gap:+.4f}")


if __name__ == "__main__":
    main()
