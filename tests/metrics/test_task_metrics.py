"""task_metrics: each task gets its own metric set, computed on the arguments in their order."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.metrics import task_metrics


def test_binary_task_gets_the_classifier_metrics() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.2, 0.9, 0.6, 0.4])  # every positive above every negative
    m = task_metrics("binary", y, p)
    assert m["auc"] == 1.0 and m["accuracy"] == 1.0 and m["n"] == 4
    assert m["logloss"] == pytest.approx(-np.mean(np.log([0.8, 0.9, 0.6, 0.6])), abs=1e-12)


def test_multiclass_task_gets_accuracy_log_loss_and_macro_auc() -> None:
    y = np.array([0, 1, 2, 1])
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    m = task_metrics("multiclass", y, P)
    assert set(m) == {"accuracy", "logloss", "macro_auc", "n"} and m["accuracy"] == 0.75
    assert m["logloss"] == pytest.approx(-np.mean(np.log([0.7, 0.8, 0.6, 0.4])), abs=1e-12)


def test_regression_task_gets_the_errors() -> None:
    m = task_metrics("regression", np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 4.0]))
    assert m["rmse"] == pytest.approx(np.sqrt(1 / 3)) and m["mae"] == pytest.approx(1 / 3)
    assert set(m) == {"rmse", "mae", "r2", "n"}
