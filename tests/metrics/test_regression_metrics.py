"""Regression metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from needmap.errors import DataError
from needmap.metrics import regression_metrics


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, 300)
    yhat = y + rng.normal(0, 3, 300)
    m = regression_metrics(y, yhat)
    assert m["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, yhat)))
    assert m["mae"] == pytest.approx(mean_absolute_error(y, yhat))
    assert m["r2"] == pytest.approx(r2_score(y, yhat))
    assert m["n"] == 300


def test_constant_target_gives_r2_none() -> None:
    m = regression_metrics(np.full(5, 2.0), np.array([1.0, 2.0, 3.0, 2.0, 2.0]))
    assert m["r2"] is None and "constant" in m["note"]
    assert m["mae"] == pytest.approx(0.4)


def test_regression_metrics_reject_bad_input() -> None:
    with pytest.raises(DataError, match="y has 2 rows and yhat has 3"):
        regression_metrics(np.zeros(2), np.zeros(3))
    with pytest.raises(DataError, match="NaN"):
        regression_metrics(np.array([1.0, np.inf]), np.zeros(2))
    with pytest.raises(DataError, match="empty"):
        regression_metrics(np.zeros(0), np.zeros(0))
