"""Uplift metrics: hand-computed cases, parity with scikit-uplift and causalml, bad input, and sanity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklift.metrics as sk
import sklift.metrics.metrics as sk_module
from causalml.metrics import auuc_score, qini_score

from needmap.errors import ConfigError, DataError
from needmap.metrics.uplift import (
    incremental_at_k,
    pehe,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
)
from needmap.metrics.uplift_causalml import causalml_auuc_score, causalml_qini_score

# Six rows, already ranked by a score with no ties (T = treated, C = control):
#   row        0    1    2    3    4    5
#   group      T    T    C    C    T    C
#   outcome    1    0    1    0    1    0
# Top x rows: n_treated, n_control, treated sum, control sum
#   x=1: 1 0 1 0   x=2: 2 0 1 0   x=3: 2 1 1 1   x=4: 2 2 1 1   x=5: 3 2 2 1   x=6: 3 3 2 1
Y6 = np.array([1, 0, 1, 0, 1, 0])
T6 = np.array([1, 1, 0, 0, 1, 0])
U6 = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])


def test_qini_curve_by_hand() -> None:
    # Qini = treated sum - control sum * n_treated / n_control (control term 0 while n_control = 0):
    # x=1: 1 - 0 = 1; x=2: 1; x=3: 1 - 1 * 2/1 = -1; x=4: 1 - 1 * 2/2 = 0; x=5: 2 - 1 * 3/2 = 0.5;
    # x=6: 2 - 1 * 3/3 = 1.
    x, y = qini_curve(Y6, T6, U6)
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(y, [0, 1, 1, -1, 0, 0.5, 1], rtol=1e-12)


def test_uplift_curve_by_hand() -> None:
    # (treated mean - control mean) * x, a mean of 0 for a group with no row yet:
    # x=1: (1 - 0) * 1 = 1; x=2: (1/2 - 0) * 2 = 1; x=3: (1/2 - 1) * 3 = -1.5; x=4: (1/2 - 1/2) * 4 = 0;
    # x=5: (2/3 - 1/2) * 5 = 5/6; x=6: (2/3 - 1/3) * 6 = 2.
    x, y = uplift_curve(Y6, T6, U6)
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(y, [0, 1, 1, -1.5, 0, 5 / 6, 2], rtol=1e-12)


def test_tied_scores_enter_the_curves_together_in_any_input_order() -> None:
    # Rows 0-1 and rows 2-3 tie: points at x = 2, 4, 5, 6 only, the values of the untied case there.
    tied = np.array([0.9, 0.9, 0.7, 0.7, 0.5, 0.4])
    shuffle = np.array([3, 0, 5, 2, 1, 4])
    for order in (np.arange(6), shuffle):
        x, y = qini_curve(Y6[order], T6[order], tied[order])
        np.testing.assert_array_equal(x, [0, 2, 4, 5, 6])
        np.testing.assert_allclose(y, [0, 1, 0, 0.5, 1], rtol=1e-12)


def test_qini_auc_score_by_hand() -> None:
    # Model: trapezoids of the Qini curve above, 0.5 + 1 + 0 - 0.5 + 0.25 + 0.75 = 2; random line
    # (0, 0) -> (6, 1): 3. Perfect (negative_effect): scores y*t - y*(1-t) = 1 0 -1 0 1 0 put rows 0, 4
    # first (x=2: Qini 2), then rows 1, 3, 5 (x=5: 2 - 0 = 2), then row 2 (x=6: 2 - 1 * 3/3 = 1); area
    # 2 + 6 + 1.5 = 9.5. Coefficient (2 - 3) / (9.5 - 3) = -2/13.
    np.testing.assert_array_equal(perfect_qini_curve(Y6, T6)[0], [0, 2, 5, 6])
    np.testing.assert_allclose(perfect_qini_curve(Y6, T6)[1], [0, 2, 2, 1], rtol=1e-12)
    assert qini_auc_score(Y6, T6, U6) == pytest.approx(-2 / 13, rel=1e-12)
    assert qini_auc_score(Y6, T6, Y6 * T6 - Y6 * (1 - T6)) == pytest.approx(1.0, rel=1e-12)


def test_uplift_at_k_by_hand() -> None:
    # overall, top 3 (k=0.5 of 6): treated rows 0, 1 (mean 1/2), control row 2 (mean 1): -0.5.
    assert uplift_at_k(Y6, T6, U6, k=0.5) == pytest.approx(-0.5)
    # top 4 rows (k=4): 1/2 - 1/2 = 0; all rows (k=1.0): 2/3 - 1/3.
    assert uplift_at_k(Y6, T6, U6, k=4) == pytest.approx(0.0)
    assert uplift_at_k(Y6, T6, U6, k=1.0) == pytest.approx(1 / 3)
    # by_group, k=0.7: floor(0.7 * 3) = 2 rows of each group, treated rows 0, 1 (1/2) and control
    # rows 2, 3 (1/2): 0. Reversed scores, k=1 row of each group: treated row 4 (1) - control row 5 (0) = 1.
    assert uplift_at_k(Y6, T6, U6, k=0.7, strategy="by_group") == pytest.approx(0.0)
    assert uplift_at_k(Y6, T6, 1 - U6, k=1, strategy="by_group") == pytest.approx(1.0)


def test_uplift_at_k_ranks_the_later_of_tied_rows_first_as_scikit_uplift() -> None:
    # All four scores tie; scikit-uplift ranks them 3, 2, 1, 0, so the top 2 are row 3 (control,
    # outcome 1) and row 2 (treated, outcome 0): 0 - 1 = -1 (rows 0, 1 first would give +1).
    y, t, u = np.array([1, 0, 0, 1]), np.array([1, 0, 1, 0]), np.full(4, 0.5)
    assert uplift_at_k(y, t, u, k=2) == -1.0
    assert sk.uplift_at_k(y, u, t, strategy="overall", k=2) == -1.0


def test_top_share_counts_rows_after_rounding() -> None:
    # 0.29 * 100 = 28.999999999999996: 29 rows, where scikit-uplift's int() counts 28. Rows ranked in
    # input order, treated and control alternate, only row 28 (treated) converts: the top 29 rows hold
    # 15 treated with 1 conversion and 14 control with none, uplift 1/15 (the top 28 would give 0).
    y = np.zeros(100)
    y[28] = 1
    t = np.tile([1, 0], 50)
    u = -np.arange(100.0)
    assert uplift_at_k(y, t, u, k=0.29) == pytest.approx(1 / 15)
    assert incremental_at_k(y, t, u, k=0.29) == pytest.approx(29 / 15)
    assert uplift_at_k(y, t, u, k=0.29) == uplift_at_k(y, t, u, k=29)


def test_incremental_at_k_by_hand() -> None:
    # Revenue: top 4 rows, treated rows 0, 1 spend 30, 0 (mean 15), control rows 2, 3 spend 10, 0
    # (mean 5): (15 - 5) * 4 = 40. All rows: (50/3 - 10/3) * 6 = 80.
    spend = np.array([30.0, 0, 10, 0, 20, 0])
    assert incremental_at_k(spend, T6, U6, k=4) == pytest.approx(40.0)
    assert incremental_at_k(spend, T6, U6, k=1.0) == pytest.approx(80.0)
    # Conversions, top half: (1/2 - 1) * 3 = -1.5 (the top of this ranking converts the control).
    assert incremental_at_k(Y6, T6, U6, k=0.5) == pytest.approx(-1.5)


def test_uplift_by_percentile_by_hand() -> None:
    # 4 bins of 6 rows: 2, 2, 1, 1 rows. Bin 0 = rows 0, 1 (T1, T0), bin 1 = rows 2, 3 (C1, C0),
    # bin 2 = row 4 (T1), bin 3 = row 5 (C0).
    table = uplift_by_percentile(Y6, T6, U6, bins=4)
    np.testing.assert_array_equal(table["n_treatment"], [2, 0, 1, 0])
    np.testing.assert_array_equal(table["n_control"], [0, 2, 0, 1])
    np.testing.assert_array_equal(table["response_rate_treatment"], [0.5, np.nan, 1, np.nan])
    np.testing.assert_array_equal(table["response_rate_control"], [np.nan, 0.5, np.nan, 0])
    assert np.isnan(table["uplift"]).all()


def test_pehe_by_hand() -> None:
    # errors 0, 1, -1, 2: sqrt((0 + 1 + 1 + 4) / 4) = sqrt(1.5)
    assert pehe(np.array([0.0, 1, -1, 2]), np.zeros(4)) == pytest.approx(np.sqrt(1.5))
    assert pehe(np.array([0.1, 0.2]), np.array([0.1, 0.2])) == 0.0


# --- parity with scikit-uplift and causalml ---------------------------------------------------------


def _trial(seed: int, amount: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A randomized test: unequal arms (about 35% treated), a lift that grows with x, scores with ties."""
    rng = np.random.default_rng(seed)
    n = 400 + 37 * seed
    t = (rng.random(n) < 0.35).astype(int)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(1 - (0.4 + 0.8 * x) * t))).astype(int)
    outcome = y * rng.gamma(2.0, 30.0, n).round(2) if amount else y
    return outcome, t, np.round(0.5 * x + rng.normal(scale=0.5, size=n), 1)


@pytest.fixture
def amounts_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """scikit-uplift's formulas hold for amounts, but it rejects a non-binary outcome up front: turn
    that check off to compare on revenue."""
    monkeypatch.setattr(sk_module, "check_is_binary", lambda array: None)


CASES = [(seed, amount) for seed in range(3) for amount in (False, True)]


@pytest.mark.parametrize(("seed", "amount"), CASES)
def test_curves_and_scores_match_scikit_uplift(seed: int, amount: bool, amounts_allowed: None) -> None:
    y, t, u = _trial(seed, amount)
    for ours, theirs in ((qini_curve, sk.qini_curve), (uplift_curve, sk.uplift_curve)):
        x, values = ours(y, t, u)
        x_ref, values_ref = theirs(y, u, t)
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_allclose(values, values_ref, rtol=1e-9)
    np.testing.assert_allclose(qini_auc_score(y, t, u), sk.qini_auc_score(y, u, t), rtol=1e-9)
    if not amount:
        np.testing.assert_allclose(
            qini_auc_score(y, t, u, negative_effect=False), sk.qini_auc_score(y, u, t, negative_effect=False), rtol=1e-9
        )
        np.testing.assert_allclose(uplift_auc_score(y, t, u), sk.uplift_auc_score(y, u, t), rtol=1e-9)
        for ours, theirs in zip(perfect_uplift_curve(y, t), sk.perfect_uplift_curve(y, t), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9)


@pytest.mark.parametrize(("seed", "amount"), CASES)
def test_uplift_at_k_and_by_percentile_match_scikit_uplift(seed: int, amount: bool, amounts_allowed: None) -> None:
    y, t, u = _trial(seed, amount)
    for strategy in ("overall", "by_group"):
        for k in (0.1, 0.3, 0.5, 25):
            expected = sk.uplift_at_k(y, u, t, strategy=strategy, k=k)
            np.testing.assert_allclose(uplift_at_k(y, t, u, k=k, strategy=strategy), expected, rtol=1e-9)
    for bins in (5, 10):
        table = uplift_by_percentile(y, t, u, bins=bins)
        reference = sk.uplift_by_percentile(y, u, t, strategy="overall", bins=bins)
        for column, values in table.items():
            np.testing.assert_allclose(values, reference[column].to_numpy(), rtol=1e-9, err_msg=column)


@pytest.mark.parametrize(("seed", "amount"), [*CASES, (7, False)])
@pytest.mark.parametrize("normalize", [True, False])
def test_causalml_scores_match_causalml(seed: int, amount: bool, normalize: bool) -> None:
    y, t, u = _trial(seed, amount)
    if seed == 7:  # five score values over 1000+ rows: causalml's (unstable) order of tied rows counts
        u = np.random.default_rng(seed).integers(0, 5, len(y)).astype(np.float64)
    frame = pd.DataFrame({"y": y, "w": t, "model": u})
    np.testing.assert_allclose(
        causalml_qini_score(y, t, u, normalize=normalize), qini_score(frame, normalize=normalize)["model"], rtol=1e-9
    )
    np.testing.assert_allclose(
        causalml_auuc_score(y, t, u, normalize=normalize), auuc_score(frame, normalize=normalize)["model"], rtol=1e-9
    )


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "treatment", "uplift", "message"),
    [
        (Y6[:5], T6, U6, "outcome has 5 rows and treatment has 6"),
        (Y6, T6, U6[:4], "outcome has 6 rows and uplift has 4"),
        (np.r_[np.nan, Y6[1:]], T6, U6, "outcome holds 1 NaN"),
        (Y6, T6, np.r_[U6[:5], np.nan], "uplift holds 1 NaN"),
        (Y6, np.array([1, 2, 0, 0, 1, 0]), U6, r"treatment holds 1 values other than 0 and 1 \(first: 2.0\)"),
        (Y6, np.ones(6), U6, r"treatment has no control row \(all 6 rows are treated\)"),
        (Y6, np.zeros(6), U6, "treatment has no treated row"),
        (np.array([]), np.array([]), np.array([]), "outcome is empty"),
    ],
)
def test_bad_arrays_raise_a_clear_data_error(
    outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, message: str
) -> None:
    for metric in (qini_curve, uplift_curve, qini_auc_score, uplift_at_k, causalml_qini_score, uplift_by_percentile):
        with pytest.raises(DataError, match=message):
            metric(outcome, treatment, uplift)


def test_bad_options_raise_a_clear_config_error() -> None:
    for k in (0, 0.0, 1.5, 7, -0.1, "0.3", True):
        with pytest.raises(ConfigError, match="k is"):
            uplift_at_k(Y6, T6, U6, k=k)
    with pytest.raises(ConfigError, match=r"k is 0\.1, which selects no row of 6"):
        incremental_at_k(Y6, T6, U6, k=0.1)
    with pytest.raises(ConfigError, match=r"treated group \(3 rows\): k is 4"):
        uplift_at_k(Y6, T6, U6, k=4, strategy="by_group")
    with pytest.raises(ConfigError, match="strategy is 'best'; expected one of overall, by_group"):
        uplift_at_k(Y6, T6, U6, strategy="best")
    for bins in (0, 7, 2.5):
        with pytest.raises(ConfigError, match="bins is"):
            uplift_by_percentile(Y6, T6, U6, bins=bins)
    with pytest.raises(ConfigError, match="negative_effect is 'yes'"):
        qini_auc_score(Y6, T6, U6, negative_effect="yes")
    with pytest.raises(ConfigError, match="normalize is 1"):
        causalml_auuc_score(Y6, T6, U6, normalize=1)


def test_undefined_values_are_refused_or_nan() -> None:
    # The top 2 rows are both treated: no control mean to compare with.
    with pytest.raises(DataError, match="the top 2 rows by uplift hold no control row"):
        uplift_at_k(Y6, T6, U6, k=2)
    spend = np.array([30.0, 0, 10, 0, 20, 0])
    with pytest.raises(DataError, match=r"outcome holds 3 values other than 0 and 1 \(first: 30.0\)"):
        uplift_auc_score(spend, T6, U6)
    with pytest.raises(DataError, match="treated convert less than the control"):
        perfect_qini_curve(1 - T6, T6, negative_effect=False)
    with pytest.raises(DataError, match="true_effect has 3 rows and predicted_effect has 2"):
        pehe(np.zeros(3), np.zeros(2))
    # Nobody converts: the perfect curve has no area above random and no total to normalize by.
    nothing = np.zeros(6)
    assert np.isnan(qini_auc_score(nothing, T6, U6))
    assert np.isnan(causalml_qini_score(nothing, T6, U6))
    assert causalml_qini_score(nothing, T6, U6, normalize=False) == 0.0


# --- sanity ------------------------------------------------------------------------------------------


def test_ranking_by_the_true_effect_beats_a_random_ranking() -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    t = (rng.random(n) < 0.5).astype(int)
    effect = rng.uniform(-0.1, 0.3, n)  # the true lift of each customer
    y = (rng.random(n) < 0.2 + effect * t).astype(int)
    noise = rng.random(n)
    # Every score of the true ranking is well above the random one's (about 0, or 0.5 for causalml's AUUC).
    assert qini_auc_score(y, t, effect) > 0.1 > 0.05 > abs(qini_auc_score(y, t, noise))
    assert uplift_auc_score(y, t, effect) > 0.08 > 0.05 > abs(uplift_auc_score(y, t, noise))
    assert causalml_qini_score(y, t, effect) > 0.25 > 0.1 > abs(causalml_qini_score(y, t, noise))
    assert causalml_auuc_score(y, t, effect) > causalml_auuc_score(y, t, noise) + 0.2
    assert uplift_at_k(y, t, effect, k=0.2) > uplift_at_k(y, t, noise, k=0.2) + 0.08
    assert incremental_at_k(y, t, effect, k=0.5) > incremental_at_k(y, t, noise, k=0.5) + 500
    assert pehe(effect, effect) == 0.0 < pehe(effect, noise)
