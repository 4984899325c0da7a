"""The terminal tables say what their figures are: a cross-validation's mean row holds means only, and
accuracy, precision and recall name the score cut-off they are read at."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from needmap.cli.outcome import cut_off_line
from needmap.display import cv_table, metrics_table
from needmap.metrics import binary_metrics
from needmap.metrics.curves import profit_curve
from needmap.workflows.evaluation import evaluation_document


def rows_of(table: Table) -> dict[str, list[str]]:
    """``{first cell: the row's cells}`` of a rendered table."""
    console = Console(width=200, record=True)
    console.print(table)
    rows = {}
    for line in console.export_text().splitlines():
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│")[1:-1]]
        if cells and cells[0]:
            rows[cells[0]] = cells
    return rows


def test_the_mean_row_of_a_cross_validation_shows_no_row_count() -> None:
    cv = {
        "k": 3,
        "rows": 900,
        "metric": "auc",
        "models": ["mlp network", "LightGBM"],
        "folds": [
            {"fold": i, "rows": 300, "scores": {"mlp network": 0.7 + i / 100, "LightGBM": 0.75}} for i in (1, 2, 3)
        ],
        "mean": {"mlp network": 0.72, "LightGBM": 0.75},
        "std": {"mlp network": 0.0082, "LightGBM": 0.0},
    }
    rows = rows_of(cv_table(cv))
    assert rows["1"][1] == "300"
    assert rows["mean"] == ["mean", "", "0.7200", "0.7500"]
    assert rows["std"] == ["std", "", "0.0082", "0.0000"]


def test_accuracy_precision_and_recall_name_their_cut_off() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.13).astype(int)
    p = np.clip(0.05 + 0.2 * y + rng.normal(0, 0.05, 2000), 0, 1)  # all below 0.5: nothing flagged at 0.5
    metrics = binary_metrics(y, p)
    assert metrics["threshold"] == 0.5 and metrics["precision"] == 0.0
    rows = rows_of(metrics_table("binary", {"test": metrics, "baseline": binary_metrics(y, p / 2)}))
    assert "precision at 0.5" in rows and "recall at 0.5" in rows and "accuracy at 0.5" in rows
    assert rows["precision at 0.5"][1] == "0.0000" and "precision" not in rows


def test_metric_sets_with_different_cut_offs_keep_the_plain_name() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.2, 0.6, 0.4, 0.9])
    both = {"at 0.5": binary_metrics(y, p), "at 0.3": binary_metrics(y, p, threshold=0.3)}
    rows = rows_of(metrics_table("binary", both))
    assert "precision" in rows and not any(name.startswith("precision at") for name in rows)


def test_a_training_run_names_the_cut_off_worth_using_beside_the_fixed_one() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.13).astype(int)
    p = np.clip(0.08 + 0.25 * y + rng.normal(0, 0.08, 3000), 0, 1)  # a good ranking, nothing above 0.5
    document = evaluation_document(y, {"mlp network": p}, task="binary", primary="mlp network", data="test rows")
    best = profit_curve(y, p, 1.0, 10.0)["best"]
    line = cut_off_line(document)
    assert line is not None and line.startswith("accuracy, precision and recall are read at a score cut-off of 0.5;")
    assert f"is {best['threshold']:.4f}: contact the top {best['share']:.1%} ({best['contacted']:,} rows" in line
    assert "contact cost 1, conversion value 10" in line
    nothing = evaluation_document(
        y, {"mlp network": p}, task="binary", primary="mlp network", data="t", contact_cost=50
    )
    assert cut_off_line(nothing) == (
        "accuracy, precision and recall are read at a score cut-off of 0.5; on the test rows no cut-off makes a "
        "profit (contact cost 50, conversion value 10)."
    )
    assert cut_off_line({"task": "regression"}) is None and cut_off_line(None) is None
