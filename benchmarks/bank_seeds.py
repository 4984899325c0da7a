"""Test AUC of the default MLP, logistic regression and LightGBM on UCI Bank Marketing (bank-additional-full,
without `duration`) over several seeds, through the same workflow as `needmap train` / `needmap demo`.

Each seed draws its own stratified 80/20 split; the three models are trained on the same 80% (the MLP keeps
10% of it for early stopping, on which LightGBM stops too) and scored on the same 20%.

Usage: .venv/bin/python benchmarks/bank_seeds.py --seeds 0 1 2 3 4 [--value-fields none]
"""

from __future__ import annotations

import argparse
import statistics
import time

import needmap as nm
from needmap.datasets import bank_marketing_path
from needmap.workflows.baseline import LIGHTGBM, LOGISTIC
from needmap.workflows.train import run_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--value-fields", default="200", help="needmap's value_fields: a number, or none")
    args = parser.parse_args()
    value_fields = None if args.value_fields.lower() == "none" else int(args.value_fields)
    table = nm.read(bank_marketing_path())
    rows = []
    for seed in args.seeds:
        started = time.perf_counter()
        model = nm.Model("mlp", target="y", drop=["duration"], seed=seed, progress=False, value_fields=value_fields)
        outcome = run_train(table, model, out=None, test_size=0.2, split="stratified", validation=0.1)
        m = outcome.metrics
        base = m["baselines"]  # both baselines by name ("baseline_test" is the better one's)
        rows.append((seed, m["test"]["auc"], base[LOGISTIC]["auc"], base[LIGHTGBM]["auc"], m["training"]["epochs_run"],
                     m["training"]["rows_per_s"], time.perf_counter() - started))  # fmt: skip
        print(f"seed {seed}: MLP test AUC {rows[-1][1]:.4f}  logistic regression {rows[-1][2]:.4f}  "
              f"LightGBM {rows[-1][3]:.4f}  epochs {rows[-1][4]}  {rows[-1][5]:,.0f} train rows/s  "
              f"{rows[-1][6]:.1f} s", flush=True)  # fmt: skip
    means = [(name, [r[i] for r in rows]) for i, name in ((1, "MLP"), (2, LOGISTIC), (3, LIGHTGBM))]
    summary = [f"{name} mean test AUC {statistics.mean(v):.4f} (std {statistics.pstdev(v):.4f})" for name, v in means]
    print("; ".join(summary) + f"; {len(rows)} seeds")


if __name__ == "__main__":
    main()
