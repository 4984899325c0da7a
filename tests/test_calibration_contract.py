"""The calibrator's saved form and edge cases, with expected values worked out by hand: what calibration.json
holds, which documents are refused, and the clipping of scores of exactly 0 and 1 before the logit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from needmap.calibration import LOGIT_EPS, METHODS, Calibrator
from needmap.errors import ArtifactError, ConfigError


def test_methods_and_the_default() -> None:
    assert METHODS == ("isotonic", "platt")
    assert Calibrator().method == "isotonic"
    assert LOGIT_EPS == 1e-9


def test_saved_forms_hold_exactly_the_documented_keys() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1])
    iso = Calibrator("isotonic").fit(p, y).to_dict()
    assert set(iso) == {"method", "x", "y"} and iso["method"] == "isotonic"
    assert all(isinstance(v, float) for v in iso["x"] + iso["y"])
    platt = Calibrator("platt").fit(p, y).to_dict()
    assert set(platt) == {"method", "slope", "intercept"} and platt["method"] == "platt"
    assert isinstance(platt["slope"], float) and isinstance(platt["intercept"], float)
    with pytest.raises(ConfigError, match="not fitted"):
        Calibrator("platt").to_dict()


def test_one_breakpoint_maps_every_score_to_its_value() -> None:
    single = Calibrator.from_dict({"method": "isotonic", "x": [0.5], "y": [0.3]})
    np.testing.assert_array_equal(single.transform(np.array([0.0, 0.5, 1.0])), [0.3, 0.3, 0.3])


def test_equal_consecutive_breakpoints_are_a_vertical_step() -> None:
    step = Calibrator.from_dict({"method": "isotonic", "x": [0.0, 0.5, 0.5, 1.0], "y": [0.1, 0.2, 0.6, 0.9]})
    np.testing.assert_allclose(step.transform(np.array([0.25, 0.75, 1.0])), [0.15, 0.75, 0.9], rtol=0, atol=1e-12)


def test_platt_clips_scores_of_zero_and_one_before_the_logit() -> None:
    calibrator = Calibrator.from_dict({"method": "platt", "slope": 0.5, "intercept": 0.25})
    edge = math.log(1e-9) - math.log1p(-1e-9)  # the logit of the clipped score 1e-9: about -20.72
    expected = [1 / (1 + math.exp(-(0.5 * z + 0.25))) for z in (edge, 0.0, -edge)]
    out = calibrator.transform(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)
    assert calibrator.slope_ == 0.5 and calibrator.intercept_ == 0.25
    assert isinstance(Calibrator.from_dict({"method": "platt", "slope": 1, "intercept": 0}).slope_, float)


@pytest.mark.parametrize(
    ("document", "pattern"),
    [
        ([], r"^calibration\.json: method is 'list'; expected one of \['isotonic', 'platt'\]"),
        ({"method": "spline"}, r"^calibration\.json: method is 'spline'"),
        ({"x": [0.1], "y": [0.2]}, r"^calibration\.json: method is None"),
        ({"method": "isotonic", "x": [], "y": []}, r"^calibration\.json: 'x' has shape \(0,\) and 'y' \(0,\)"),
        ({"method": "isotonic", "x": [[0.1]], "y": [[0.2]]}, r"'x' has shape \(1, 1\)"),
        ({"method": "isotonic", "x": [0.1, 0.2], "y": [0.2]}, r"'x' has shape \(2,\) and 'y' \(1,\)"),
        ({"method": "isotonic", "y": [0.2]}, r"^calibration\.json: expected lists of numbers 'x' and 'y'"),
        ({"method": "isotonic", "x": ["a"], "y": [0.2]}, r"expected lists of numbers 'x' and 'y'"),
        ({"method": "isotonic", "x": [None, 0.5], "y": [0.2, 0.3]}, r"expected finite breakpoints"),
        ({"method": "isotonic", "x": [0.1, 0.5], "y": [0.2, None]}, r"expected finite breakpoints"),
        ({"method": "isotonic", "x": [0.1, 0.5], "y": [0.2, float("inf")]}, r"expected finite breakpoints"),
        ({"method": "isotonic", "x": [0.5, 0.1], "y": [0.2, 0.3]}, r"with 'x' increasing"),
        ({"method": "platt", "slope": 1.0}, r"^calibration\.json: 'intercept' is None; expected a finite number"),
        ({"method": "platt", "slope": True, "intercept": 0.0}, r"'slope' is True"),
        ({"method": "platt", "slope": "1", "intercept": 0.0}, r"'slope' is '1'"),
        ({"method": "platt", "slope": 1.0, "intercept": float("nan")}, r"'intercept' is nan"),
        ({"method": "platt", "slope": float("-inf"), "intercept": 0.0}, r"'slope' is -inf"),
    ],
)
def test_malformed_documents_are_refused_saying_what_is_wrong(document: object, pattern: str) -> None:
    with pytest.raises(ArtifactError, match=pattern):
        Calibrator.from_dict(document)  # type: ignore[arg-type]


def _platt_reference(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's slope and intercept by scipy's BFGS on the same log loss, with its exact gradient."""
    from scipy.optimize import minimize

    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    x = np.log(p) - np.log1p(-p)

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = w[0] * x + w[1]
        q = 1 / (1 + np.exp(-z))
        return float(np.sum(np.logaddexp(0.0, z) - target * z)), np.array([x @ (q - target), np.sum(q - target)])

    result = minimize(loss_and_gradient, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-12})
    return float(result.x[0]), float(result.x[1])


def test_platt_reaches_the_minimum_when_a_full_newton_step_overshoots() -> None:
    # From (0, 0), the full Newton step on these rows raises the loss: the fit must shorten its steps
    p = np.array([0.001, 0.261, 0.737, 0.082, 0.001, 0.004])
    y = np.array([0, 0, 1, 1, 1, 1])
    fitted = Calibrator("platt").fit(p, y)
    slope, intercept = _platt_reference(p, y)
    assert fitted.slope_ == pytest.approx(slope, abs=1e-7)
    assert fitted.intercept_ == pytest.approx(intercept, abs=1e-7)


def test_validation_rows_of_one_class_are_named() -> None:
    from needmap.errors import DataError

    with pytest.raises(DataError, match=r"^y_true holds only positives \(3 rows\); calibration needs"):
        Calibrator("isotonic").fit(np.array([0.2, 0.5, 0.9]), np.array([1, 1, 1]))
    with pytest.raises(DataError, match=r"^y_true holds only negatives \(2 rows\)"):
        Calibrator("platt").fit(np.array([0.2, 0.5]), np.array([0, 0]))


@pytest.mark.parametrize(
    ("p", "y"),
    [
        # confident scores: q (1 - q) is small on every row, the curvature a Newton step must not overstate
        ([0.999, 0.998, 0.9995, 0.997, 0.999, 0.996, 0.9999, 0.99], [1, 1, 1, 1, 1, 0, 1, 0]),
        # seven rows where a first try longer than the full Newton step circles the minimum
        ([0.07, 0.13, 0.14, 0.31, 0.13, 0.25, 0.09], [1, 0, 0, 0, 0, 1, 1]),
    ],
)
def test_platt_reaches_the_minimum_to_eight_decimals(p: list[float], y: list[int]) -> None:
    fitted = Calibrator("platt").fit(np.array(p), np.array(y))
    slope, intercept = _platt_reference(np.array(p), np.array(y))
    assert fitted.slope_ == pytest.approx(slope, abs=1e-8)
    assert fitted.intercept_ == pytest.approx(intercept, abs=1e-8)


def test_platt_at_its_starting_point_stops_there_without_a_numpy_warning() -> None:
    # Balanced rows all scored 0.5: the logit is 0, so the slope's gradient and step are exactly 0, and the
    # intercept's are 0 up to rounding; a stopping rule that divides by the step would warn here.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = Calibrator("platt").fit(np.full(6, 0.5), np.array([0, 1, 0, 1, 0, 1]))
    assert fitted.slope_ == 0.0 and fitted.intercept_ == pytest.approx(0.0, abs=1e-12)


def test_a_fitted_calibrator_holds_the_state_of_its_own_method_only() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1])
    unfitted = Calibrator("platt")
    assert (unfitted.x_, unfitted.y_, unfitted.slope_, unfitted.intercept_) == (None, None, None, None)
    iso = Calibrator("isotonic").fit(p, y)
    assert iso.x_ is not None and iso.y_ is not None and iso.x_.dtype == iso.y_.dtype == np.float64
    assert iso.slope_ is None and iso.intercept_ is None
    platt = Calibrator("platt").fit(p, y)
    assert platt.x_ is None and platt.y_ is None
    assert isinstance(platt.slope_, float) and isinstance(platt.intercept_, float)
