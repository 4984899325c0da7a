"""The calibrator: isotonic against scikit-learn, Platt scaling, JSON round trips and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from needmap.calibration import Calibrator
from needmap.errors import ArtifactError, ConfigError, DataError
from needmap.metrics import expected_calibration_error


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities, labels drawn from them, and overconfident, shifted scores of the same ranking."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.02, 0.9, n)
    y = (rng.random(n) < q).astype(int)
    logit = np.log(q / (1 - q))
    return q, y, 1 / (1 + np.exp(-(3 * logit + 1)))


def _ece_by_hand(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        mask = (p >= low) & ((p < high) if b < bins - 1 else (p <= high))
        if mask.any():
            total += mask.sum() / len(p) * abs(y[mask].mean() - p[mask].mean())
    return total


def _json_round_trip(calibrator: Calibrator) -> Calibrator:
    return Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict(), allow_nan=False)))


def test_isotonic_equals_sklearn_and_survives_a_json_round_trip() -> None:
    _, y, p = _miscalibrated(3000, seed=0)
    fitted = Calibrator("isotonic").fit(p[:2000], y[:2000])
    bound = 1 / (2000 + 2)  # needmap bounds the steps away from 0 and 1
    reference = IsotonicRegression(out_of_bounds="clip", y_min=bound, y_max=1 - bound).fit(p[:2000], y[:2000])
    new = np.r_[p[2000:], 0.0, 1.0, 1e-6]  # beyond the fitted range too
    np.testing.assert_allclose(fitted.transform(new), reference.predict(new), atol=1e-12)
    loaded = _json_round_trip(fitted)
    assert np.array_equal(loaded.transform(new), fitted.transform(new))
    assert loaded.to_dict()["method"] == "isotonic"
    assert np.all(np.diff(fitted.transform(np.linspace(0, 1, 101))) >= 0)


def test_platt_improves_the_calibration_error_on_new_rows() -> None:
    _, y, p = _miscalibrated(6000, seed=1)
    before = expected_calibration_error(y[3000:], p[3000:])
    assert before == pytest.approx(_ece_by_hand(y[3000:], p[3000:]), abs=1e-12)
    calibrated = Calibrator("platt").fit(p[:3000], y[:3000]).transform(p[3000:])
    after = _ece_by_hand(y[3000:], calibrated)
    assert after < before / 3
    assert np.all(np.diff(Calibrator("platt").fit(p, y).transform(np.linspace(0, 1, 101))) >= 0)


def test_isotonic_improves_the_calibration_error_on_new_rows() -> None:
    _, y, p = _miscalibrated(6000, seed=2)
    calibrated = Calibrator("isotonic").fit(p[:3000], y[:3000]).transform(p[3000:])
    assert _ece_by_hand(y[3000:], calibrated) < _ece_by_hand(y[3000:], p[3000:]) / 3


def test_platt_coefficients_are_a_logistic_regression_on_the_logit_with_platt_targets() -> None:
    _, y, p = _miscalibrated(2000, seed=3)
    fitted = Calibrator("platt").fit(p, y)
    # Platt's targets (P + 1) / (P + 2) and 1 / (N + 2), as weighted rows of each class
    positives, negatives = y.sum(), len(y) - y.sum()
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    logit = np.log(p / (1 - p))
    reference = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(
        np.r_[logit, logit][:, None], np.r_[np.ones(len(y)), np.zeros(len(y))], sample_weight=np.r_[target, 1 - target]
    )
    assert fitted.slope_ == pytest.approx(reference.coef_[0, 0], abs=1e-5)
    assert fitted.intercept_ == pytest.approx(reference.intercept_[0], abs=1e-5)
    loaded = _json_round_trip(fitted)
    grid = np.linspace(0, 1, 201)
    assert np.array_equal(loaded.transform(grid), fitted.transform(grid))
    assert np.isfinite(fitted.transform(grid)).all()


def test_platt_stays_finite_when_the_validation_rows_are_separated() -> None:
    fitted = Calibrator("platt").fit(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))
    out = fitted.transform(np.array([0.0, 0.5, 1.0]))
    assert np.isfinite([fitted.slope_, fitted.intercept_]).all()
    assert 0 < out[0] < out[1] < out[2] < 1


def test_calibrator_errors_name_what_was_found() -> None:
    with pytest.raises(ConfigError, match="'spline'"):
        Calibrator("spline")
    with pytest.raises(DataError, match="only negatives"):
        Calibrator("platt").fit(np.array([0.1, 0.5]), np.array([0, 0]))
    with pytest.raises(DataError, match="p has 3 rows and y_true has 2"):
        Calibrator("isotonic").fit(np.array([0.1, 0.5, 0.7]), np.array([0, 1]))
    with pytest.raises(DataError, match="outside"):
        Calibrator("isotonic").fit(np.array([0.1, 1.5]), np.array([0, 1]))
    with pytest.raises(ConfigError, match="not fitted"):
        Calibrator("isotonic").transform(np.array([0.5]))
    with pytest.raises(ArtifactError, match="'spline'"):
        Calibrator.from_dict({"method": "spline"})
    with pytest.raises(ArtifactError, match="increasing"):
        Calibrator.from_dict({"method": "isotonic", "x": [0.5, 0.1], "y": [0.2, 0.3]})
    with pytest.raises(ArtifactError, match="same length"):
        Calibrator.from_dict({"method": "isotonic", "x": [0.1, 0.5], "y": [0.2]})
    with pytest.raises(ArtifactError, match="'slope' is None"):
        Calibrator.from_dict({"method": "platt", "intercept": 0.0})


def test_isotonic_never_maps_to_exactly_zero_or_one() -> None:
    # The lowest scores all negative and the highest all positive: unbounded steps would be 0 and 1.
    p = np.linspace(0.01, 0.99, 200)
    y = (p > 0.5).astype(int)
    y[95:105] = np.arange(10) % 2  # some overlap in the middle
    calibrated = Calibrator("isotonic").fit(p, y).transform(np.array([0.0, 0.001, 0.999, 1.0]))
    assert calibrated[0] == pytest.approx(1 / 202) and calibrated[-1] == pytest.approx(201 / 202)
    assert np.all((calibrated > 0) & (calibrated < 1))
