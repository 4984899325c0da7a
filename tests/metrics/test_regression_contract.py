"""Regression metrics on hand-computed cases: small targets, the note of a constant target, and errors that
name the argument at fault."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import DataError
from needmap.metrics import regression_metrics


def test_a_target_of_small_spread_still_gets_its_r2() -> None:
    # y = [0, 0.5], yhat = [0.1, 0.4]: errors 0.1 and -0.1, SSE 0.02; mean 0.25, SST 0.125; R² = 1 - 0.16
    m = regression_metrics(np.array([0.0, 0.5]), np.array([0.1, 0.4]))
    assert m["r2"] == pytest.approx(0.84, abs=1e-12)
    assert m["rmse"] == pytest.approx(0.1, abs=1e-12) and m["mae"] == pytest.approx(0.1, abs=1e-12)
    assert m["n"] == 2 and "note" not in m


def test_a_constant_target_says_why_r2_is_none() -> None:
    m = regression_metrics(np.array([3.0, 3.0, 3.0]), np.array([2.0, 3.0, 5.0]))
    assert m == {
        "rmse": pytest.approx(np.sqrt(5 / 3)),
        "mae": pytest.approx(1.0),
        "r2": None,
        "n": 3,
        "note": "y is constant: R² is undefined, so it is None.",
    }


def test_errors_name_the_argument_at_fault() -> None:
    with pytest.raises(DataError, match=r"^y holds 1 NaN or infinite values"):
        regression_metrics(np.array([1.0, np.nan]), np.zeros(2))
    with pytest.raises(DataError, match=r"^yhat holds 1 NaN or infinite values"):
        regression_metrics(np.zeros(2), np.array([np.inf, 1.0]))
    with pytest.raises(DataError, match=r"^yhat has shape \(2, 2\)"):
        regression_metrics(np.zeros(2), np.zeros((2, 2)))
