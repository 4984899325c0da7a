"""The paired bootstrap of a metric difference, its weighted AUC, and the verdict sentence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from needmap.errors import ConfigError, DataError
from needmap.metrics import bootstrap_difference, compare, verdict_sentence, weighted_auc
from needmap.metrics.compare import _RankedScores


def _better_and_noise(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, scores = truth + small noise (a known-better model), and pure noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    good = np.clip(0.6 * y + 0.2 + rng.normal(0, 0.15, n), 0, 1)
    return y, good, rng.random(n)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_weighted_auc_equals_sklearn_with_sample_weight_and_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    tied = rng.integers(0, 8, 300) / 8  # many ties
    smooth = rng.random(300)
    for weights in (rng.integers(0, 4, 300), rng.random(300) * 3, None):
        for p in (tied, smooth):
            assert weighted_auc(y, p, weights) == pytest.approx(roc_auc_score(y, p, sample_weight=weights), abs=1e-12)


@pytest.mark.parametrize("kind", ["smooth", "rounded", "clipped"])
def test_batched_auc_of_integer_counts_equals_sklearn(kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 200
    y = rng.integers(0, 2, n)
    p = {
        "smooth": rng.random(n),  # no ties
        "rounded": rng.integers(0, 10, n) / 10,  # ties across classes everywhere
        "clipped": np.clip(y + rng.normal(0, 0.25, n), 0, 1),  # ties within one class only
    }[kind]
    counts = rng.multinomial(n, np.full(n, 1 / n), size=5).astype(np.int32)
    ranked = _RankedScores(p, y)
    assert (len(np.unique(p)) < n) is (kind != "smooth")
    assert (len(ranked.tie_columns) > 0) is (kind == "rounded")
    aucs = ranked.auc(counts[:, ranked.order])
    expected = [roc_auc_score(y, p, sample_weight=c) for c in counts]
    np.testing.assert_allclose(aucs, expected, atol=1e-12)


def test_bootstrap_equals_a_plain_resampling_loop_over_sklearn() -> None:
    # The resamples are n uniform draws of row positions (positions in the first model's sorted order),
    # n_boot of them from one generator: redo them by hand and score each with scikit-learn.
    y, a, b = _better_and_noise(300, seed=4)
    b = 0.5 * b + 0.5 * a
    result = bootstrap_difference(y, a, b, n_boot=100, seed=11)
    drawn = np.random.default_rng(11).integers(0, 300, size=(100, 300), dtype=np.int32)
    rows = np.argsort(a, kind="stable")[drawn]
    diffs = [roc_auc_score(y[r], a[r]) - roc_auc_score(y[r], b[r]) for r in rows]
    low, high = np.quantile(diffs, [0.025, 0.975])
    assert result["low"] == pytest.approx(low, abs=1e-12) and result["high"] == pytest.approx(high, abs=1e-12)
    assert result["deep"] == pytest.approx(roc_auc_score(y, a))
    assert result["other"] == pytest.approx(roc_auc_score(y, b))
    assert result["difference"] == pytest.approx(result["deep"] - result["other"])


def test_known_better_model_gets_a_positive_interval_and_the_better_verdict() -> None:
    y, good, noise = _better_and_noise(2000, seed=0)
    result = bootstrap_difference(y, good, noise, n_boot=500)
    assert result["low"] <= result["difference"] <= result["high"]
    assert result["low"] > 0
    assert set(result) >= {"metric", "deep", "other", "difference", "low", "high", "level", "n_boot"}
    assert result["metric"] == "auc" and result["n_boot"] == 500 and result["level"] == 0.95
    sentence = verdict_sentence([{"baseline": "LightGBM", **result}])
    assert sentence == (
        f"the deep model is better than LightGBM by {result['difference']:.3f} AUC "
        f"[{result['low']:.3f}, {result['high']:.3f}] (95% bootstrap interval)."
    )


def test_identical_scores_differ_by_zero_and_are_not_better() -> None:
    y, good, _ = _better_and_noise(1000, seed=1)
    result = bootstrap_difference(y, good, good.copy(), n_boot=300)
    assert result["difference"] == 0.0 and result["low"] == 0.0 and result["high"] == 0.0
    assert verdict_sentence([{"baseline": "logistic regression", **result}]) == (
        "use logistic regression: the deep model is not better on this data "
        "(AUC difference +0.000 [+0.000, +0.000], 95% bootstrap interval)."
    )


def test_interval_contains_the_difference_and_shrinks_with_more_rows() -> None:
    widths = []
    for n in (400, 6400):
        y, good, noise = _better_and_noise(n, seed=2)
        weaker = 0.7 * good + 0.3 * noise
        result = bootstrap_difference(y, weaker, good, n_boot=400, seed=3)
        assert result["low"] <= result["difference"] <= result["high"]
        widths.append(result["high"] - result["low"])
    assert widths[1] < widths[0] / 2  # about 1 / sqrt(16) = 1/4


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    y, good, noise = _better_and_noise(800, seed=3)
    mixed = 0.5 * good + 0.5 * noise
    first = bootstrap_difference(y, good, mixed, n_boot=300, seed=5)
    assert bootstrap_difference(y, good, mixed, n_boot=300, seed=5) == first
    assert bootstrap_difference(y, good, mixed, n_boot=300, seed=6)["low"] != first["low"]


def test_resamples_that_lose_a_class_are_drawn_again() -> None:
    # one positive in 30 rows: about (29/30)^30 = 36% of the resamples miss it
    y = np.zeros(30, dtype=int)
    y[4] = 1
    rng = np.random.default_rng(0)
    result = bootstrap_difference(y, rng.random(30), rng.random(30), n_boot=200)
    assert result["n_boot"] == 200
    assert 40 < result["redrawn"] < 250
    assert -1 <= result["low"] <= result["high"] <= 1


def test_logloss_difference_is_deep_minus_other_and_lower_is_better() -> None:
    rng = np.random.default_rng(8)
    q = rng.uniform(0.05, 0.95, 3000)
    y = (rng.random(3000) < q).astype(int)
    overconfident = 1 / (1 + np.exp(-4 * np.log(q / (1 - q))))
    result = bootstrap_difference(y, q, overconfident, metric="logloss", n_boot=400)
    assert result["deep"] == pytest.approx(log_loss(y, q))
    assert result["other"] == pytest.approx(log_loss(y, overconfident))
    assert result["difference"] == pytest.approx(result["deep"] - result["other"])
    assert result["high"] < 0  # the calibrated scores have the lower loss over the whole interval
    sentence = verdict_sentence([{"baseline": "LightGBM", **result}])
    assert sentence.startswith(f"the deep model is better than LightGBM by {-result['difference']:.3f} log loss [")


def test_thousand_resamples_of_ten_thousand_rows_sort_once_and_score_in_blocks(monkeypatch) -> None:
    """The bootstrap's cost: each model's scores are sorted once (not once per resample) and the
    resamples' AUCs are computed many at a time, in a few array passes; a loop that scores one
    resample at a time (as a loop over roc_auc_score does) takes seconds on 1,000 resamples."""
    built: list[_RankedScores] = []
    scored: list[tuple[int, int]] = []  # (which sorted scores, resamples in the call)

    class Counted(_RankedScores):
        def __init__(self, scores: np.ndarray, labels: np.ndarray) -> None:
            super().__init__(scores, labels)
            built.append(self)

        def auc(self, weights: np.ndarray) -> np.ndarray:
            scored.append((built.index(self), weights.shape[0]))
            return super().auc(weights)

    monkeypatch.setattr(compare, "_RankedScores", Counted)
    y, good, noise = _better_and_noise(10_000, seed=9)
    n_boot = 1000
    result = bootstrap_difference(y, good, 0.5 * good + 0.5 * noise, n_boot=n_boot)
    assert len(built) == 2  # one sort per model
    for model in (0, 1):
        sizes = [size for which, size in scored if which == model]
        assert sum(sizes) == 1 + n_boot  # all rows once, then every resample once
        assert len(sizes) <= 1 + n_boot // 10, len(sizes)  # ten resamples or more per pass
    assert result["low"] <= result["difference"] <= result["high"]


def test_verdict_names_the_baseline_with_the_highest_auc() -> None:
    base = {"metric": "auc", "level": 0.95, "n_boot": 1000}
    lgbm = {
        **base,
        "baseline": "LightGBM",
        "deep": 0.78,
        "other": 0.80,
        "difference": -0.02,
        "low": -0.03,
        "high": -0.01,
    }
    logreg = {**base, "baseline": "logistic regression", "deep": 0.78, "other": 0.70}
    logreg.update(difference=0.08, low=0.06, high=0.1)
    assert verdict_sentence([logreg, lgbm]) == (
        "use LightGBM: it is better than the deep model by 0.020 AUC [0.010, 0.030] (95% bootstrap interval)."
    )
    lgbm.update(difference=0.012, low=0.006, high=0.018, other=0.79)
    logreg.update(other=0.795, difference=0.005, low=-0.004, high=0.014)
    assert verdict_sentence([lgbm, logreg]) == (
        "use logistic regression: the deep model is not better on this data "
        "(AUC difference +0.005 [-0.004, +0.014], 95% bootstrap interval)."
    )
    assert verdict_sentence([]).startswith("no comparison")


def test_bootstrap_rejects_bad_options_and_data() -> None:
    y, good, noise = _better_and_noise(100, seed=0)
    with pytest.raises(ConfigError, match="metric is 'brier'"):
        bootstrap_difference(y, good, noise, metric="brier")
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_difference(y, good, noise, n_boot=0)
    with pytest.raises(ConfigError, match="level"):
        bootstrap_difference(y, good, noise, level=95)
    with pytest.raises(DataError, match="only negatives"):
        bootstrap_difference(np.zeros(100), good, noise)
    with pytest.raises(DataError, match="y_true has 100 rows and p_b has 99"):
        bootstrap_difference(y, good, noise[:99])
    with pytest.raises(DataError, match="p_a holds 1 values outside"):
        bootstrap_difference(y, np.r_[good[:99], 2.0], noise, metric="logloss")
