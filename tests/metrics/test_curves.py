"""ROC, precision-recall, gains, lift, calibration and profit curves against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import auc, average_precision_score, roc_auc_score, roc_curve

from needmap.errors import ConfigError, DataError
from needmap.metrics import (
    calibration_curve,
    expected_calibration_error,
    gains_curve,
    lift_curve,
    lift_table,
    pr_points,
    profit_curve,
    roc_points,
)

# 10 rows, 2 positives. Ranked by score high -> low: rows 0 1 2 7 5 4 3 6 9 8, labels 0 1 0 0 0 0 0 1 0 0:
# positives among the top k rows, k = 1..10: 0 1 1 1 1 1 1 2 2 2.
Y10 = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0, 0])
P10 = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.05, 0.4, 0.0, 0.01])


def _random(seed: int, n: int = 400, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    return y, (np.round(p, 2) if ties else p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_points_are_sklearn_roc_curve_and_their_area_is_the_auc(seed: int) -> None:
    y, p = _random(seed)
    curve = roc_points(y, p, max_points=10_000)
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(curve["fpr"], fpr, atol=1e-12)
    np.testing.assert_allclose(curve["tpr"], tpr, atol=1e-12)
    assert auc(curve["fpr"], curve["tpr"]) == pytest.approx(roc_auc_score(y, p), abs=1e-9)


def test_roc_points_downsampled_keep_both_ends_and_stay_monotone() -> None:
    y, p = _random(3, n=5000, ties=False)
    curve = roc_points(y, p)
    assert 100 < len(curve["fpr"]) <= 201 == len(curve["tpr"])
    assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
    assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(curve["fpr"]) >= 0) and np.all(np.diff(curve["tpr"]) >= 0)
    assert auc(curve["fpr"], curve["tpr"]) == pytest.approx(roc_auc_score(y, p), abs=2e-3)
    assert all(type(v) is float for v in curve["fpr"] + curve["tpr"])


@pytest.mark.parametrize("seed", [0, 1])
def test_pr_points_give_sklearn_average_precision(seed: int) -> None:
    y, p = _random(seed)
    curve = pr_points(y, p, max_points=10_000)
    recall, precision = np.array(curve["recall"]), np.array(curve["precision"])
    assert (recall[0], precision[0]) == (0.0, 1.0)
    assert recall[-1] == 1.0 and precision[-1] == pytest.approx(y.mean())
    ap = float(np.sum(np.diff(recall) * precision[1:]))
    assert ap == pytest.approx(average_precision_score(y, p), abs=1e-9)
    short = pr_points(y, p, max_points=20)
    assert len(short["recall"]) <= 20 and short["recall"][-1] == 1.0


def test_gains_and_lift_hand_computed() -> None:
    gains = gains_curve(Y10, P10, points=10)
    assert gains["share"] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert gains["captured"] == pytest.approx([0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1])
    lift = lift_curve(Y10, P10, points=10)
    assert lift["share"] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    # lift = (positives in top k / k) / 0.2
    expected = [0, 2.5, (1 / 3) / 0.2, 1.25, 1.0, (1 / 6) / 0.2, (1 / 7) / 0.2, 1.25, (2 / 9) / 0.2, 1.0]
    assert lift["lift"] == pytest.approx(expected)


def test_gains_default_grid_has_101_shares_and_rounds_up_to_whole_rows() -> None:
    gains = gains_curve(Y10, P10)
    assert len(gains["share"]) == 101 and gains["share"][1] == pytest.approx(0.01)
    # 1% of 10 rows is one row (the top one, a negative); 11% is two rows (the second is a positive)
    assert gains["captured"][1] == 0.0 and gains["captured"][11] == 0.5
    assert len(lift_curve(Y10, P10)["share"]) == 100


def test_lift_table_hand_computed() -> None:
    table = lift_table(Y10, P10, tops=(0.1, 0.3, 0.5))
    assert [row["top"] for row in table] == [0.1, 0.3, 0.5]
    assert [row["lift"] for row in table] == pytest.approx([0.0, (1 / 3) / 0.2, 1.0])
    assert [row["capture"] for row in table] == pytest.approx([0.0, 0.5, 0.5])
    assert [row["top"] for row in lift_table(Y10, P10)] == [0.01, 0.05, 0.1, 0.2, 0.3, 0.5]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_curve_agrees_with_sklearn_even_on_bin_edges(seed: int) -> None:
    y, p = _random(seed, n=300)
    p[:6] = [0.0, 0.1, 0.3, 0.5, 0.7, 1.0]  # exactly on edges
    curve = calibration_curve(y, p, bins=10)
    observed, predicted = sk_calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(curve["observed"], observed, atol=1e-12)
    np.testing.assert_allclose(curve["mean_predicted"], predicted, atol=1e-12)
    assert sum(curve["count"]) == 300


def test_calibration_curve_leaves_empty_bins_out_and_matches_ece() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.0, 0.45, 500)  # bins 5 to 9 stay empty
    y = (rng.random(500) < p).astype(int)
    curve = calibration_curve(y, p)
    assert len(curve["count"]) == 5 and all(type(c) is int for c in curve["count"])
    gaps = np.abs(np.array(curve["observed"]) - np.array(curve["mean_predicted"]))
    assert float(np.dot(curve["count"], gaps) / 500) == pytest.approx(expected_calibration_error(y, p), abs=1e-12)


def test_profit_curve_hand_computed_with_best_cutoff_between_grid_points() -> None:
    # cost 1, value 10: profit of the top k rows = 10 * positives - k:
    # k = 1..10: -1 8 7 6 5 4 3 12 11 10; best k = 8 (12), lowest contacted score 0.05.
    curve = profit_curve(Y10, P10, contact_cost=1.0, conversion_value=10.0, points=10)
    assert curve["profit"] == pytest.approx([-1, 8, 7, 6, 5, 4, 3, 12, 11, 10])
    assert curve["threshold"] == pytest.approx([0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01, 0.0])
    best = {"share": 0.8, "threshold": 0.05, "profit": 12.0, "contacted": 8, "conversions": 2}
    assert curve["best"] == pytest.approx(best)
    # shares 1/3, 2/3, 1 contact 4, 7, 10 rows (profit 6, 3, 10): the best (8 rows) lies between them
    coarse = profit_curve(Y10, P10, contact_cost=1.0, conversion_value=10.0, points=3)
    assert coarse["profit"] == pytest.approx([6, 3, 10])
    assert coarse["best"] == pytest.approx(best)


def test_profit_curve_best_is_nobody_when_every_contact_loses() -> None:
    # cost 5, value 10: k = 1..10 gives -5 0 -5 -10 -15 -20 -25 -20 -25 -30; contacting nobody (0) is best,
    # and ties with k = 2 go to the fewest rows.
    curve = profit_curve(Y10, P10, contact_cost=5.0, conversion_value=10.0, points=10)
    assert curve["profit"] == pytest.approx([-5, 0, -5, -10, -15, -20, -25, -20, -25, -30])
    assert curve["best"] == {"share": 0.0, "threshold": None, "profit": 0.0, "contacted": 0, "conversions": 0}


def test_curves_reject_bad_input() -> None:
    with pytest.raises(DataError, match="only negatives"):
        roc_points(np.zeros(5), np.linspace(0, 1, 5))
    with pytest.raises(DataError, match="no positive"):
        gains_curve(np.zeros(5), np.linspace(0, 1, 5))
    with pytest.raises(DataError, match="y_true has 10 rows and p has 9"):
        lift_curve(Y10, P10[:9])
    with pytest.raises(ConfigError, match="max_points"):
        roc_points(Y10, P10, max_points=1)
    with pytest.raises(ConfigError, match="contact_cost"):
        profit_curve(Y10, P10, contact_cost=-1.0, conversion_value=10.0)
    with pytest.raises(DataError, match="outside"):
        calibration_curve(Y10, P10 + 0.5)
