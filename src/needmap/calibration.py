"""Calibration of predicted probabilities: a monotone map fitted on validation scores so that, among
rows scored 0.2, about 20% are positive.

Two methods:

- ``"isotonic"``: the step-wise increasing fit of scikit-learn's ``IsotonicRegression``, kept as its
  breakpoints and applied by linear interpolation (clipped at both ends), bounded to
  [1 / (n + 2), (n + 1) / (n + 2)] for n validation rows: a step of validation rows that holds one class
  only would otherwise map new rows to a probability of exactly 0 or 1, and one such row that turns out
  otherwise costs an unbounded log loss;
- ``"platt"``: a logistic regression on the logit of the score, ``sigmoid(a * logit(p) + b)``, with
  Platt's smoothed targets so that perfectly separated validation rows still give finite coefficients.

A fitted calibrator is two short lists or two numbers: :meth:`Calibrator.to_dict` is plain JSON
(``calibration.json`` of a model directory) and :meth:`Calibrator.from_dict` reads it back without
executing code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from needmap.errors import ArtifactError, ConfigError, DataError
from needmap.metrics._checks import binary_labels, probabilities, same_length

METHODS = ("isotonic", "platt")
#: scores are clipped to [LOGIT_EPS, 1 - LOGIT_EPS] before the logit: |logit| <= 20.7
LOGIT_EPS = 1e-9
NEWTON_STEPS = 100


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, LOGIT_EPS, 1 - LOGIT_EPS)
    return np.log(q) - np.log1p(-q)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _fit_logistic(x: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Slope and intercept minimizing the log loss of ``sigmoid(a * x + b)`` against targets in [0, 1].

    Newton's method with step halving; the loss is convex, so this finds the minimum.
    """
    design = np.column_stack([x, np.ones_like(x)])

    def loss(w: np.ndarray) -> float:
        z = design @ w
        return float(np.sum(np.logaddexp(0.0, z) - target * z))

    w = np.zeros(2)
    current = loss(w)
    for _ in range(NEWTON_STEPS):
        q = _sigmoid(design @ w)
        gradient = design.T @ (q - target)
        hessian = (design * (q * (1 - q))[:, None]).T @ design + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-10:
            candidate = w - size * step
            value = loss(candidate)
            if value <= current:
                break
            size /= 2
        else:
            break
        w, current = candidate, value
        if np.abs(size * step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


class Calibrator:
    """A monotone map of probabilities, fitted on validation scores.

    Args:
        method: "isotonic" (step-wise, any monotone shape; needs a few thousand rows to be smooth)
            or "platt" (two parameters; steady on few rows).

    Fitted state: ``x_`` and ``y_`` (isotonic breakpoints, increasing) or ``slope_`` and
    ``intercept_`` (Platt).
    """

    def __init__(self, method: str = "isotonic") -> None:
        if method not in METHODS:
            raise ConfigError(f"calibration method is {method!r}; expected one of {list(METHODS)}.")
        self.method = method
        self.x_: np.ndarray | None = None
        self.y_: np.ndarray | None = None
        self.slope_: float | None = None
        self.intercept_: float | None = None

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        """Learn the map from validation probabilities ``p`` ``[n]`` in [0, 1] and their labels ``y`` ``[n]``."""
        prob = probabilities(p)
        labels = binary_labels(y)
        same_length(prob, labels, "p", "y_true")
        positives = int(labels.sum())
        if positives in (0, len(labels)):
            only = "positives" if positives else "negatives"
            raise DataError(
                f"y_true holds only {only} ({len(labels)} rows); calibration needs validation rows of both classes."
            )
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            bound = 1.0 / (len(labels) + 2)  # no step at exactly 0 or 1 (see the module's docstring)
            iso = IsotonicRegression(out_of_bounds="clip", y_min=bound, y_max=1.0 - bound)
            iso.fit(prob, labels.astype(np.float64))
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            # Platt's targets: (P + 1) / (P + 2) for positives, 1 / (N + 2) for negatives.
            negatives = len(labels) - positives
            target = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
            self.slope_, self.intercept_ = _fit_logistic(_logit(prob), target)
        return self

    def _check_fitted(self) -> None:
        if self.x_ is None and self.slope_ is None:
            raise ConfigError("the calibrator is not fitted; call fit(p, y) on validation scores first.")

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``[n]`` in [0, 1] of probabilities ``p`` ``[n]``."""
        self._check_fitted()
        prob = probabilities(p)
        if self.method == "isotonic":
            assert self.x_ is not None and self.y_ is not None
            return np.interp(prob, self.x_, self.y_)
        assert self.slope_ is not None and self.intercept_ is not None
        return _sigmoid(self.slope_ * _logit(prob) + self.intercept_)

    def to_dict(self) -> dict[str, Any]:
        """The fitted map as JSON-safe values: ``{"method", "x", "y"}`` or ``{"method", "slope", "intercept"}``."""
        self._check_fitted()
        if self.method == "isotonic":
            assert self.x_ is not None and self.y_ is not None
            return {"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
        return {"method": "platt", "slope": self.slope_, "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """A fitted calibrator from :meth:`to_dict`'s output; ArtifactError when it is malformed."""
        where = "calibration.json"
        if not isinstance(data, dict) or data.get("method") not in METHODS:
            found = data.get("method") if isinstance(data, dict) else type(data).__name__
            raise ArtifactError(f"{where}: method is {found!r}; expected one of {list(METHODS)}.")
        calibrator = cls(data["method"])
        if calibrator.method == "isotonic":
            try:
                x = np.asarray(data["x"], dtype=np.float64)
                y = np.asarray(data["y"], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                raise ArtifactError(f"{where}: expected lists of numbers 'x' and 'y' (isotonic breakpoints).") from None
            if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
                raise ArtifactError(
                    f"{where}: 'x' has shape {x.shape} and 'y' {y.shape}; expected two lists of the same length >= 1."
                )
            if not (np.isfinite(x).all() and np.isfinite(y).all()) or (np.diff(x) < 0).any():
                raise ArtifactError(f"{where}: expected finite breakpoints with 'x' increasing.")
            calibrator.x_, calibrator.y_ = x, y
        else:
            slope, intercept = data.get("slope"), data.get("intercept")
            for name, value in (("slope", slope), ("intercept", intercept)):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise ArtifactError(f"{where}: '{name}' is {value!r}; expected a finite number.")
            calibrator.slope_, calibrator.intercept_ = float(slope), float(intercept)  # type: ignore[arg-type]
        return calibrator
