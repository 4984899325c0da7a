"""Binary and multiclass metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from needmap.errors import ConfigError, DataError
from needmap.metrics import binary_metrics, expected_calibration_error, lift_capture, multiclass_metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 500), 0, 1)
    m = binary_metrics(y, p, threshold=0.4)
    pred = p >= 0.4
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["logloss"] == pytest.approx(log_loss(y, p))
    q = np.clip(p, 1e-15, 1 - 1e-15)  # and by its formula, in case both used the same wrong call
    assert m["logloss"] == pytest.approx(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["positive_rate"] == pytest.approx(y.mean())
    assert m["n"] == 500
    assert "note" not in m


def test_binary_metrics_accept_bool_labels_and_return_plain_python_values() -> None:
    y = np.array([True, False, True, False])
    m = binary_metrics(y, np.array([0.9, 0.2, 0.6, 0.7]))
    assert m["auc"] == pytest.approx(0.75)
    assert all(v is None or type(v) in (float, int) for v in m.values())


def test_ece_hand_computed() -> None:
    # bins: [0, .1): p .05 y 0 -> |0 - .05| * 1/4; [.1, .2): p .15, .15 y 1, 0 -> |.5 - .15| * 2/4;
    # [.9, 1]: p .95 y 1 -> |1 - .95| * 1/4. Total .0125 + .175 + .0125 = .2
    y = np.array([0, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.15, 0.95])
    assert expected_calibration_error(y, p) == pytest.approx(0.2)
    assert binary_metrics(y, p)["ece"] == pytest.approx(0.2)


def test_ece_puts_probability_one_in_last_bin_and_is_zero_when_calibrated() -> None:
    assert expected_calibration_error(np.array([1, 1]), np.array([1.0, 1.0])) == pytest.approx(0.0)
    # 10 rows at p = .3 with 3 positives: perfectly calibrated.
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    assert expected_calibration_error(y, np.full(10, 0.3)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(10, 0.5)) == pytest.approx(0.2)


def test_lift_capture_hand_computed() -> None:
    # 10 rows, 2 positives (base rate .2); the top 30% (3 rows) by score hold 1 positive.
    y = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3, 0.05, 0.4, 0.0, 0.01])
    lift, capture = lift_capture(y, p, top=0.3)
    assert lift == pytest.approx((1 / 3) / 0.2)
    assert capture == pytest.approx(0.5)


def test_lift_capture_ties_keep_input_order() -> None:
    # All scores tie: the stable sort keeps input order, so the top 10% of 30 rows is rows 0..2.
    y = np.zeros(30, dtype=int)
    y[[1, 20]] = 1
    lift, capture = lift_capture(y, np.full(30, 0.5), top=0.1)
    assert capture == pytest.approx(0.5)  # 3 rows (0.1 * 30 is not rounded up to 4)
    assert lift == pytest.approx((1 / 3) / (2 / 30))
    y_rev = y[::-1].copy()  # positives at 9 and 28: none in rows 0..2
    assert lift_capture(y_rev, np.full(30, 0.5), top=0.1) == (0.0, 0.0)


def test_binary_metrics_lift_at_10() -> None:
    y = np.zeros(100, dtype=int)
    y[:5] = 1
    y[50:55] = 1
    p = np.linspace(1, 0, 100)
    m = binary_metrics(y, p)
    assert m["capture_at_10"] == pytest.approx(0.5)
    assert m["lift_at_10"] == pytest.approx(0.5 / 0.1)


def test_single_class_gives_none_not_an_error() -> None:
    m = binary_metrics(np.zeros(20, dtype=int), np.linspace(0, 0.9, 20))
    assert m["auc"] is None and m["pr_auc"] is None and m["lift_at_10"] is None
    assert m["recall"] is None
    assert "only negatives" in m["note"]
    assert m["logloss"] > 0
    assert lift_capture(np.zeros(5), np.arange(5.0)) == (None, None)
    ones = binary_metrics(np.ones(4), np.full(4, 0.8))
    assert ones["auc"] is None and ones["recall"] == 1.0 and "only positives" in ones["note"]


def test_binary_metrics_reject_bad_input() -> None:
    with pytest.raises(DataError, match="y_true has 3 rows and p has 2"):
        binary_metrics(np.array([0, 1, 1]), np.array([0.2, 0.3]))
    with pytest.raises(DataError, match=r"outside \[0, 1\]"):
        binary_metrics(np.array([0, 1]), np.array([0.2, 1.3]))
    with pytest.raises(DataError, match="other than 0 and 1"):
        binary_metrics(np.array([0, 2]), np.array([0.2, 0.3]))
    with pytest.raises(DataError, match="NaN"):
        binary_metrics(np.array([0, 1]), np.array([0.2, np.nan]))
    with pytest.raises(ConfigError, match="top is 0"):
        lift_capture(np.array([0, 1]), np.array([0.2, 0.3]), top=0)
    with pytest.raises(ConfigError, match="threshold"):
        binary_metrics(np.array([0, 1]), np.array([0.2, 0.3]), threshold=2)


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 400)
    logits = rng.normal(size=(400, 4))
    logits[np.arange(400), y] += 1.0
    P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    m = multiclass_metrics(y, P)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, P.argmax(1)))
    assert m["logloss"] == pytest.approx(log_loss(y, P))
    assert m["macro_auc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr", average="macro"))
    assert m["n"] == 400


def test_multiclass_metrics_with_a_missing_class() -> None:
    y = np.array([0, 1, 0, 1])
    P = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    m = multiclass_metrics(y, P)
    assert m["macro_auc"] == pytest.approx(1.0)
    assert "[2]" in m["note"]
    with pytest.raises(DataError, match="class indices"):
        multiclass_metrics(np.array([0, 3]), P[:2])
