"""Statistics of numbers near the float64 limit, without overflow.

A numeric column may hold a value such as 1e308 or -1e308, a common "missing" sentinel. Each value is
finite, but a sum, a difference or a square of two of them is not (1e308 + 1e308 = inf), so a mean, a
spread, a quantile between two of them or an evenly spaced grid over them comes out inf or NaN. The
helpers here compute such a statistic as usual and, only where that overflows, again on the values
divided by their largest magnitude, then scale the result back: ordinary values get exactly the
figures they always got.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def overflow_safe(statistic: Callable[[np.ndarray], Any], values: np.ndarray) -> Any:
    """``statistic(values)`` (a float or an array) of finite float values ``[n]``, computed again on
    ``values / max|values|`` and scaled back when it overflows.

    Only for statistics proportional to the values' scale: the mean, the median, the standard
    deviation, quantiles, an evenly spaced grid between two values (``np.linspace``).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = statistic(values)
    if values.size == 0 or np.all(np.isfinite(result)):
        return result
    peak = float(np.max(np.abs(values)))
    if not np.isfinite(peak) or peak == 0.0:
        return result
    return statistic(values / peak) * peak


def standardized(x: np.ndarray, center: float, scale: float) -> np.ndarray:
    """``(x - center) / scale`` of float values ``[n]``; where the difference overflows (1e308 less
    -1e308) it is taken of the halves, whose difference is finite (halving is exact, so the other
    values are untouched)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (x - center) / scale
    wide = ~np.isfinite(out) & np.isfinite(x)
    if wide.any():
        out[wide] = (x[wide] * 0.5 - center * 0.5) / (scale * 0.5)
    return out


def standardized_one(x: float, center: float, scale: float) -> float:
    """:func:`standardized` of one value, in plain Python (the one-row path), with the same result."""
    out = (x - center) / scale
    if math.isfinite(out) or not math.isfinite(x):
        return out
    return (x * 0.5 - center * 0.5) / (scale * 0.5)
