"""The choice of a trained model's scorer (needmap.workflows.selection), on outputs made up in the test:
each candidate's validation figure against scikit-learn's, the blend's out-of-fold figure worked out again
step by step, the fallback to the simplest candidate on few positives, the saved form and its errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from needmap.errors import ArtifactError, ConfigError
from needmap.workflows.selection import (
    BLEND_GRID,
    FEW_EVIDENCE,
    Choice,
    choose,
    combine,
    load_selection,
    selection_document,
)


def _outputs(n: int, seed: int, strength: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels and one score per model: a shared signal times its strength plus noise of its own, squashed
    to (0, 1)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (signal + rng.normal(size=n) > 0.8).astype(np.float64)
    scores = {name: 1 / (1 + np.exp(-(s * signal + rng.normal(size=n)))) for name, s in strength.items()}
    return y, scores


def test_auto_takes_the_best_validation_auc_and_reports_each_candidates() -> None:
    y, s = _outputs(4000, 0, {"net": 0.6, "logistic regression": 0.3, "LightGBM": 2.0})
    bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
    choice = choose("auto", "y", "binary", y, s["net"], bases, seed=0)
    assert choice.rows == 4000 and choice.metric == "auc" and choice.how == "auto"
    assert choice.validation["network"] == pytest.approx(roc_auc_score(y, s["net"]), abs=1e-12)
    for name, scores in bases.items():
        assert choice.validation[name] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    best = max(choice.validation, key=lambda k: choice.validation[k])
    assert choice.scorer == best and best in ("LightGBM", "blend")
    assert "best validation auc" in choice.reason


def test_the_blends_validation_figure_is_out_of_fold_as_worked_out_here() -> None:
    """Two models that each see half of the signal: their blend beats both, and its figure under auto is the
    AUC of each half scored at the weight fitted on the other half."""
    rng = np.random.default_rng(3)
    n = 3000
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + b + rng.normal(size=n) > 1.0).astype(np.float64)
    net, lgb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    choice = choose("auto", "y", "binary", y, net, {"LightGBM": lgb, "logistic regression": 0.5 * lgb}, seed=7)
    assert choice.scorer == "blend" and 0.2 <= choice.weight <= 0.8
    # the weight: the grid's best on all the validation rows (the first of equals)
    aucs = [roc_auc_score(y, w * net + (1 - w) * lgb) for w in BLEND_GRID]
    assert choice.weight == pytest.approx(float(BLEND_GRID[int(np.argmax(aucs))]))
    # the figure: each half at the other half's weight
    half = np.random.default_rng(7).permutation(n) < n // 2
    blended = np.empty(n)
    for part in (half, ~half):
        fold = [roc_auc_score(y[~part], w * net[~part] + (1 - w) * lgb[~part]) for w in BLEND_GRID]
        w = float(BLEND_GRID[int(np.argmax(fold))])
        blended[part] = w * net[part] + (1 - w) * lgb[part]
    assert choice.validation["blend"] == pytest.approx(roc_auc_score(y, blended), abs=1e-12)
    assert choice.validation["blend"] <= max(aucs)  # fitting the weight on the rows it is scored on flatters it


def test_few_positives_fall_back_to_the_simplest_candidate_not_worse_than_the_best() -> None:
    """About 60 positives: the best candidate by a hair, and logistic regression within the interval: the choice
    is logistic regression, with the counts and the interval in its reason."""
    y, s = _outputs(250, 0, {"net": 1.0, "logistic regression": 0.9, "LightGBM": 0.95})
    positives = int(y.sum())
    assert positives < FEW_EVIDENCE
    bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
    choice = choose("auto", "y", "binary", y, s["net"], bases, seed=0)
    assert choice.scorer == "logistic regression"
    assert f"hold {min(positives, 250 - positives)} of the rarer class" in choice.reason
    assert "paired interval [" in choice.reason
    # the same outputs on many rows are told apart: the best is chosen
    y, s = _outputs(20000, 2, {"net": 1.0, "logistic regression": 0.5, "LightGBM": 0.95})
    bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
    assert choose("auto", "y", "binary", y, s["net"], bases, seed=0).scorer in ("network", "blend")


def test_regression_and_multiclass_rank_by_rmse_and_log_loss() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    good, bad = y + 0.1 * rng.normal(size=500), y + rng.normal(size=500)
    choice = choose("auto", "spend", "regression", y, bad, {"ridge regression": good}, seed=0)
    assert choice.scorer == "ridge regression" and choice.metric == "rmse"
    assert choice.validation["ridge regression"] == pytest.approx(np.sqrt(np.mean((good - y) ** 2)))
    labels = rng.integers(0, 3, size=300)
    sure = np.eye(3)[labels] * 0.8 + 0.1 * np.ones((300, 3)) / 1.5
    flat = np.full((300, 3), 1 / 3)
    choice = choose("auto", "k", "multiclass", labels, flat, {"logistic regression": sure}, seed=0)
    assert choice.scorer == "logistic regression" and choice.metric == "logloss"


def test_what_is_asked_is_taken_and_what_cannot_be_done_is_refused() -> None:
    y, s = _outputs(1000, 4, {"net": 1.0, "logistic regression": 0.5, "LightGBM": 0.5})
    bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
    assert choose("network", "y", "binary", y, s["net"], bases).scorer == "network"
    assert choose("lightgbm", "y", "binary", y, s["net"], bases).scorer == "LightGBM"
    assert choose("linear", "y", "binary", y, s["net"], bases).scorer == "logistic regression"
    blend = choose("blend", "y", "binary", y, s["net"], bases)
    assert blend.scorer == "blend" and blend.how == "blend" and blend.weight is not None
    # no baselines: auto keeps the network and says why; a baseline cannot be asked for
    alone = choose("auto", "y", "binary", y, s["net"], {})
    assert alone.scorer == "network" and "no baselines" in alone.reason
    with pytest.raises(ConfigError, match="none was trained"):
        choose("lightgbm", "y", "binary", y, s["net"], {})
    # no validation rows: auto keeps the network, a blend cannot be fitted, LightGBM can be taken as asked
    names = {"logistic regression": np.empty(0), "LightGBM": np.empty(0)}
    assert "no validation rows" in choose("auto", "y", "binary", None, None, names).reason
    assert choose("lightgbm", "y", "binary", None, None, names).scorer == "LightGBM"
    with pytest.raises(ConfigError, match="validation rows"):
        choose("blend", "y", "binary", None, None, names)
    with pytest.raises(ConfigError, match="expected one of"):
        choose("best", "y", "binary", y, s["net"], bases)


@dataclass
class _Stub:
    name: str
    values: np.ndarray

    def predict(self, x: object) -> np.ndarray:
        return self.values


def test_combine_gives_the_chosen_scorers_outputs() -> None:
    net, lgb, lin = np.array([0.2, 0.9]), np.array([0.6, 0.1]), np.array([0.3, 0.3])
    bases = [_Stub("logistic regression", lin), _Stub("LightGBM", lgb)]
    np.testing.assert_array_equal(combine(Choice("y"), net, bases, None), net)
    np.testing.assert_array_equal(combine(Choice("y", "LightGBM"), net, bases, None), lgb)
    np.testing.assert_array_equal(combine(Choice("y", "logistic regression"), net, bases, None), lin)
    np.testing.assert_allclose(combine(Choice("y", "blend", 0.25), net, bases, None), [0.5, 0.3])
    k = np.array([[0.2, 0.8], [0.5, 0.5]])  # a multiclass head: class probabilities blend row by row
    stub = [_Stub("LightGBM", np.array([[0.6, 0.4], [0.1, 0.9]]))]
    np.testing.assert_allclose(combine(Choice("k", "blend", 0.5), k, stub, None), [[0.4, 0.6], [0.3, 0.7]])
    with pytest.raises(ConfigError, match="no baseline 'LightGBM'"):
        combine(Choice("y", "LightGBM"), net, bases[:1], None)


def test_the_saved_selection_reads_back_and_a_wrong_one_is_an_artifact_error() -> None:
    choices = [Choice("a", "blend", 0.4, "auto", "why", "auc", {"network": 0.7}, 10), Choice("b")]
    assert load_selection(selection_document(choices), ["a", "b"]) == choices
    with pytest.raises(ArtifactError, match=r"expected one choice for each of the model's targets \['b', 'a'\]"):
        load_selection(selection_document(choices), ["b", "a"])
    with pytest.raises(ArtifactError, match="version 1"):
        load_selection({"version": 2, "targets": []}, ["a"])
    wrong = selection_document([Choice("a", "forest")])
    with pytest.raises(ArtifactError, match="scorer 'forest'"):
        load_selection(wrong, ["a"], file="models/x")
    heavy = selection_document([Choice("a", "blend", 1.5)])
    with pytest.raises(ArtifactError, match=r"weight 1\.5"):
        load_selection(heavy, ["a"])
