"""Partial dependence and ICE curves: how the score moves when one numeric column moves, all else equal.

For a numeric column, each row of a sample is scored again with the column set to each of ``points`` values
(its 5th to 95th percentiles in the sample): each row's line is its ICE curve (individual conditional
expectation), their mean the partial dependence. Rows are scored as ``Predictor.predict_proba`` scores them (the
probability of a binary target, the prediction of a regression one), so the curves read in the score's units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

POINTS = 20


def dependence(predictor: Any, table: pa.Table, column: str, *, points: int = POINTS) -> dict[str, Any]:
    """``{"column", "values" [points], "pd" [points], "ice" [rows, points]}`` of ``column`` over ``table``'s rows."""
    values = np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)
    present = values[np.isfinite(values)]
    grid = np.unique(np.percentile(present, np.linspace(5, 95, points))) if len(present) else np.zeros(0)
    at = table.column_names.index(column)
    kind = table.schema.field(column).type
    ice = np.zeros((table.num_rows, len(grid)))
    for k, value in enumerate(grid):
        filled = pa.array(np.full(table.num_rows, value))
        if pa.types.is_integer(kind):
            filled = filled.cast(kind, safe=False)  # a whole-number column keeps its type (the value rounded)
        scores = np.asarray(predictor.predict_proba(table.set_column(at, column, filled)), dtype=np.float64)
        ice[:, k] = scores if scores.ndim == 1 else scores[:, -1]
    return {"column": column, "values": grid.tolist(), "pd": ice.mean(axis=0).tolist(), "ice": ice}
