"""Input checks shared by the metric functions: arrays of the right shape, length and range."""

from __future__ import annotations

import numpy as np

from needmap.errors import ConfigError, DataError


def as_1d(values: np.ndarray, name: str, *, dtype: type = np.float64) -> np.ndarray:
    """``values`` as a 1-D array of ``dtype``; DataError when it is not 1-D, empty or not finite."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{name} has shape {array.shape}; expected a 1-D array of length n.")
    if len(array) == 0:
        raise DataError(f"{name} is empty; expected at least one row.")
    try:
        array = array.astype(dtype, copy=False)
    except (TypeError, ValueError):
        raise DataError(f"{name} has dtype {array.dtype}; expected numbers.") from None
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise DataError(
            f"{name} holds {int((~np.isfinite(array)).sum())} NaN or infinite values; expected finite values."
        )
    return array


def same_length(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    """DataError when the two arrays have a different number of rows."""
    if len(a) != len(b):
        raise DataError(f"{a_name} has {len(a)} rows and {b_name} has {len(b)}; expected the same number.")


def binary_labels(y_true: np.ndarray) -> np.ndarray:
    """``y_true`` (bool, int or float 0/1) as an int64 array [n]; DataError for other values."""
    y = as_1d(y_true, "y_true")
    bad = (y != 0) & (y != 1)
    if bad.any():
        raise DataError(
            f"y_true holds {int(bad.sum())} values other than 0 and 1 (first: {y[bad][0]!r}); "
            "expected binary labels 0/1 (1 = positive class)."
        )
    return y.astype(np.int64)


def probabilities(p: np.ndarray, name: str = "p") -> np.ndarray:
    """``p`` as float64 [n] in [0, 1]; DataError for values outside."""
    q = as_1d(p, name)
    bad = (q < 0) | (q > 1)
    if bad.any():
        raise DataError(
            f"{name} holds {int(bad.sum())} values outside [0, 1] (first: {q[bad][0]!r}); "
            "expected probabilities of the positive class."
        )
    return q


def fraction(value: float, name: str) -> float:
    """``value`` when it lies in (0, 1]; ConfigError otherwise."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
        raise ConfigError(f"{name} is {value!r}; expected a number in (0, 1].")
    return float(value)
