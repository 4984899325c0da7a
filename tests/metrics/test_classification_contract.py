"""Classification metrics at their edges, on hand-computed cases: the threshold at both ends, scores equal to
it, one positive, a probability of exactly 1 in the calibration error, long runs of tied scores, two-class
"multiclass" outputs, and errors that name the argument at fault."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from needmap.errors import ConfigError, DataError
from needmap.metrics import binary_metrics, expected_calibration_error, lift_capture, multiclass_metrics

Y = np.array([0, 1, 1, 0])
P = np.array([0.2, 0.5, 0.9, 0.7])


def test_a_score_equal_to_the_threshold_is_predicted_positive() -> None:
    m = binary_metrics(Y, P)  # predicted positive: 0.5, 0.9, 0.7 (p >= 0.5)
    assert (m["accuracy"], m["precision"], m["recall"]) == (0.75, 2 / 3, 1.0)


def test_thresholds_zero_and_one_are_allowed() -> None:
    everyone = binary_metrics(Y, P, threshold=0)
    assert (everyone["accuracy"], everyone["precision"], everyone["recall"]) == (0.5, 0.5, 1.0)
    nobody = binary_metrics(Y, P, threshold=1)  # no score reaches 1: no row predicted positive
    assert (nobody["accuracy"], nobody["precision"], nobody["recall"]) == (0.5, 0.0, 0.0)
    for bad in (True, -0.1, 1.5, "0.5"):
        with pytest.raises(ConfigError, match=f"threshold is {bad!r}"):
            binary_metrics(Y, P, threshold=bad)  # type: ignore[arg-type]


def test_one_positive_is_enough_for_the_ranking_metrics() -> None:
    y = np.array([0, 0, 1, 0, 0])
    m = binary_metrics(y, np.array([0.1, 0.2, 0.8, 0.3, 0.4]))
    assert (m["auc"], m["pr_auc"], m["capture_at_10"]) == (1.0, 1.0, 1.0)
    assert m["lift_at_10"] == pytest.approx(5.0)  # the top row (ceil(0.5) = 1) holds the only positive
    assert "note" not in m


def test_one_class_results_keep_every_key() -> None:
    m = binary_metrics(np.zeros(4), P)
    assert set(m) == {"auc", "logloss", "pr_auc", "accuracy", "precision", "recall", "ece", "lift_at_10",
                      "capture_at_10", "positive_rate", "threshold", "n", "note"}  # fmt: skip
    assert m["capture_at_10"] is None and m["positive_rate"] == 0.0 and m["n"] == 4


def test_a_probability_of_one_shares_the_last_bin() -> None:
    # bin [0.9, 1]: y 0 at p 1.0 and y 1 at p 0.95: |1 - 1.95| / 2 = 0.475 (in two bins it would be 0.525)
    assert expected_calibration_error(np.array([0, 1]), np.array([1.0, 0.95])) == pytest.approx(0.475)
    # bins [0.8, 0.9) and [0.9, 1] stay apart: |0 - 0.85| / 2 + |1 - 0.95| / 2 = 0.45
    assert expected_calibration_error(np.array([0, 1]), np.array([0.85, 0.95])) == pytest.approx(0.45)


def test_long_runs_of_tied_scores_keep_their_input_order() -> None:
    # 200 rows in three tied levels; the 50 rows scored 0.9 are rows 0, 4, 8, ...; the first 20 of them
    # (rows 0 to 76) are the positives, and the top 10% (20 rows) when ties keep their input order
    scores = np.tile([0.9, 0.5, 0.1, 0.5], 50)
    y = np.zeros(200, dtype=int)
    y[np.arange(0, 80, 4)] = 1
    assert lift_capture(y, scores, top=0.1) == (pytest.approx(10.0), 1.0)
    later = np.zeros(200, dtype=int)
    later[np.arange(80, 200, 4)[:20]] = 1  # the next 20 rows scored 0.9: none in the top 10%
    assert lift_capture(later, scores, top=0.1) == (0.0, 0.0)


def test_top_share_bounds() -> None:
    assert lift_capture(Y, P, top=1) == (1.0, 1.0)  # every row: lift 1, all positives
    for bad in (True, 1.5, 0):
        with pytest.raises(ConfigError, match=f"top is {bad!r}; expected a number in \\(0, 1\\]"):
            lift_capture(Y, P, top=bad)


def test_two_classes_are_a_multiclass_output_and_zero_probabilities_are_allowed() -> None:
    y = np.array([0, 1, 1])
    P2 = np.array([[1.0, 0.0], [0.25, 0.75], [0.5, 0.5]])
    m = multiclass_metrics(y, P2)
    assert m["accuracy"] == pytest.approx(2 / 3)  # row 3 ties: argmax takes class 0
    assert m["logloss"] == pytest.approx(-(np.log(1.0) + np.log(0.75) + np.log(0.5)) / 3)
    assert m["macro_auc"] == 1.0
    with pytest.raises(DataError, match=r"P has shape \(3, 1\); expected probabilities \[n, K\] with K >= 2"):
        multiclass_metrics(y, np.ones((3, 1)))
    with pytest.raises(DataError, match="P holds negative, NaN or infinite values"):
        multiclass_metrics(y, np.array([[1.0, np.nan], [0.5, 0.5], [0.5, 0.5]]))


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: binary_metrics(np.array([0, 1]), np.array([0.2, 1.3])), r"^p holds 1 values outside \[0, 1\]"),
        (lambda: expected_calibration_error(np.array([0, 1]), np.array([-0.1, 0.5])), r"^p holds 1 values outside"),
        (lambda: binary_metrics(np.array([0, np.nan]), np.array([0.2, 0.3])), r"^y_true holds 1 NaN"),
        (lambda: binary_metrics(np.zeros((2, 2)), np.array([0.2, 0.3])), r"^y_true has shape \(2, 2\)"),
        (lambda: lift_capture(np.array([0, 1]), np.array([0.2])), r"^y_true has 2 rows and p has 1"),
        (lambda: lift_capture(np.array([0, 1]), np.array([0.2, np.nan])), r"^p holds 1 NaN"),
        (lambda: binary_metrics(np.array([0, 1]), np.array([0.2, np.nan])), r"^p holds 1 NaN"),
        (lambda: expected_calibration_error(np.array([0, 1]), np.zeros((2, 2))), r"^p has shape \(2, 2\)"),
        (lambda: expected_calibration_error(np.array([0, 1]), np.array([0.2])), r"^y_true has 2 rows and p has 1"),
        (lambda: multiclass_metrics(np.array([0, 1, 1]), np.full((2, 2), 0.5)), r"^y has 3 rows and P has 2"),
        (lambda: multiclass_metrics(np.array([0, np.nan]), np.full((2, 2), 0.5)), r"^y holds 1 NaN"),
    ],
)
def test_errors_name_the_argument_at_fault(call, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        call()


def test_column_vectors_are_read_as_rows() -> None:
    flat = binary_metrics(Y, P)
    assert binary_metrics(Y.reshape(-1, 1), P.reshape(-1, 1)) == flat
    assert expected_calibration_error(Y[:, None], P[:, None]) == flat["ece"]


def test_binary_labels_are_int64_whatever_their_input_type() -> None:
    from needmap.metrics._checks import binary_labels

    for y in ([True, False, True], [1.0, 0.0, 1.0], np.array([1, 0, 1], dtype=np.int8)):
        labels = binary_labels(np.asarray(y))
        assert labels.dtype == np.int64 and labels.tolist() == [1, 0, 1]


def test_float32_probabilities_give_the_float64_log_loss() -> None:
    # A network's float32 output: the log loss clips a zero probability of the true class at float64's
    # epsilon (-log(2.2e-16) = 36.04), as for float64 input, not at float32's (-log(1.2e-7) = 15.9).
    y = np.array([0, 1, 2, 1])
    P = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.5, 0.5, 0.0], [0.1, 0.8, 0.1]], dtype=np.float32)
    expected = log_loss(y, P.astype(np.float64))
    assert expected > 9  # the zero term dominates: 36.04 / 4
    assert multiclass_metrics(y, P)["logloss"] == pytest.approx(expected, rel=1e-12)
    assert multiclass_metrics(y, P.astype(np.float64))["logloss"] == pytest.approx(expected, rel=1e-12)


def test_rows_that_do_not_sum_to_one_are_divided_by_their_sum() -> None:
    y = np.array([0, 1, 2, 1, 0])
    P = np.array([[0.6, 0.3, 0.1], [0.2, 0.45, 0.35], [0.15, 0.25, 0.6], [0.4, 0.35, 0.25], [0.35, 0.4, 0.25]])
    scale = np.array([[2.0], [0.5], [4.0], [1.0], [8.0]])  # powers of 2: dividing by the row sum is exact
    m = multiclass_metrics(y, P * scale)
    assert m["logloss"] == pytest.approx(log_loss(y, P), rel=1e-12)
    assert m["macro_auc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr", average="macro"), rel=1e-12)
    assert m["accuracy"] == pytest.approx(0.6)  # rows 4 and 5 are argmax class 0 and 1, true 1 and 0


def test_labels_that_are_not_whole_numbers_are_refused() -> None:
    P = np.full((3, 3), 1 / 3)
    for y in ([0, 1.5, 2], [0, 1, -1], [0, 1, 3]):
        with pytest.raises(DataError, match=r"^y holds values that are not class indices in \[0, 3\)"):
            multiclass_metrics(np.array(y), P)


def test_a_class_of_one_row_counts_in_the_macro_auc_and_one_class_of_all_rows_gives_none() -> None:
    y = np.array([0, 0, 1, 1, 2])  # class 2 occurs once: its one-vs-rest AUC is defined
    P = np.array([[0.6, 0.3, 0.1], [0.3, 0.5, 0.2], [0.2, 0.5, 0.3], [0.5, 0.2, 0.3], [0.1, 0.4, 0.5]])
    expected = np.mean([roc_auc_score(y == c, P[:, c]) for c in range(3)])
    assert multiclass_metrics(y, P)["macro_auc"] == pytest.approx(expected, rel=1e-12)
    assert roc_auc_score(y == 2, P[:, 2]) == 1.0
    assert expected != np.mean([roc_auc_score(y == c, P[:, c]) for c in (0, 1)])
    only = multiclass_metrics(np.zeros(5, dtype=int), P)  # no class is both present and absent
    assert only["macro_auc"] is None and "[1, 2]" in only["note"]
