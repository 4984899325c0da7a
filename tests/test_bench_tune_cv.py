"""The bank tune --cv benchmark's table: one row per seed, then the mean and spread over the seeds."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bank_tune_cv import COLUMNS, chosen_scorer, markdown, network_test_auc  # noqa: E402


def _row(seed: int, plain: float, cv: float) -> dict:
    return {
        "seed": seed, "rows": 41188, "plain_valid": 0.78, "cv_mean": 0.79, "cv_std": 0.004, "plain_test": plain,
        "cv_test": cv, "gain": cv - plain, "lgbm_test": 0.80, "lgbm_cv": 0.795, "lgbm_cv_std": 0.003,
        "lgbm_tuned_test": None, "plain_params": {"lr": 0.001}, "cv_params": {"lr": 0.002}, "lgbm_params": None,
        "plain_seconds": 60.0, "cv_seconds": 300.0, "plain_scorer": "LightGBM", "cv_scorer": "blend",
        "plain_net_test": plain - 0.01, "cv_net_test": cv - 0.005, "net_gain": (cv - 0.005) - (plain - 0.01),
    }  # fmt: skip


def test_the_table_has_a_row_per_seed_and_the_mean_and_spread_over_seeds() -> None:
    args = argparse.Namespace(cv=5, model="mlp", trials=30)
    text = markdown([_row(0, 0.790, 0.800), _row(1, 0.780, 0.784)], args, "python -m benchmarks.bank_tune_cv")
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 2 + 1 and all(line.count("|") == len(COLUMNS) + 1 for line in lines)
    assert lines[2].startswith("| 0 | 0.7800 | 0.7900 ± 0.0040 | 0.7900 | 0.8000 | +0.0100 |")
    mean_row = lines[-1].split("|")
    expected = f"{statistics.mean([0.79, 0.78]):.4f} ({statistics.pstdev([0.79, 0.78]):.4f})"
    assert mean_row[4].strip() == expected == "0.7850 (0.0050)"  # tune: test AUC
    assert mean_row[6].strip() == "0.0070 (0.0030)"  # --cv minus plain: (0.010 + 0.004) / 2, spread 0.003
    assert mean_row[9].strip() == "-"  # no tuned LightGBM test AUC in any seed
    assert lines[2].endswith("| 60 / 300 | LightGBM / blend | 0.7800 | 0.7950 | +0.0150 |")
    assert mean_row[-2].strip() == "0.0120 (0.0030)"  # network: (0.015 + 0.009) / 2, spread 0.003
    assert "tune --cv {'lr': 0.002}" in text and "python -m benchmarks.bank_tune_cv" in text


def test_the_networks_own_test_auc_is_read_beside_the_chosen_scorers() -> None:
    """train's metrics["test"] is the chosen scorer's; the network's own is in "network_test" when another won."""
    lightgbm_won = {"test": {"auc": 0.81}, "network_test": {"auc": 0.79}, "selection": {"scorer": "LightGBM"}}
    assert (network_test_auc(lightgbm_won), chosen_scorer(lightgbm_won)) == (0.79, "LightGBM")
    network_kept = {"test": {"auc": 0.80}, "selection": {"scorer": "network"}}
    assert (network_test_auc(network_kept), chosen_scorer(network_kept)) == (0.80, "network")
    assert chosen_scorer({"test": {"auc": 0.80}}) == "network"  # --no-baseline: nothing chosen
