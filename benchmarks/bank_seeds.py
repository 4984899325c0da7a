"""Test AUC of the default MLP and of logistic regression on UCI Bank Marketing (bank-additional-full,
without `duration`) over several seeds, through the same workflow as `needmap train` / `needmap demo`.

Each seed draws its own stratified 80/20 split; both models are trained on the same 80% (the MLP keeps
10% of it for early stopping) and scored on the same 20%.

Usage: .venv/bin/python benchmarks/bank_seeds.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import needmap as nm
from needmap.datasets import bank_marketing_path
from needmap.workflows.train import run_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    table = nm.read(bank_marketing_path())
    rows = []
    for seed in args.seeds:
        started = time.perf_counter()
        model = nm.Model("mlp", target="y", drop=["duration"], seed=seed, progress=False)
        outcome = run_train(table, model, out=None, test_size=0.2, split="stratified", validation=0.1)
        m = outcome.metrics
        rows.append((seed, m["test"]["auc"], m["baseline_test"]["auc"], m["training"]["epochs_run"],
                     m["training"]["rows_per_s"], time.perf_counter() - started))  # fmt: skip
        print(f"seed {seed}: MLP test AUC {rows[-1][1]:.4f}  logistic regression {rows[-1][2]:.4f}  "
              f"epochs {rows[-1][3]}  {rows[-1][4]:,.0f} train rows/s  {rows[-1][5]:.1f} s", flush=True)  # fmt: skip
    mlp = [r[1] for r in rows]
    lr = [r[2] for r in rows]
    print(
        f"MLP mean test AUC {statistics.mean(mlp):.4f} (std {statistics.pstdev(mlp):.4f}); logistic regression "
        f"{statistics.mean(lr):.4f} (std {statistics.pstdev(lr):.4f}); {len(rows)} seeds"
    )


if __name__ == "__main__":
    main()
