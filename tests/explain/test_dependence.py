"""Partial dependence: it follows the planted effect of a number, and not that of a column without one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.explain.dependence import dependence

pytestmark = pytest.mark.slow


def test_partial_dependence_rises_with_a_number_that_raises_the_score() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    a, noise = rng.normal(size=n), rng.normal(size=n)
    visits = rng.integers(0, 10, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * a + 0.3 * (visits - 5))))).astype(np.int64)
    table = pa.table({"a": a, "noise": noise, "visits": visits, "y": y})
    predictor = nm.Model("mlp", target="y", epochs=6, seed=0, progress=False).fit(table).predictor_
    rows = table.slice(0, 200)
    up = dependence(predictor, rows, "a")
    assert up["pd"][-1] - up["pd"][0] > 0.3 and np.all(np.diff(up["pd"]) > -0.02)
    assert up["ice"].shape == (200, len(up["values"]))
    assert np.allclose(np.mean(up["ice"], axis=0), up["pd"])
    flat = dependence(predictor, rows, "noise")
    assert abs(flat["pd"][-1] - flat["pd"][0]) < 0.1
    whole = dependence(predictor, rows, "visits")  # a whole-number column keeps its type
    assert whole["pd"][-1] > whole["pd"][0]
