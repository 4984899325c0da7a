"""What the held-out rows can tell (needmap.workflows.evidence): the intervals against independent references
(hand formulas, scikit-learn, scipy, a bootstrap written here), and the notes of the three cases that misled
users (issue 20) on generated rows: a rare target, labels independent of the scores, spend no model predicts."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import norm, rankdata
from sklearn.metrics import roc_auc_score

from needmap.workflows import evidence as evidence_module
from needmap.workflows.evidence import (
    FEW_RARER,
    MAX_HALF_WIDTH,
    auc_half_width,
    binary_signal,
    class_evidence,
    delong_interval,
    evidence_notes,
    held_out_evidence,
    r2_intervals,
    record_evidence,
    regression_signal,
)

Z = norm.ppf(0.975)


def hanley_mcneil(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982), equation (2), written out again."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    return math.sqrt((auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg))


def test_auc_half_width_is_hanley_mcneil() -> None:
    for auc, n_pos, n_neg in [(0.5, 44, 4856), (0.75, 100, 900), (0.9, 12, 30)]:
        assert auc_half_width(n_pos, n_neg, auc) == pytest.approx(Z * hanley_mcneil(auc, n_pos, n_neg), rel=1e-12)
    # at 0.5: the null variance of the Mann-Whitney U statistic, (m + n + 1) / (12 m n)
    assert auc_half_width(44, 4856) == pytest.approx(Z * math.sqrt(4901 / (12 * 44 * 4856)), rel=1e-12)
    assert auc_half_width(0, 10) is None and auc_half_width(10, 0) is None


def test_the_few_threshold_is_where_the_half_width_passes_its_limit() -> None:
    plenty = 10**9
    assert auc_half_width(FEW_RARER - 1, plenty) > MAX_HALF_WIDTH >= auc_half_width(FEW_RARER, plenty)
    assert FEW_RARER == math.ceil(Z**2 / (12 * MAX_HALF_WIDTH**2)) == 129


def placement_auc(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong standard error from every positive-negative pair (O(m n), ties 1/2)."""
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v_pos, v_neg = wins.mean(axis=1), wins.mean(axis=0)
    return float(wins.mean()), math.sqrt(v_pos.var(ddof=1) / len(pos) + v_neg.var(ddof=1) / len(neg))


def test_delong_interval_against_pairs_sklearn_and_a_bootstrap() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(600) < 0.1).astype(int)
    s = np.round(rng.normal(size=600) + 0.8 * y, 1)  # rounded: ties
    found = delong_interval(y, s)
    auc, se = placement_auc(y, s)
    assert found["auc"] == pytest.approx(roc_auc_score(y, s), rel=1e-12) == auc
    assert found["se"] == pytest.approx(se, rel=1e-9)
    assert (found["low"], found["high"]) == pytest.approx((auc - Z * se, auc + Z * se), rel=1e-9)
    boot = []  # the Mann-Whitney AUC of each resample from scipy's mid-ranks
    for _ in range(2000):
        rows = rng.integers(0, 600, 600)
        m = y[rows].sum()
        if 0 < m < 600:
            boot.append((rankdata(s[rows])[y[rows] == 1].sum() - m * (m + 1) / 2) / (m * (600 - m)))
    assert found["se"] == pytest.approx(np.std(boot), rel=0.1)
    assert delong_interval(np.array([1, 0, 0]), np.array([0.3, 0.1, 0.2]))["se"] is None
    assert delong_interval(np.zeros(5), np.arange(5.0))["auc"] is None


def test_r2_against_the_training_mean_and_its_paired_bootstrap() -> None:
    rng = np.random.default_rng(4)
    y = rng.lognormal(3.0, 1.0, 800)
    good, bad = y + rng.normal(0, 15, 800), np.full(800, 35.0) + rng.normal(0, 1, 800)
    mean = 30.0  # the training rows' mean: not the test rows'
    found = r2_intervals(y, {"good": good, "bad": bad}, mean, n_boot=2000, seed=0)
    reference = {}
    for name, p in {"good": good, "bad": bad}.items():
        r2 = 1 - np.sum((y - p) ** 2) / np.sum((y - mean) ** 2)
        draws = [rng.integers(0, 800, 800) for _ in range(3000)]
        values = [1 - np.sum((y[r] - p[r]) ** 2) / np.sum((y[r] - mean) ** 2) for r in draws]
        reference[name] = (r2, *np.quantile(values, [0.025, 0.975]))
    for name, (r2, low, high) in reference.items():
        assert found[name]["r2"] == pytest.approx(r2, rel=1e-12)
        width = high - low  # two bootstraps of different draws: their quantiles agree to a few % of the width
        assert found[name]["low"] == pytest.approx(low, abs=0.06 * width)
        assert found[name]["high"] == pytest.approx(high, abs=0.06 * width)
    assert found["good"]["low"] > 0 and found["bad"]["high"] < 0.1
    assert r2_intervals(np.full(5, 2.0), {"m": np.arange(5.0)}, 2.0)["m"] == {"r2": None, "low": None, "high": None}


def test_class_counts_of_binary_and_multiclass_labels() -> None:
    y = np.r_[np.ones(44), np.zeros(4856)]
    found = class_evidence("binary", y)
    assert found == {
        "task": "binary",
        "rows": 4900,
        "positives": 44,
        "negatives": 4856,
        "base_rate": pytest.approx(44 / 4900),
        "half_width": pytest.approx(Z * hanley_mcneil(0.5, 44, 4856)),
        "few": True,
    }
    assert class_evidence("binary", np.r_[np.ones(400), np.zeros(4500)])["few"] is False
    multi = class_evidence("multiclass", np.r_[np.zeros(500), np.ones(30), np.full(400, 2)], ["a", "b", "c"])
    assert multi["counts"] == {"a": 500, "b": 30, "c": 400} and multi["rarest"] == "b" and multi["few"]
    assert multi["half_width"] == pytest.approx(Z * hanley_mcneil(0.5, 30, 900))


def rare_case(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Test rows of a rare target (44 positives in 4,900) and three models' weak scores."""
    rng = np.random.default_rng(seed)
    y = np.zeros(4900)
    y[rng.choice(4900, 44, replace=False)] = 1
    scores = {name: rng.normal(size=4900) + 0.1 * y for name in ("mlp network", "logistic regression", "LightGBM")}
    return y, scores


def test_a_rare_target_warns_that_its_test_rows_decide_nothing() -> None:
    y, scores = rare_case()
    evidence = held_out_evidence("binary", y, scores)
    json.dumps(evidence, allow_nan=False)  # JSON-safe
    width = Z * hanley_mcneil(0.5, 44, 4856)
    notes = evidence_notes("y", evidence)
    assert notes[0] == (
        f"target 'y': the test rows hold 44 positives (and 4,856 negatives): an AUC is known only to ±{width:.2f} "
        "(95%) on so few; a gap between two models' AUCs smaller than that decides nothing, and a model picked on "
        "it may rank otherwise on fresh rows."
    )
    assert f"±{width:.2f}" == "±0.09"
    for name, s in scores.items():
        auc, se = placement_auc(y, s)
        assert evidence["models"][name]["auc"] == pytest.approx(roc_auc_score(y, s))
        assert evidence["models"][name]["signal"] is bool(auc - Z * se > 0.5)


def test_labels_independent_of_the_scores_say_no_model_beats_the_base_rate() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.2).astype(float)
    scores = {"mlp network": rng.normal(size=3000), "LightGBM": rng.normal(size=3000)}
    evidence = held_out_evidence("binary", y, scores)
    assert evidence["few"] is False and evidence["signal"] is False
    figures = []
    for name, s in scores.items():
        auc, se = placement_auc(y, s)
        assert auc - Z * se <= 0.5 <= auc + Z * se
        figures.append(f"{name} {auc:.3f} [{auc - Z * se:.3f}, {auc + Z * se:.3f}]")
    assert evidence_notes("y", evidence) == [
        f"target 'y': no model predicts better than the base rate ({y.mean():.2%}) on the test rows: no model's 95% "
        f"interval of its AUC lies above 0.5 ({'; '.join(figures)}). Whichever model the verdict names, these rows "
        "do not show it doing better than that constant."
    ]
    # one model with signal: the note names only the other
    scores["LightGBM"] = rng.normal(size=3000) + 0.5 * y
    evidence = held_out_evidence("binary", y, scores)
    assert evidence["signal"] is True
    (note,) = evidence_notes("y", evidence)
    assert note.startswith("target 'y': the mlp network does not predict better than the base rate")
    assert "LightGBM" not in note


def test_spend_no_model_predicts_says_so_against_the_training_mean() -> None:
    rng = np.random.default_rng(2)
    y = np.round(rng.lognormal(3.0, 1.2, 3000), 2)
    train_mean = float(np.round(rng.lognormal(3.0, 1.2, 12000), 2).mean())
    predictions = {"mlp network": train_mean + rng.normal(0, 2, 3000), "LightGBM": rng.normal(train_mean, 3, 3000)}
    evidence = held_out_evidence("regression", y, predictions, train_mean=train_mean, n_boot=500, seed=0)
    json.dumps(evidence, allow_nan=False)
    assert evidence["signal"] is False and evidence["trivial"] == {"mean": train_mean, "r2": 0.0}
    (note,) = evidence_notes("spend", evidence)
    assert note.startswith(
        f"target 'spend': no model predicts better than the mean of the training rows ({train_mean:.4g}) on the "
        "test rows: no model's 95% interval of its R² against it lies above 0 (mlp network "
    )
    r2 = 1 - np.sum((y - predictions["mlp network"]) ** 2) / np.sum((y - train_mean) ** 2)
    assert f"mlp network {r2:.3f} [" in note


def test_few_regression_rows_warn_with_the_r2_interval() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=120)
    y = 10 + 3 * x + rng.normal(0, 3, 120)
    evidence = held_out_evidence("regression", y, {"mlp network": 10 + 3 * x}, train_mean=10.0, n_boot=500)
    assert evidence["signal"] is True and evidence["few"] is True
    model = evidence["models"]["mlp network"]
    width = (model["high"] - model["low"]) / 2
    assert evidence["half_width"] == pytest.approx(width) and width > MAX_HALF_WIDTH
    assert evidence_notes("y", evidence) == [
        f"target 'y': the 120 test rows give an R² only to ±{width:.2f} (95%, paired bootstrap of the squared "
        "errors); gaps between models smaller than that decide nothing."
    ]


def test_few_validation_rows_and_a_rare_class_of_several() -> None:
    y, scores = rare_case()
    evidence = held_out_evidence("binary", y, scores)
    evidence["validation"] = class_evidence("binary", np.r_[np.ones(17), np.zeros(1943)])
    notes = evidence_notes("y", evidence)
    width = Z * hanley_mcneil(0.5, 17, 1943)
    assert notes[1] == (
        f"target 'y': the validation rows hold 17 positives (and 1,943 negatives): an AUC is known only to "
        f"±{width:.2f} (95%) on so few, and early stopping (and the calibrator, with --calibrate) rests on them; "
        "the epoch kept may be chance."
    )
    multi = held_out_evidence(
        "multiclass", np.r_[np.zeros(500), np.ones(30), np.full(400, 2)], {}, classes=["a", "b", "c"]
    )
    (note,) = evidence_notes("plan", multi)
    assert note.startswith("target 'plan': the test rows hold 30 rows of the class 'b' (of 930): its one-vs-rest AUC")
    assert f"±{Z * hanley_mcneil(0.5, 30, 900):.2f}" in note


def test_plenty_of_rows_and_signal_give_no_note() -> None:
    rng = np.random.default_rng(6)
    y = (rng.random(5000) < 0.3).astype(float)
    evidence = held_out_evidence("binary", y, {"mlp network": rng.normal(size=5000) + y})
    assert evidence["few"] is False and evidence["signal"] is True and evidence_notes("y", evidence) == []


def test_figures_near_zero_print_without_a_minus_sign() -> None:
    evidence = {
        "task": "regression",
        "trivial": {"mean": 40.0, "r2": 0.0},
        "models": {"LightGBM": {"r2": -0.0004, "low": -0.0021, "high": -0.0001, "signal": False}},
    }
    (note,) = evidence_notes("spend", evidence)
    assert "(LightGBM 0.000 [-0.002, 0.000])" in note


class _Head:
    def __init__(self, name: str, task: str, classes: list[str] | None = None) -> None:
        self.name, self.task, self.classes = name, task, classes


class _Targets:
    """A preprocessor whose encoded targets are the table's target columns as floats (a missing value: NaN)."""

    def __init__(self, heads: list[_Head]) -> None:
        self.heads = heads

    def encode_target(self, table: pa.Table) -> np.ndarray:
        columns = [np.array(table.column(h.name).to_pylist(), dtype=np.float64) for h in self.heads]
        return np.column_stack(columns) if len(columns) > 1 else columns[0]


class _Fitted:
    """What record_evidence reads of a fitted model: its schema's heads, its fit rows and its target encoder."""

    def __init__(self, heads: list[_Head], validation: list[int] | None) -> None:
        self.schema_ = SimpleNamespace(heads=heads)
        self.fit_rows_ = None if validation is None else {"train": [0], "validation": validation}
        self.preprocessor_ = _Targets(heads)


def test_record_evidence_adds_the_counts_of_the_validation_rows_and_returns_every_note() -> None:
    # 40 training rows; the validation rows are 10..39: 3 positives of y there (row 5's is not one of them),
    # the plan classes 20, 2 and 8 times, one y missing (row 12: left out of y's counts, kept in plan's)
    y = [0.0] * 40
    for row in (5, 11, 20, 33):
        y[row] = 1.0
    y[12] = None
    plan = [0] * 20 + [1, 1] + [2] * 18
    table = pa.table({"y": y, "plan": plan, "spend": np.linspace(0, 1, 40)})
    heads = [_Head("y", "binary"), _Head("plan", "multiclass", ["a", "b", "c"]), _Head("spend", "regression")]
    evidence = {
        "y": class_evidence("binary", np.r_[np.ones(200), np.zeros(800)]),
        "plan": class_evidence("multiclass", np.r_[np.zeros(300), np.ones(300), np.full(300, 2)], ["a", "b", "c"]),
        "spend": {"task": "regression", "rows": 10},
    }
    metrics = {"evidence": evidence}
    notes = record_evidence(_Fitted(heads, list(range(10, 40))), table, metrics)
    assert evidence["y"]["validation"] == class_evidence("binary", np.r_[np.ones(3), np.zeros(26)])
    assert (evidence["y"]["validation"]["positives"], evidence["y"]["validation"]["negatives"]) == (3, 26)
    assert evidence["plan"]["validation"]["counts"] == {"a": 10, "b": 2, "c": 18}
    assert evidence["plan"]["validation"]["rarest"] == "b"
    assert "validation" not in evidence["spend"]  # a regression target's validation rows are not judged
    assert notes == [*evidence_notes("y", evidence["y"]), *evidence_notes("plan", evidence["plan"])]
    assert notes[0].startswith("target 'y': the validation rows hold 3 positives (and 26 negatives)")
    assert notes[1].startswith("target 'plan': the validation rows hold 2 rows of the class 'b' (of 30)")


def test_record_evidence_of_one_target_and_without_validation_rows() -> None:
    table = pa.table({"y": [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]})
    few = class_evidence("binary", np.r_[np.ones(40), np.zeros(800)])
    metrics = {"evidence": dict(few)}  # one target: metrics["evidence"] is its evidence itself
    notes = record_evidence(_Fitted([_Head("y", "binary")], [1, 2, 3]), table, metrics)
    assert metrics["evidence"]["validation"] == class_evidence("binary", np.array([0.0, 0.0, 1.0]))
    assert notes == evidence_notes("y", metrics["evidence"]) and len(notes) == 2
    for validation in (None, []):
        metrics = {"evidence": dict(few)}
        assert record_evidence(_Fitted([_Head("y", "binary")], validation), table, metrics) == [
            evidence_notes("y", few)[0]
        ]
        assert "validation" not in metrics["evidence"]
    assert record_evidence(_Fitted([_Head("y", "binary")], [1, 2, 3]), table, {}) == []


def test_auc_half_width_of_a_single_row_of_a_class() -> None:
    # one row of a class still gives an AUC (each of its pairs with the other class): its width is computed
    assert auc_half_width(1, 10) == pytest.approx(Z * hanley_mcneil(0.5, 1, 10), rel=1e-12)
    assert auc_half_width(10, 1) == pytest.approx(Z * hanley_mcneil(0.5, 10, 1), rel=1e-12)


def test_class_counts_of_empty_rows_unnamed_classes_and_a_class_without_rows() -> None:
    empty = class_evidence("binary", np.array([]))
    assert (empty["rows"], empty["base_rate"], empty["half_width"], empty["few"]) == (0, None, None, True)
    unnamed = class_evidence("multiclass", np.array([0, 0, 1, 2, 2, 2]))
    assert unnamed["counts"] == {"0": 2, "1": 1, "2": 3} and unnamed["rarest"] == "1"
    assert unnamed["half_width"] == pytest.approx(Z * hanley_mcneil(0.5, 1, 5))
    missing = class_evidence("multiclass", np.array([0, 0, 1, 1]), ["a", "b", "c"])
    assert missing["counts"] == {"a": 2, "b": 2, "c": 0} and missing["rarest"] == "c"
    assert missing["half_width"] is None and missing["few"] is True
    assert evidence_notes("plan", missing) == [
        "target 'plan': the test rows hold no row of the class 'c': its AUC is undefined."
    ]


@pytest.mark.parametrize(
    ("positives", "negatives", "rarer"),
    [
        (1, 50, "1 positive (and 50 negatives)"),
        (2, 50, "2 positives (and 50 negatives)"),
        (60, 1, "1 negative (and 60 positives)"),
        (60, 2, "2 negatives (and 60 positives)"),
        (20, 20, "20 positives (and 20 negatives)"),  # as many of each: the positives are named
    ],
)
def test_the_few_note_names_the_rarer_class_by_its_count(positives: int, negatives: int, rarer: str) -> None:
    evidence = class_evidence("binary", np.r_[np.ones(positives), np.zeros(negatives)])
    width = Z * hanley_mcneil(0.5, positives, negatives)
    assert evidence_notes("y", evidence) == [
        f"target 'y': the test rows hold {rarer}: an AUC is known only to ±{width:.2f} (95%) on so few; a gap "
        "between two models' AUCs smaller than that decides nothing, and a model picked on it may rank otherwise "
        "on fresh rows."
    ]


def test_the_few_notes_of_one_class_only_and_of_a_rare_class_of_several() -> None:
    assert evidence_notes("y", class_evidence("binary", np.ones(5))) == [
        "target 'y': the test rows hold 0 negatives (and 5 positives): no AUC can be computed on them."
    ]
    multi = class_evidence("multiclass", np.r_[np.zeros(500), np.ones(30), np.full(400, 2)], ["a", "b", "c"])
    assert evidence_notes("plan", multi) == [
        f"target 'plan': the test rows hold 30 rows of the class 'b' (of 930): its one-vs-rest AUC is known only to "
        f"±{Z * hanley_mcneil(0.5, 30, 900):.2f} (95%) on so few; gaps between models smaller than that decide "
        "nothing."
    ]


def test_the_signal_note_names_every_model_without_signal() -> None:
    evidence = {
        "task": "binary",
        "base_rate": 0.2,
        "models": {
            "mlp network": {"auc": 0.51, "low": 0.48, "high": 0.54, "signal": False},
            "logistic regression": {"auc": 0.6, "low": 0.55, "high": 0.65, "signal": True},
            "LightGBM": {"auc": 0.5, "low": 0.47, "high": 0.53, "signal": False},
        },
    }
    assert evidence_notes("y", evidence) == [
        "target 'y': the mlp network and the LightGBM do not predict better than the base rate (20.00%) on the test "
        "rows: the 95% interval of the AUC does not lie above 0.5 (mlp network 0.510 [0.480, 0.540]; LightGBM 0.500 "
        "[0.470, 0.530])."
    ]


def test_a_constant_score_or_the_training_mean_has_no_signal() -> None:
    # a constant score: every placement is 1/2, so its DeLong interval is [0.5, 0.5]: not above 0.5
    y = np.array([0, 1, 0, 1, 1, 0, 0, 0])
    constant = binary_signal(y, {"base rate": np.full(8, 0.375)})["base rate"]
    assert (constant["auc"], constant["se"], constant["low"], constant["high"]) == (0.5, 0.0, 0.5, 0.5)
    assert constant["signal"] is False
    # one positive: an AUC without an interval, so no signal either way
    one = binary_signal(np.array([0, 1, 0, 0]), {"m": np.array([0.1, 0.9, 0.2, 0.3])})["m"]
    assert (one["auc"], one["low"], one["signal"]) == (1.0, None, None)
    # the level reaches the interval
    rng = np.random.default_rng(7)
    labels = (rng.random(200) < 0.4).astype(int)
    scores = rng.normal(size=200) + labels
    half = binary_signal(labels, {"m": scores}, level=0.5)["m"]
    assert half == {**delong_interval(labels, scores, 0.5), "signal": True}
    # predicting the training mean itself: R² 0 in every resample, so its interval [0, 0] is not above 0
    spend = rng.lognormal(3.0, 1.0, 60)
    mean = float(spend.mean()) + 1.0
    trivial = regression_signal(spend, {"mean": np.full(60, mean)}, mean, n_boot=50, seed=0)["mean"]
    assert (trivial["r2"], trivial["low"], trivial["high"], trivial["signal"]) == (0.0, 0.0, 0.0, False)
    # every target equal to the mean: R² undefined, signal undefined
    flat = regression_signal(np.full(5, 2.0), {"m": np.arange(5.0)}, 2.0, n_boot=50, seed=0)["m"]
    assert flat == {"r2": None, "low": None, "high": None, "signal": None}


def test_the_regression_signal_uses_the_given_resamples_and_seed() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(10, 3, 80)
    predictions = {"m": y + rng.normal(0, 2, 80)}
    found = regression_signal(y, predictions, 10.0, n_boot=60, seed=4)["m"]
    expected = r2_intervals(y, predictions, 10.0, n_boot=60, seed=4)["m"]
    assert found == {**expected, "signal": expected["low"] > 0}
    evidence = held_out_evidence("regression", y, predictions, train_mean=10.0, n_boot=60, seed=4)
    assert evidence["models"]["m"] == found and evidence["level"] == 0.95
    assert evidence["trivial"] == {"mean": 10.0, "r2": 0.0}
    # the defaults: 1000 resamples, seed 0
    default = held_out_evidence("regression", y, predictions, train_mean=10.0)
    assert default == held_out_evidence("regression", y, predictions, train_mean=10.0, n_boot=1000, seed=0)
    assert default["models"]["m"] == {**r2_intervals(y, predictions, 10.0)["m"], "signal": found["signal"]}


def test_held_out_evidence_records_the_level_and_the_trivial_predictor() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 0, 0, 1, 0])
    evidence = held_out_evidence("binary", y, {"m": np.linspace(0, 1, 10)})
    assert evidence["level"] == 0.95 and evidence["trivial"] == {"base_rate": 0.4, "auc": 0.5}
    # a training mean given for a target that is not a regression one is not used
    multi = held_out_evidence("multiclass", np.array([0, 1, 2, 2]), {"m": np.eye(3)[[0, 1, 2, 2]]}, train_mean=1.0)
    assert "models" not in multi and "signal" not in multi and multi["level"] == 0.95
    # every target equal to the training mean: no R² interval, so no width, not few, signal unknown
    flat = held_out_evidence("regression", np.full(6, 3.0), {"m": np.arange(6.0)}, train_mean=3.0, n_boot=20)
    assert (flat["half_width"], flat["few"], flat["signal"]) == (None, False, None)


def _r2_by_hand(y: np.ndarray, p: np.ndarray, mean: float, n_boot: int, seed: int) -> tuple[float, float]:
    """The documented bootstrap: n_boot draws of n rows from Generator(seed), resamples whose mean's errors sum
    to 0 left out, the 2.5th and 97.5th percentiles of 1 - SSE(model) / SSE(mean)."""
    drawn = np.random.default_rng(seed).integers(0, len(y), size=(n_boot, len(y)))
    base = ((y[drawn] - mean) ** 2).sum(axis=1)
    model = ((y[drawn] - p[drawn]) ** 2).sum(axis=1)
    kept = base > 0
    low, high = np.quantile(1 - model[kept] / base[kept], [0.025, 0.975])
    return float(low), float(high)


def test_r2_intervals_of_small_amounts_redo_the_documented_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    # amounts of about 0.01: every sum of squared errors is far below 1, and nothing about that is special
    rng = np.random.default_rng(10)
    y = rng.normal(0.0, 0.01, 40)
    p = y + rng.normal(0.0, 0.005, 40)
    found = r2_intervals(y, {"m": p}, 0.0, n_boot=30, seed=2)["m"]
    assert found["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum(y**2), rel=1e-12)
    assert (found["low"], found["high"]) == pytest.approx(_r2_by_hand(y, p, 0.0, 30, 2), rel=1e-12)
    # drawn in blocks of 4 resamples (8 bytes per drawn row position) from the same stream: the same interval
    monkeypatch.setattr(evidence_module, "CHUNK_BYTES", 8 * 40 * 4 + 7)
    assert r2_intervals(y, {"m": p}, 0.0, n_boot=30, seed=2)["m"] == found


def test_r2_intervals_without_a_resample_that_can_be_scored() -> None:
    # nine rows at the mean and one above it: both resamples of seed 3 miss the tenth row, so every resample's
    # R² is 0/0 and left out; the interval is None (JSON-safe), the R² of all the rows is still given
    y = np.array([2.0] * 9 + [5.0])
    found = r2_intervals(y, {"m": y + 0.1}, 2.0, n_boot=2, seed=3)["m"]
    assert found == {"r2": pytest.approx(1 - 10 * 0.01 / 9), "low": None, "high": None}
    drawn = np.random.default_rng(3).integers(0, 10, size=(2, 10))
    assert not (drawn == 9).any()
    # with 200 resamples about a third miss the tenth row: those are left out, the others give the interval
    many = r2_intervals(y, {"m": y + 0.1}, 2.0, n_boot=200, seed=3)["m"]
    drawn = np.random.default_rng(3).integers(0, 10, size=(200, 10))
    assert 20 < int((~(drawn == 9).any(axis=1)).sum()) < 180
    assert (many["low"], many["high"]) == pytest.approx(_r2_by_hand(y, y + 0.1, 2.0, 200, 3), rel=1e-12)


def test_delong_interval_of_the_smallest_classes() -> None:
    # one negative: an AUC, no standard error; two of each: a standard error from the placements by hand
    one = delong_interval(np.array([1, 1, 0]), np.array([0.9, 0.2, 0.5]))
    assert one == {"auc": 0.5, "se": None, "low": None, "high": None}
    y, s = np.array([1, 0, 1, 0]), np.array([0.8, 0.3, 0.4, 0.6])
    auc, se = placement_auc(y, s)
    two = delong_interval(y, s)
    assert two["auc"] == auc == 0.75 and two["se"] == pytest.approx(se, rel=1e-12)
    assert (two["low"], two["high"]) == (pytest.approx(max(0.0, auc - Z * se)), 1.0)  # clipped at 1
    assert auc + Z * se > 1
    assert delong_interval(np.zeros(3), np.arange(3.0)) == {"auc": None, "se": None, "low": None, "high": None}
