"""The asymptotic paired interval that bootstrap_difference gives on many rows: DeLong's paired variance of an AUC
difference (against the formula computed pair by pair), the normal interval of a mean log-loss gap, ties,
agreement with the bootstrap it stands in for, and the method each result records."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from needmap.errors import ConfigError, DataError
from needmap.metrics import compare
from needmap.metrics.compare import ASYMPTOTIC_CELLS, bootstrap_difference, interval_name, verdict_sentence
from needmap.metrics.delong import auc_difference_variance, placements
from needmap.workflows.evidence import delong_interval

Z95 = NormalDist().inv_cdf(0.975)


def _two_models(n: int, seed: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (about 25% positive) and two correlated probability scores: they share most of their signal, so
    the paired variance of their AUC difference is far below the sum of their variances."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(np.int64)
    shared = 1.2 * y + rng.normal(0, 1, n)
    a = 1 / (1 + np.exp(-(shared + rng.normal(0, 0.5, n) - 1)))
    b = 1 / (1 + np.exp(-(0.8 * shared + rng.normal(0, 0.7, n) - 1)))
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)  # 11 distinct scores: ties within and across the classes
    return y, a, b


def _delong_by_pairs(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong, DeLong and Clarke-Pearson (1988) by the letter: psi over every positive-negative pair (1 when the
    positive scores higher, 1/2 on a tie), the components V10 (per positive) and V01 (per negative) of each
    model, their 2 x 2 sample covariance matrices S10 and S01, and var(AUC_a - AUC_b) = c'(S10/m + S01/n)c
    for c = (1, -1)."""
    pos, neg = y == 1, y == 0
    v10, v01 = [], []
    for s in (a, b):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    c = np.array([1.0, -1.0])
    return float(c @ (s10 / pos.sum() + s01 / neg.sum()) @ c)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_delong_paired_variance_equals_the_formula_computed_pair_by_pair(ties: bool, seed: int) -> None:
    y, a, b = _two_models(300, seed, ties=ties)
    assert (len(np.unique(a)) < 20) is ties
    by_pairs = _delong_by_pairs(y, a, b)
    assert by_pairs > 0
    assert auc_difference_variance(y == 1, a, b) == pytest.approx(by_pairs, rel=1e-12, abs=1e-12)
    # and the interval bootstrap_difference reports is the AUC difference -/+ z times its root
    result = bootstrap_difference(y, a, b, method="asymptotic")
    half = Z95 * math.sqrt(by_pairs)
    assert result["difference"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert result["low"] == pytest.approx(result["difference"] - half, abs=1e-12)
    assert result["high"] == pytest.approx(result["difference"] + half, abs=1e-12)


def test_placements_count_a_tie_as_half_and_average_to_the_auc() -> None:
    # positives 0.5 and 0.9, negatives 0.1 and 0.5: the positive at 0.5 beats 0.1 and ties 0.5 (1.5 of 2);
    # the negative at 0.5 is beaten by 0.9 and tied by 0.5 (1.5 of 2 positives "above" it -> placement 0.75)
    y = np.array([1, 1, 0, 0])
    s = np.array([0.5, 0.9, 0.1, 0.5])
    v_pos, v_neg = placements(y == 1, s)
    assert v_pos.tolist() == [0.75, 1.0]
    assert v_neg.tolist() == [1.0, 0.75]
    assert v_pos.mean() == roc_auc_score(y, s) == 1 - (1 - v_neg).mean()


def test_against_a_constant_score_the_paired_variance_is_the_single_models_delong_variance() -> None:
    # a constant ranks nothing: every placement is 1/2, so the pairing leaves model a's own DeLong variance
    y, a, _ = _two_models(500, seed=3, ties=True)
    constant = np.full(len(y), 0.5)
    assert auc_difference_variance(y == 1, a, constant) == pytest.approx(delong_interval(y, a)["se"] ** 2, rel=1e-12)
    same = bootstrap_difference(y, a, a.copy(), method="asymptotic")
    assert (same["difference"], same["low"], same["high"]) == (0.0, 0.0, 0.0)  # identical rankings, no variance


def test_log_loss_interval_is_the_normal_interval_of_the_mean_per_row_gap() -> None:
    y, a, b = _two_models(400, seed=4)
    result = bootstrap_difference(y, a, b, metric="logloss", level=0.9, method="asymptotic")
    gap = -(y * np.log(a) + (1 - y) * np.log(1 - a)) + (y * np.log(b) + (1 - y) * np.log(1 - b))
    half = NormalDist().inv_cdf(0.95) * gap.std(ddof=1) / math.sqrt(len(gap))
    assert result["difference"] == pytest.approx(gap.mean(), abs=1e-12)
    assert result["low"] == pytest.approx(gap.mean() - half, abs=1e-12)
    assert result["high"] == pytest.approx(gap.mean() + half, abs=1e-12)
    assert result["method"] == "normal" and result["n_boot"] == 0 and result["level"] == 0.9


@pytest.mark.parametrize(("metric", "method"), [("auc", "delong"), ("logloss", "normal")])
def test_on_many_rows_the_asymptotic_interval_agrees_with_the_bootstrap(metric: str, method: str) -> None:
    """Above ASYMPTOTIC_CELLS the default interval is the asymptotic one; the bootstrap it stands in for, run
    explicitly, must agree. Tolerance: with B resamples the 2.5th percentile has a Monte Carlo standard deviation
    of about sqrt(0.025 * 0.975 / B) / phi(1.96) = 0.085 / sqrt(B / 1000) standard errors of the difference
    (se), and the bootstrap's own small-sample skew adds less than that on 25,000 rows; so each end must lie
    within 0.35 se (4 Monte Carlo deviations at B = 1000) of the other's, and the widths agree to 12%. The
    variance without the pairing (the sum of the two models' variances) is more than half again as wide here,
    which would move each end by more than 0.35 se, as would a slip of a factor (n for n_pos, the quantile)."""
    n, n_boot = 25_000, 1000
    assert n_boot * n > ASYMPTOTIC_CELLS
    y, a, b = _two_models(n, seed=5)
    auto = bootstrap_difference(y, a, b, metric=metric, n_boot=n_boot, seed=1)
    boot = bootstrap_difference(y, a, b, metric=metric, n_boot=n_boot, seed=1, method="bootstrap")
    assert auto["method"] == method and boot["method"] == "bootstrap"
    assert auto["n_boot"] == 0 and boot["n_boot"] == n_boot and auto["redrawn"] == 0
    assert (auto["deep"], auto["other"], auto["difference"]) == (boot["deep"], boot["other"], boot["difference"])
    se = (auto["high"] - auto["low"]) / (2 * Z95)
    assert abs(auto["low"] - boot["low"]) < 0.35 * se, (auto, boot)
    assert abs(auto["high"] - boot["high"]) < 0.35 * se, (auto, boot)
    assert (boot["high"] - boot["low"]) / (auto["high"] - auto["low"]) == pytest.approx(1.0, abs=0.12)
    if metric == "auc":  # the pairing matters: without it the interval would be far wider
        pos = y == 1
        unpaired = sum(np.var(v, ddof=1) / len(v) for s in (a, b) for v in placements(pos, s))
        assert math.sqrt(unpaired) > 1.5 * se


def test_the_size_decides_the_method_at_asymptotic_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare, "ASYMPTOTIC_CELLS", 100 * 60)
    y, a, b = _two_models(61, seed=6)
    at = bootstrap_difference(y[:60], a[:60], b[:60], n_boot=100)
    above = bootstrap_difference(y, a, b, n_boot=100)
    assert at["method"] == "bootstrap" and at["n_boot"] == 100
    assert above["method"] == "delong" and above["n_boot"] == 0 and above["redrawn"] == 0

    def no_resampling(*args: object) -> np.ndarray:
        raise AssertionError("the asymptotic interval draws no resample")

    monkeypatch.setattr(compare, "_resample_counts", no_resampling)
    assert bootstrap_difference(y, a, b, n_boot=100) == above
    assert bootstrap_difference(y, a, b, metric="logloss", n_boot=100)["method"] == "normal"
    with pytest.raises(AssertionError, match="draws no resample"):
        bootstrap_difference(y, a, b, n_boot=100, method="bootstrap")


def test_a_class_of_one_row_keeps_the_bootstrap_and_the_asymptotic_interval_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compare, "ASYMPTOTIC_CELLS", 10)
    y = np.zeros(40, dtype=np.int64)
    y[3] = 1  # DeLong's sample variance of the positives needs two of them
    rng = np.random.default_rng(7)
    a, b = rng.random(40), rng.random(40)
    assert bootstrap_difference(y, a, b, n_boot=50)["method"] == "bootstrap"
    with pytest.raises(DataError, match=r"^the asymptotic interval needs 2 rows or more of each class"):
        bootstrap_difference(y, a, b, n_boot=50, method="asymptotic")
    with pytest.raises(ConfigError, match=r"^method is 'delong'; expected one of \['auto', 'bootstrap'"):
        bootstrap_difference(y, a, b, method="delong")


def test_the_verdict_names_the_interval_that_was_made() -> None:
    y, a, b = _two_models(2000, seed=8)
    noise = np.random.default_rng(8).random(2000)
    result = bootstrap_difference(y, a, noise, method="asymptotic")
    assert result["method"] == "delong" and interval_name(result) == "DeLong"
    assert verdict_sentence([{"baseline": "LightGBM", **result}]) == (
        f"the deep model is better than LightGBM by {result['difference']:.3f} AUC "
        f"[{result['low']:.3f}, {result['high']:.3f}] (95% DeLong interval)."
    )
    loss = bootstrap_difference(y, a, b, metric="logloss", method="asymptotic")
    assert verdict_sentence([{"baseline": "B", **loss}]).endswith("95% normal interval).")
    old = {k: v for k, v in result.items() if k != "method"}  # a comparison saved before "method" existed
    assert interval_name(old) == "bootstrap" and verdict_sentence([old]).endswith("(95% bootstrap interval).")
