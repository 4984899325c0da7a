"""The lifetime-value metrics against values worked out by hand (and Spearman against scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from needmap.errors import ConfigError, DataError
from needmap.metrics import task_metrics
from needmap.metrics.ltv import (
    aggregate_error,
    average_ranks,
    decile_calibration,
    decile_mape,
    gini,
    ltv_metrics,
    normalized_gini,
    paired_ltv_difference,
    spearman,
)

ACTUAL = np.array([0.0, 10.0, 0.0, 30.0])
PREDICTED = np.array([1.0, 2.0, 3.0, 4.0])


def test_gini_by_hand() -> None:
    # ranked by prediction: 30, 0, 10, 0 -> cumulative shares .75 .75 1 1, less the diagonal .25 .5 .75 1
    assert gini(ACTUAL, PREDICTED) == pytest.approx(2 * (0.5 + 0.25 + 0.25 + 0) / 4)
    # the perfect ranking: 30, 10, 0, 0 -> .75 1 1 1 less the diagonal
    assert gini(ACTUAL, ACTUAL) == pytest.approx(2 * (0.5 + 0.5 + 0.25 + 0) / 4)
    assert normalized_gini(ACTUAL, PREDICTED) == pytest.approx(0.5 / 0.625)
    assert normalized_gini(ACTUAL, ACTUAL) == pytest.approx(1.0)
    assert normalized_gini(ACTUAL, -ACTUAL) < 0


def test_tied_predictions_share_their_spend() -> None:
    # rows tied at 2 share 30 (15 each), rows tied at 1 share 10: 15 15 5 5 -> .375 .75 .875 1, less the diagonal
    assert gini(ACTUAL, np.array([1.0, 1.0, 2.0, 2.0])) == pytest.approx(2 * (0.125 + 0.25 + 0.125 + 0) / 4)
    # a constant prediction earns nothing from the rows' order, whatever it is
    assert gini(ACTUAL, np.zeros(4)) == pytest.approx(0.0)
    assert gini(ACTUAL[::-1], np.zeros(4)) == pytest.approx(0.0)


def test_gini_undefined_without_spend() -> None:
    assert gini(np.zeros(3), PREDICTED[:3]) is None
    assert normalized_gini(np.zeros(3), PREDICTED[:3]) is None
    assert normalized_gini(np.full(3, 5.0), PREDICTED[:3]) is None  # all alike: the perfect Gini is 0, no order


def test_spearman_by_hand_and_against_scipy() -> None:
    # ranks 1.5 3 1.5 4 and 1 2 3 4: centred dot 3, norms 4.5 and 5
    assert spearman(ACTUAL, PREDICTED) == pytest.approx(3 / np.sqrt(22.5))
    rng = np.random.default_rng(0)
    y = np.where(rng.random(200) < 0.6, 0.0, rng.gamma(2.0, 50.0, 200))
    p = y + rng.normal(0, 40, 200)
    assert spearman(y, p) == pytest.approx(spearmanr(y, p).statistic)
    assert np.array_equal(average_ranks(y), rankdata(y))
    assert spearman(np.ones(4), PREDICTED) is None


def test_decile_calibration_and_its_mape() -> None:
    deciles = decile_calibration(ACTUAL, PREDICTED, groups=2)
    assert deciles == [
        {"decile": 1, "rows": 2, "predicted": 1.5, "actual": 5.0},
        {"decile": 2, "rows": 2, "predicted": 3.5, "actual": 15.0},
    ]
    assert decile_mape(deciles) == pytest.approx((3.5 / 5 + 11.5 / 15) / 2)
    assert len(decile_calibration(np.arange(25.0), np.arange(25.0))) == 10
    assert decile_mape([{"predicted": 1.0, "actual": 0.0}]) is None


def test_aggregate_error_and_the_set() -> None:
    assert aggregate_error(ACTUAL, PREDICTED) == pytest.approx(10 / 40 - 1)
    assert aggregate_error(np.zeros(2), np.ones(2)) is None
    m = ltv_metrics(ACTUAL, PREDICTED)
    assert m["auc"] == pytest.approx(0.75)  # buyers scored 2 and 4 against 1 and 3: 3 of 4 pairs
    assert m["rmse"] == pytest.approx(np.sqrt(750 / 4))  # errors 1, -8, 3, -26
    assert m["mae"] == pytest.approx(9.5)
    assert m["positive_rate"] == 0.5 and m["n"] == 4
    assert task_metrics("ltv", ACTUAL, PREDICTED) == m


def test_the_chance_to_buy_column_scores_the_auc() -> None:
    scores = np.column_stack([PREDICTED, [0.9, 0.1, 0.8, 0.2]])  # expected spend, chance to buy (inverted)
    m = ltv_metrics(ACTUAL, scores)
    assert m["auc"] == pytest.approx(0.0)
    assert m["normalized_gini"] == pytest.approx(0.8)  # from column 0
    assert ltv_metrics(np.zeros(4), PREDICTED)["auc"] is None


def test_paired_difference() -> None:
    rng = np.random.default_rng(1)
    y = np.where(rng.random(300) < 0.5, 0.0, rng.gamma(2.0, 50.0, 300))
    good, noise = y + rng.normal(0, 10, 300), rng.normal(0, 10, 300)
    result = paired_ltv_difference(y, good, noise, n_boot=200, seed=0)
    assert result["difference"] == pytest.approx(normalized_gini(y, good) - normalized_gini(y, noise))
    assert 0 < result["low"] < result["difference"] < result["high"]
    assert paired_ltv_difference(y, good, noise, n_boot=200, seed=0) == result  # seeded
    same = paired_ltv_difference(y, good, good, metric="spearman", n_boot=50)
    assert same["difference"] == 0 and same["low"] == same["high"] == 0
    with pytest.raises(ConfigError, match="expected one of"):
        paired_ltv_difference(y, good, noise, metric="rmse")


def test_the_batched_resamples_score_as_the_drawn_rows_do() -> None:
    """The bootstrap scores resamples as draw counts per row; each must equal the metric of the rows drawn,
    ties in the spend and in the prediction included, and a resample without spend must be drawn again."""
    from needmap.metrics.compare import _resample_counts
    from needmap.metrics.ltv import _resampled_normalized_gini, _resampled_spearman

    rng = np.random.default_rng(5)
    y = np.round(np.where(rng.random(200) < 0.6, 0.0, rng.gamma(1.0, 20.0, 200)))  # many ties at 0 and above
    p = np.round(y + rng.normal(0, 15, 200))  # ties in the prediction too
    q = np.round(rng.normal(0, 15, 200))
    counts = _resample_counts(rng, 40, 200)
    ginis = _resampled_normalized_gini(counts, y, p, q)
    ranks = _resampled_spearman(counts, y, p, q)
    for k in range(40):
        rows = np.repeat(np.arange(200), counts[k])
        for scores, got_gini, got_rank in ((p, ginis[0][k], ranks[0][k]), (q, ginis[1][k], ranks[1][k])):
            assert got_gini == pytest.approx(normalized_gini(y[rows], scores[rows]), abs=1e-12)
            assert got_rank == pytest.approx(spearman(y[rows], scores[rows]), abs=1e-12)
    # one spender in twenty rows: some resamples draw no spend, the metric is undefined there and drawn again
    sparse = np.zeros(20)
    sparse[3] = 5.0
    result = paired_ltv_difference(sparse, np.arange(20.0), -np.arange(20.0), n_boot=300, seed=0)
    assert result["redrawn"] > 0 and result["n_boot"] == 300


def test_bad_input_is_named() -> None:
    with pytest.raises(DataError, match="actual has 2 rows and predicted has 3"):
        gini(np.zeros(2), np.zeros(3))
