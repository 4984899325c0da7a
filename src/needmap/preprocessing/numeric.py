"""Numeric feature columns: text to numbers, then clipping, imputation and scaling.

A numeric column may arrive as any Arrow number type, as booleans, or as text that is mostly
numbers (a CSV column with a few stray words). :func:`needmap.data.values.parse_numeric` turns any
of them into float64 with NaN where a value is missing or is not a number, without a Python loop
over rows.
:class:`NumericColumn` holds what one column learned from the training rows and applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from needmap.data.overflow import overflow_safe, standardized
from needmap.data.values import ParsedNumbers
from needmap.preprocessing import state_checks as checks

# 'auto' scaling: a column whose clipped, imputed training values have a sample skewness above this
# (a long right tail: counts, durations, amounts) gets 'log1p', any other column 'standard'.
AUTO_LOG1P_SKEW = 2.0
#: The scalings a fitted column can have ('auto' is resolved by :meth:`NumericColumn.fit`).
LOADED_SCALINGS: tuple[str, ...] = ("standard", "log1p", "quantile", "none")


def skewness(values: np.ndarray) -> float:
    """Sample skewness (Fisher-Pearson, ``mean((x - m)^3) / std^3``) of float values ``[n]``; 0 when
    the values are constant or empty. It does not depend on the values' scale: values whose powers
    overflow (1e308) are divided by their largest magnitude first."""
    if values.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        centred = values - values.mean()
        squared = centred * centred  # products, not **: a float power costs far more on large arrays
        std = float(np.sqrt(squared.mean()))
        cubed = float(np.dot(squared, centred))
    if not (np.isfinite(std) and np.isfinite(cubed)):
        peak = float(np.max(np.abs(values)))
        return skewness(values / peak) if np.isfinite(peak) and peak > 1.0 else 0.0
    if std == 0.0:
        return 0.0
    return float(cubed / values.size / std**3)


def auto_scaling(values: np.ndarray) -> str:
    """'log1p' when training values ``[n]`` (clipped, imputed) are right-skewed beyond
    :data:`AUTO_LOG1P_SKEW` (counts, durations, amounts), else 'standard'."""
    return "log1p" if skewness(values) > AUTO_LOG1P_SKEW else "standard"


@dataclass
class NumericColumn:
    """What one numeric column learned from the training rows.

    Attributes:
        name: column name.
        scaling: 'standard', 'log1p', 'quantile' or 'none' ('auto' is resolved by :meth:`fit`).
        impute_value: value (in the column's own unit, after clipping) that replaces missing values.
        clip_low, clip_high: training quantiles the values are clipped to (the observed values at or
            just outside the quantile levels); None when clipping is off.
        indicator: whether a 0/1 missing-indicator column follows the scaled values.
        zero_flag: whether a 0/1 "is zero" column follows them too (:mod:`needmap.preprocessing.zero_flags`);
            set by the preprocessor after :meth:`fit`.
        center, scale: standardization of 'standard' (raw values) and 'log1p' (log values).
        quantiles: ``n_bins + 1`` training quantiles (non-decreasing) for 'quantile' scaling.
    """

    name: str
    scaling: str
    impute_value: float
    clip_low: float | None
    clip_high: float | None
    indicator: bool
    center: float = 0.0
    scale: float = 1.0
    quantiles: list[float] = field(default_factory=list)
    zero_flag: bool = False

    @classmethod
    def fit(
        cls,
        name: str,
        parsed: ParsedNumbers,
        *,
        scaling: str,
        impute: str,
        clip_quantiles: tuple[float, float] | None,
        n_bins: int,
        add_indicator: bool,
    ) -> tuple[NumericColumn, dict[str, Any]]:
        """Learn clipping bounds, imputation value and scaling from training values ``[n]``.

        Returns the fitted column and its fit report (counts and the ``scaling`` used, JSON-safe).
        A column with no value at all imputes 0 and scales by 1. ``scaling='auto'`` picks 'log1p'
        for a right-skewed column (see :func:`auto_scaling`), else 'standard'.
        """
        observed = parsed.values[~np.isnan(parsed.values)]
        low = high = None
        if clip_quantiles is not None and observed.size:
            # bounds are observed values, so a column without outliers keeps its extremes
            low = float(np.quantile(observed, clip_quantiles[0], method="lower"))
            high = float(np.quantile(observed, clip_quantiles[1], method="higher"))
            observed = np.clip(observed, low, high)
        if observed.size == 0:
            impute_value = 0.0
        elif impute == "median":
            impute_value = float(overflow_safe(np.median, observed))
        else:
            impute_value = float(overflow_safe(np.mean, observed))
        had_missing = bool(np.isnan(parsed.values).any())
        column = cls(name, scaling, impute_value, low, high, add_indicator and had_missing)
        filled, clipped_low, clipped_high = column._clip_impute(parsed.values)
        if scaling == "auto":
            column.scaling = scaling = auto_scaling(filled)
        if scaling in ("standard", "log1p"):
            base = _signed_log1p(filled) if scaling == "log1p" else filled
            column.center = float(overflow_safe(np.mean, base)) if base.size else 0.0
            std = float(overflow_safe(np.std, base)) if base.size else 0.0
            column.scale = std if std > 0.0 and np.isfinite(std) else 1.0
        elif scaling == "quantile":
            levels = np.linspace(0.0, 1.0, n_bins + 1)
            source = filled if filled.size else np.zeros(1)
            column.quantiles = [float(q) for q in overflow_safe(lambda v: np.quantile(v, levels), source)]
        report = {
            "role": "numeric",
            "missing": int(parsed.missing.sum()),
            "unparseable": int(parsed.unparseable.sum()),
            "clipped_low": clipped_low,
            "clipped_high": clipped_high,
            "scaling": column.scaling,
        }
        return column, report

    def _clip_impute(self, values: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Clip to the training bounds and fill NaN with the imputation value (float64 ``[n]``)."""
        out = np.array(values, dtype=np.float64)
        missing = np.isnan(out)
        clipped_low = clipped_high = 0
        if self.clip_low is not None and self.clip_high is not None:
            clipped_low = int((out < self.clip_low).sum())
            clipped_high = int((out > self.clip_high).sum())
            np.clip(out, self.clip_low, self.clip_high, out=out)
        out[missing] = self.impute_value
        return out, clipped_low, clipped_high

    def transform(self, values: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Scaled values float64 ``[n]`` of raw values ``[n]`` (NaN = missing), and clip counts."""
        x, clipped_low, clipped_high = self._clip_impute(values)
        if self.scaling == "standard":
            x = standardized(x, self.center, self.scale)
        elif self.scaling == "log1p":
            x = (_signed_log1p(x) - self.center) / self.scale
        elif self.scaling == "quantile":
            x = _quantile_rank(x, np.asarray(self.quantiles, dtype=np.float64))
        return x, clipped_low, clipped_high

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scaling": self.scaling,
            "impute_value": self.impute_value,
            "clip_low": self.clip_low,
            "clip_high": self.clip_high,
            "indicator": self.indicator,
            "center": self.center,
            "scale": self.scale,
            "quantiles": list(self.quantiles),
            "zero_flag": self.zero_flag,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericColumn:
        """The column of :meth:`to_dict`'s output; ValueError naming the key when a value would make scoring
        wrong rather than fail (a NaN or infinite number, a scale that is not positive, a clipping range whose
        low end is above its high end, an unknown scaling, quantiles that decrease)."""
        name = checks.text(data, "name", "a numeric column")
        what = f"numeric column {name!r}"
        low, high = (None if data[k] is None else checks.finite(data[k], k, what) for k in ("clip_low", "clip_high"))
        if low is not None and high is not None and low > high:
            raise ValueError(f"{what}: 'clip_low' {low!r} is above 'clip_high' {high!r}; expected low <= high")
        scale = checks.finite(data["scale"], "scale", what)
        if scale <= 0.0:
            raise ValueError(f"{what}: 'scale' is {scale!r}; expected a positive finite number")
        scaling = checks.one_of(data, "scaling", what, LOADED_SCALINGS)
        quantiles = checks.numbers(data, "quantiles", what, strictly=False)
        if scaling == "quantile" and not quantiles:
            raise ValueError(f"{what}: 'quantiles' is empty for 'quantile' scaling; expected the training quantiles")
        return cls(
            name=name,
            scaling=scaling,
            impute_value=checks.finite(data["impute_value"], "impute_value", what),
            clip_low=low,
            clip_high=high,
            indicator=checks.flag(data, "indicator", what),
            center=checks.finite(data["center"], "center", what),
            scale=scale,
            quantiles=quantiles,
            zero_flag=checks.flag(data, "zero_flag", what, False),  # absent in states saved before zero flags
        )


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``, elementwise; same shape as ``x``."""
    return np.sign(x) * np.log1p(np.abs(x))


def _quantile_rank(x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Empirical quantile rank in [0, 1] of each value of ``x``, by linear interpolation.

    ``quantiles`` holds the training quantiles at evenly spaced levels. Interpolating upwards and
    downwards and averaging gives tied quantiles (a value repeated in many rows) their middle level.
    """
    levels = np.linspace(0.0, 1.0, len(quantiles))
    up = np.interp(x, quantiles, levels)
    down = -np.interp(-x, -quantiles[::-1], -levels[::-1])
    return 0.5 * (up + down)
