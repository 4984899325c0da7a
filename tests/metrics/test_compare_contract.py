"""The paired bootstrap and the verdict on hand-computed cases: log losses of scores of exactly 0 and 1,
the percentiles of the interval, the options and what each verdict sentence says."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from needmap.errors import ConfigError, DataError
from needmap.metrics import compare
from needmap.metrics.compare import (
    CHUNK_BYTES,
    EPS,
    MAX_DRAWS,
    METRICS,
    bootstrap_difference,
    verdict_sentence,
    weighted_auc,
)

Y4 = np.array([0, 1, 0, 1])
P4 = np.array([0.1, 0.8, 0.3, 0.6])


def test_constants() -> None:
    assert METRICS == {"auc": ("AUC", True), "logloss": ("log loss", False)}
    assert EPS == 2.0**-52 and CHUNK_BYTES == 2**20 and MAX_DRAWS == 20


def test_log_loss_clips_scores_of_exactly_zero_and_one() -> None:
    # y = 1, 0, 1, 0 scored 1, 0, 0, 1: two rows right (loss about 2.2e-16 each), two wrong, each costing
    # -ln(eps) = 52 ln 2, where eps = 2^-52 is the clip that scikit-learn's log_loss uses too
    y = np.array([1, 0, 1, 0])
    result = bootstrap_difference(y, np.array([1.0, 0.0, 0.0, 1.0]), np.full(4, 0.5), metric="logloss", n_boot=20)
    assert result["deep"] == pytest.approx(52 * math.log(2) / 2, rel=1e-12)
    assert result["other"] == pytest.approx(math.log(2), rel=1e-12)
    assert math.isfinite(result["low"]) and math.isfinite(result["high"])
    assert result["difference"] == pytest.approx(26 * math.log(2) - math.log(2), rel=1e-12)


def test_log_loss_interval_is_the_percentiles_of_the_resampled_mean_gaps() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 50)
    a, b = rng.uniform(0.05, 0.95, 50), rng.uniform(0.05, 0.95, 50)
    result = bootstrap_difference(y, a, b, metric="logloss", n_boot=300, level=0.9, seed=4)
    gap = -(y * np.log(a) + (1 - y) * np.log(1 - a)) + (y * np.log(b) + (1 - y) * np.log(1 - b))
    # each resample: 50 uniform draws of the rows from Generator(4), all drawn in one block
    drawn = np.random.default_rng(4).integers(0, 50, size=(300, 50), dtype=np.int32)
    low, high = np.quantile(gap[drawn].mean(axis=1), [0.05, 0.95])
    assert result["low"] == pytest.approx(low, abs=1e-12) and result["high"] == pytest.approx(high, abs=1e-12)
    assert result["level"] == 0.9 and result["n_boot"] == 300 and result["redrawn"] == 0
    assert result["metric"] == "logloss"


def test_auc_interval_over_a_few_rows_by_hand() -> None:
    # 6 rows; a ranks every positive first (AUC 1), b ranks them last (AUC 0): every resample that keeps
    # both classes differs by exactly 1
    y = np.array([0, 1, 0, 1, 1, 0])
    a = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3])
    result = bootstrap_difference(y, a, 1 - a, n_boot=100, seed=1)
    assert (result["deep"], result["other"], result["difference"]) == (1.0, 0.0, 1.0)
    assert (result["low"], result["high"]) == (1.0, 1.0)
    # (1/2)^6 * 2 = 3% of the resamples miss a class: some are drawn again, each counted once
    assert 0 <= result["redrawn"] < 20


def test_a_bootstrap_that_cannot_find_both_classes_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real resamples keep both classes more often than not (one positive in n rows: 1 - (1 - 1/n)^n >= 63%),
    # so resamples that never hold the positive are forced: every draw takes row 1, a negative.
    def only_row_one(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
        counts = np.zeros((rows, n), dtype=np.int32)
        counts[:, 1] = n
        return counts

    monkeypatch.setattr(compare, "_resample_counts", only_row_one)
    y = np.array([1, 0, 0])
    with pytest.raises(DataError, match=r"^only 0 of 40 resamples of the 3 rows held both classes \(1 positives\)"):
        bootstrap_difference(y, np.array([0.9, 0.1, 0.2]), np.array([0.5, 0.4, 0.3]), n_boot=2)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"n_boot": 1.5}, "n_boot is 1.5"),
        ({"n_boot": True}, "n_boot is True"),
        ({"n_boot": -3}, "n_boot is -3"),
        ({"level": 0}, "level is 0"),
        ({"level": 1}, "level is 1"),
        ({"level": True}, "level is True"),
        ({"level": "0.9"}, "level is '0.9'"),
        ({"metric": "AUC"}, "metric is 'AUC'"),
    ],
)
def test_options_outside_their_range_are_refused(options: dict, pattern: str) -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.8, 0.3, 0.6])
    with pytest.raises(ConfigError, match=pattern):
        bootstrap_difference(y, p, p, **options)


def test_the_smallest_options_are_accepted() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.8, 0.3, 0.6])
    result = bootstrap_difference(y, p, p, n_boot=np.int64(1), level=0.5)
    assert (result["n_boot"], result["difference"], result["low"], result["high"]) == (1, 0.0, 0.0, 0.0)


def _comparison(baseline: str, metric: str, other: float, difference: float, low: float, high: float) -> dict:
    return {
        "baseline": baseline,
        "metric": metric,
        "deep": other + difference,
        "other": other,
        "difference": difference,
        "low": low,
        "high": high,
        "level": 0.9,
        "n_boot": 100,
    }


def test_verdict_compares_with_the_lowest_log_loss_and_says_the_deep_model_is_better() -> None:
    worse = _comparison("logistic regression", "logloss", 0.50, -0.10, -0.14, -0.06)
    best = _comparison("LightGBM", "logloss", 0.45, -0.05, -0.08, -0.02)
    assert verdict_sentence([worse, best]) == (
        "the deep model is better than LightGBM by 0.050 log loss [0.020, 0.080] (90% bootstrap interval)."
    )


def test_verdict_on_log_loss_when_a_baseline_is_better_or_level() -> None:
    better = _comparison("LightGBM", "logloss", 0.40, 0.03, 0.01, 0.05)
    assert verdict_sentence([better]) == (
        "use LightGBM: it is better than the deep model by 0.030 log loss [0.010, 0.050] (90% bootstrap interval)."
    )
    level = _comparison("LightGBM", "logloss", 0.40, 0.01, -0.01, 0.02)
    assert verdict_sentence([level]) == (
        "use LightGBM: the deep model is not better on this data "
        "(log loss difference +0.010 [-0.010, +0.020], 90% bootstrap interval)."
    )


def test_verdict_prefers_auc_comparisons_and_names_an_unnamed_baseline() -> None:
    loss = _comparison("A", "logloss", 0.3, -0.2, -0.3, -0.1)
    auc = _comparison("B", "auc", 0.7, 0.05, 0.02, 0.08)
    del auc["baseline"]
    assert verdict_sentence([loss, auc]) == (
        "the deep model is better than the baseline by 0.050 AUC [0.020, 0.080] (90% bootstrap interval)."
    )
    # an interval that touches 0 is not better
    edge = _comparison("B", "auc", 0.7, 0.05, 0.0, 0.08)
    assert verdict_sentence([edge]).startswith("use B: the deep model is not better on this data")
    edge = _comparison("B", "auc", 0.7, -0.05, -0.08, 0.0)
    assert verdict_sentence([edge]).startswith("use B: the deep model is not better on this data")
    with pytest.raises(ConfigError, match="comparison metric is 'brier'"):
        verdict_sentence([_comparison("B", "brier", 0.7, 0.05, 0.0, 0.08)])
    assert verdict_sentence([]) == "no comparison: no baseline was scored on these rows."


def test_a_comparison_without_a_metric_is_read_as_auc() -> None:
    comparison = _comparison("B", "auc", 0.7, 0.05, 0.02, 0.08)
    del comparison["metric"]
    assert verdict_sentence([comparison]) == (
        "the deep model is better than B by 0.050 AUC [0.020, 0.080] (90% bootstrap interval)."
    )


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((np.array([0, 1]), np.array([0.2])), r"^y_true has 2 rows and p has 1"),
        ((np.array([0, 1]), np.array([0.2, np.inf])), r"^p holds 1 NaN or infinite values"),
        ((np.array([0, 1]), np.array([0.2, 0.4]), np.array([1.0, np.nan])), r"^weights holds 1 NaN"),
        ((np.array([0, 1]), np.array([0.2, 0.4]), np.ones(3)), r"^y_true has 2 rows and weights has 3"),
        ((np.array([0, 1]), np.array([0.2, 0.4]), np.array([1.0, -1.0])), r"^weights holds negative values"),
        ((np.array([0, 1, 1]), np.array([0.2, 0.4, 0.5]), np.array([1.0, 0.0, 0.0])), r"one class only"),
    ],
)
def test_weighted_auc_errors_name_the_argument_at_fault(args: tuple, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        weighted_auc(*args)


def test_resamples_that_lose_a_class_are_skipped_in_the_order_drawn() -> None:
    # One positive in 8 rows: about a third of the resamples miss it. Redo the documented procedure: blocks
    # of n_boot resamples from one Generator(seed) (row positions in a's sorted order), keep those with both
    # classes in the order drawn until n_boot are kept, count the skipped ones up to the last one kept.
    from sklearn.metrics import roc_auc_score

    y = np.array([0, 0, 1, 0, 0, 0, 0, 0])
    a = np.array([0.3, 0.1, 0.8, 0.4, 0.2, 0.6, 0.5, 0.7])
    b = np.array([0.5, 0.2, 0.4, 0.1, 0.9, 0.3, 0.8, 0.6])
    n_boot, seed = 50, 3
    rng = np.random.default_rng(seed)
    order = np.argsort(a, kind="stable")
    kept: list[float] = []
    skipped = 0
    while len(kept) < n_boot:
        for positions in rng.integers(0, 8, size=(n_boot, 8), dtype=np.int32):
            if len(kept) == n_boot:
                break
            rows = order[positions]
            if 0 < y[rows].sum() < 8:
                kept.append(roc_auc_score(y[rows], a[rows]) - roc_auc_score(y[rows], b[rows]))
            else:
                skipped += 1
    result = bootstrap_difference(y, a, b, n_boot=n_boot, seed=seed)
    low, high = np.quantile(kept, [0.025, 0.975])
    assert result["low"] == pytest.approx(low, abs=1e-12) and result["high"] == pytest.approx(high, abs=1e-12)
    assert result["redrawn"] == skipped and skipped > n_boot // 5
    assert (result["deep"], result["other"]) == (1.0, pytest.approx(roc_auc_score(y, b)))


def test_auc_scores_need_not_be_probabilities_and_the_defaults_are_1000_resamples_seed_0() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    logits = np.array([-2.0, 3.5, 0.5, 1.0, -0.5, -1.5, 2.0, 4.0])  # any real numbers rank rows for the AUC
    other = np.linspace(-1, 1, 8)
    default = bootstrap_difference(y, logits, other)
    assert default["n_boot"] == 1000 and default["level"] == 0.95
    assert default == bootstrap_difference(y, logits, other, n_boot=1000, seed=0)
    assert default["deep"] == 0.8125  # 13 of the 16 positive-negative pairs ranked right


def test_weighted_auc_counts_a_tie_at_the_second_lowest_score_as_half() -> None:
    # sorted: 0.1 (negative), then 0.5 twice, a negative and a positive: the positive beats the first negative
    # and ties the other: (1 + 1/2) / 2
    assert weighted_auc(np.array([0, 0, 1]), np.array([0.1, 0.5, 0.5])) == 0.75
    assert weighted_auc(np.array([0, 0, 1]), np.array([0.1, 0.5, 0.5]), np.array([1.0, 3.0, 2.0])) == 0.625


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((np.ones(4), P4, P4), r"^y_true holds only positives \(4 rows\); the AUC needs both classes"),
        ((Y4, np.array([0.1, np.nan, 0.3, 0.4]), P4), r"^p_a holds 1 NaN"),
        ((Y4, P4, np.array([0.1, np.nan, 0.3, 0.4])), r"^p_b holds 1 NaN"),
        ((Y4, P4[:3], P4), r"^y_true has 4 rows and p_a has 3"),
        ((Y4, P4, np.array([0.1, 2.0, 0.3, 0.4]), "logloss"), r"^p_b holds 1 values outside \[0, 1\]"),
    ],
)
def test_bootstrap_errors_name_the_argument_at_fault(args: tuple, pattern: str) -> None:
    y, a, b, *metric = args
    with pytest.raises(DataError, match=pattern):
        bootstrap_difference(y, a, b, metric=metric[0] if metric else "auc", n_boot=10)


@pytest.mark.parametrize("metric", ["auc", "logloss"])
@pytest.mark.parametrize(("chunk_bytes", "block"), [(4 * 10 * 3, 3), (4 * 10 - 1, 1)])
def test_resamples_are_drawn_in_blocks_of_chunk_bytes_of_int32_counts(
    monkeypatch: pytest.MonkeyPatch, metric: str, chunk_bytes: int, block: int
) -> None:
    # 10 rows: a block of k resamples holds 4 * 10 * k bytes of int32 counts. A budget of 120 bytes holds 3
    # resamples; one of 39 bytes holds none, and a block still draws one. The last log-loss block draws only the
    # resamples still missing (10 = 3 + 3 + 3 + 1); the AUC draws whole blocks and keeps the first 10 that hold
    # both classes. The resamples come from one Generator stream, so the blocks do not change the interval.
    rng = np.random.default_rng(5)
    y = np.array([0, 1] * 5)
    a, b = rng.uniform(0.05, 0.95, 10), rng.uniform(0.05, 0.95, 10)
    whole = bootstrap_difference(y, a, b, metric=metric, n_boot=10, seed=2)  # one block of 10 (4 * 10 * 10 bytes)
    blocks: list[tuple[int, int]] = []
    draw = compare._resample_counts

    def spy(generator: np.random.Generator, rows: int, n: int) -> np.ndarray:
        counts = draw(generator, rows, n)
        blocks.append(counts.shape)
        return counts

    monkeypatch.setattr(compare, "_resample_counts", spy)
    monkeypatch.setattr(compare, "CHUNK_BYTES", chunk_bytes)
    blocked = bootstrap_difference(y, a, b, metric=metric, n_boot=10, seed=2)
    sizes = [rows for rows, columns in blocks]
    assert all(columns == 10 for rows, columns in blocks)
    if metric == "logloss":
        assert sizes == ([3, 3, 3, 1] if block == 3 else [1] * 10)
    else:
        assert set(sizes) == {block} and 10 <= sum(sizes) < 10 + block + whole["redrawn"]
    assert blocked["low"] == pytest.approx(whole["low"], abs=1e-12)
    assert blocked["high"] == pytest.approx(whole["high"], abs=1e-12)
    assert blocked["redrawn"] == whole["redrawn"] and blocked["difference"] == whole["difference"]


def test_weighted_auc_of_one_class_raises_without_a_numpy_warning() -> None:
    # the 0/0 of a weighted AUC without positives (or negatives) is caught silently and reported as a DataError,
    # not as a RuntimeWarning "invalid value encountered in divide" beside it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for weights in (np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 1.0])):
            with pytest.raises(DataError, match="one class only"):
                weighted_auc(np.array([0, 1, 1]), np.array([0.2, 0.4, 0.5]), weights)
