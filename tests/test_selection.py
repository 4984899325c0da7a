"""The choice of a trained model's scorer (needmap.workflows.selection), on outputs made up in the test:
each candidate's validation figure against scikit-learn's, the blend's out-of-fold figure worked out again
step by step, the fallback to the simplest candidate on few positives, the saved form and its errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from needmap.errors import ArtifactError, ConfigError
from needmap.metrics.compare import bootstrap_difference, weighted_auc
from needmap.workflows.selection import (
    BLEND_GRID,
    FEW_EVIDENCE,
    Choice,
    best_weight,
    choose,
    combine,
    load_selection,
    out_of_fold_blend,
    primary_value,
    selection_document,
)
from needmap.workflows.verdict_text import decision_sentence, holds_up_sentence


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


def _comparison(baseline: str, other: float, low: float, high: float, metric: str = "auc") -> dict:
    return {"baseline": baseline, "metric": metric, "deep": 0.8043, "other": other, "difference": 0.8043 - other,
            "low": low, "high": high}  # fmt: skip


def test_the_scorer_in_words() -> None:
    assert Choice("y").label("mlp network") == "the mlp network"
    assert Choice("y").label() == "the network"
    assert Choice("y", "LightGBM").label("mlp network") == "LightGBM"
    assert Choice("y", "blend", 0.55).label("mlp network") == "a blend of the mlp network (0.55) and LightGBM (0.45)"
    # a blend without a weight is labelled as combine() scores it: the network alone
    assert Choice("y", "blend").label("deepfm network") == "a blend of the deepfm network (1.00) and LightGBM (0.00)"
    assert Choice("y").needs_baselines is False and Choice("y", "blend", 0.5).needs_baselines is True


def test_the_decision_gives_the_validation_figures_of_auto_then_the_test_intervals() -> None:
    choice = Choice("y", "LightGBM", None, "auto", "the best validation auc (0.8100) of 3 candidates", "auc",
                    {"network": 0.79, "LightGBM": 0.81, "blend": None}, 500)  # fmt: skip
    document = {
        "primary": "LightGBM",
        "comparisons": [
            _comparison("mlp network", 0.8012, -0.001, 0.0072),
            _comparison("logistic regression", 0.7, 0.09, 0.12),
            _comparison("mlp network", 0.45, 0.01, 0.02, metric="logloss"),  # not an AUC: left out
        ],
    }
    assert decision_sentence(choice, "mlp network", document) == (
        "Scores with LightGBM: the best validation auc (0.8100) of 3 candidates (validation auc: the mlp network "
        "0.7900, LightGBM 0.8100). On the test rows: AUC 0.8043; mlp network 0.8012 (+0.0031 [-0.0010, +0.0072]), "
        "logistic regression 0.7000 (+0.1043 [+0.0900, +0.1200]): better than logistic regression on the test rows; "
        "no clear winner against mlp network (an interval holds zero)."
    )
    # asked for, not chosen: no validation figures; every interval above zero: better than each
    asked = Choice("y", "LightGBM", None, "lightgbm", "as asked (select lightgbm)", "auc", {"network": 0.79}, 500)
    document["comparisons"] = [_comparison("mlp network", 0.8, 0.001, 0.008), _comparison("ridge", 0.7, 0.09, 0.12)]
    assert decision_sentence(asked, "mlp network", document) == (
        "Scores with LightGBM: as asked (select lightgbm). On the test rows: AUC 0.8043; mlp network 0.8000 "
        "(+0.0043 [+0.0010, +0.0080]), ridge 0.7000 (+0.1043 [+0.0900, +0.1200]): better than each on the test rows."
    )


def test_the_saved_choice_on_new_rows_names_the_strongest_model_that_did_better() -> None:
    choice = Choice("y", "blend", 0.3, "auto", "why", "auc")
    document = {
        "primary": "blend",
        "comparisons": [
            _comparison("logistic regression", 0.81, -0.02, 0.01),
            _comparison("LightGBM", 0.83, -0.04, -0.01),
            _comparison("mlp network", 0.85, -0.06, -0.03),
        ],
    }
    assert holds_up_sentence(choice, "mlp network", document, "new.csv (900 rows)") == (
        "The saved choice, a blend of the mlp network (0.30) and LightGBM (0.70), on new.csv (900 rows): AUC 0.8043; "
        "logistic regression 0.8100 (-0.0057 [-0.0200, +0.0100]), LightGBM 0.8300 (-0.0257 [-0.0400, -0.0100]), "
        "mlp network 0.8500 (-0.0457 [-0.0600, -0.0300]): mlp network did better on new.csv (900 rows)."
    )


def test_a_lifetime_value_target_is_judged_in_gini_and_in_spearman_each_naming_what_it_beat() -> None:
    choice = Choice("label_spend", "network", None, "network", "answered by its network", "normalized_gini")
    document = {
        "task": "ltv",
        "primary": "network",
        "comparisons": [
            _comparison("LightGBM", 0.81, -0.02, -0.001, metric="normalized_gini"),
            _comparison("BG/NBD", 0.79, 0.003, 0.02, metric="normalized_gini"),
            _comparison("LightGBM", 0.80, -0.01, 0.02, metric="spearman"),
            _comparison("BG/NBD", 0.70, 0.05, 0.15, metric="spearman"),
            _comparison("LightGBM", 0.70, 0.05, 0.15),  # an AUC: not how spend is judged
        ],
    }
    assert decision_sentence(choice, "mlp network", document).split("On the test rows: ")[1] == (
        "normalized Gini 0.8043; LightGBM 0.8100 (-0.0057 [-0.0200, -0.0010]), BG/NBD 0.7900 (+0.0143 [+0.0030, "
        "+0.0200]): LightGBM did better on the test rows; better than BG/NBD. Spearman correlation 0.8043; LightGBM "
        "0.8000 (+0.0043 [-0.0100, +0.0200]), BG/NBD 0.7000 (+0.1043 [+0.0500, +0.1500]): better than BG/NBD on the "
        "test rows; no clear winner against LightGBM (an interval holds zero)."
    )


def test_without_auc_intervals_the_evidence_is_the_test_figures() -> None:
    choice = Choice("spend", "network", None, "auto", "the best validation rmse (3.1000) of 2 candidates", "rmse",
                    {"network": 3.1, "ridge regression": 3.4}, 80)  # fmt: skip
    models = {
        "mlp network": {"metrics": {"rmse": 3.25, "mae": 2.0}},
        "ridge regression": {"metrics": {"rmse": 3.5}},
        "LightGBM": {"metrics": {"rmse": None}},  # undefined: left out
    }
    document = {"primary": "mlp network", "models": models, "comparisons": []}
    assert decision_sentence(choice, "mlp network", document) == (
        "Scores with the mlp network: the best validation rmse (3.1000) of 2 candidates (validation rmse: the mlp "
        "network 3.1000, ridge regression 3.4000). On the test rows: rmse 3.2500; ridge regression 3.5000."
    )
    alone = {"primary": "mlp network", "models": {"mlp network": models["mlp network"]}}
    assert holds_up_sentence(choice, "mlp network", alone, "new rows") == (
        "The saved choice, the mlp network, on new rows: rmse 3.2500."
    )
    undefined = {"primary": "mlp network", "models": {"mlp network": {"metrics": {"rmse": None}}}}
    assert holds_up_sentence(choice, "mlp network", undefined, "new rows") == (
        "The saved choice, the mlp network, on new rows: the rmse is undefined."
    )


@dataclass
class _ByRow:
    """A baseline whose outputs depend on the rows it is given (``x``: row indices), as a column ``[n, 1]``."""

    name: str
    values: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.values[x][:, None]


def test_combine_scores_the_given_rows_in_the_shape_of_the_network_head() -> None:
    rows = np.array([2, 0])
    net = np.array([0.2, 0.9])  # the network's outputs on those two rows: one head, [n]
    bases = [_ByRow("LightGBM", np.array([0.6, 0.5, 0.1]))]
    lightgbm = combine(Choice("y", "LightGBM"), net, bases, rows)
    assert lightgbm.shape == (2,)
    np.testing.assert_array_equal(lightgbm, [0.1, 0.6])
    blend = combine(Choice("y", "blend", 0.5), net, bases, rows)
    assert blend.shape == (2,)
    np.testing.assert_allclose(blend, [0.15, 0.75])


def test_a_saved_choice_is_checked_entry_by_entry_naming_the_file() -> None:
    # the blend's weight may be 0 (LightGBM alone) or 1 (the network alone)
    for weight in (0.0, 1.0, 0):
        (choice,) = load_selection(selection_document([Choice("a", "blend", weight)]), ["a"])
        assert choice.weight == weight
    for entry, pattern in [
        ({"scorer": "network"}, "as a choice; expected an object with a target"),  # no target
        ({"target": 3, "scorer": "network"}, "as a choice"),
        ({"target": "a", "scorer": "blend", "weight": -0.1}, r"weight -0\.1"),
        ({"target": "a", "scorer": "blend", "weight": "0.5"}, "weight '0.5'"),
    ]:
        with pytest.raises(ArtifactError, match=pattern) as raised:
            load_selection({"version": 1, "targets": [entry]}, ["a"], file="models/m/selection.json")
        assert raised.value.file == "models/m/selection.json"
    # no list of targets: no choice for the model's targets
    for document in ({"version": 1}, {"version": 1, "targets": {"a": {}}}):
        with pytest.raises(ArtifactError, match=r"chooses for the targets \[\]; expected one choice for each"):
            load_selection(document, ["a"])


def _exactly(n: int, seed: int, positives: int, strength: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Like _outputs, with exactly ``positives`` positives: the rows of the largest signal + noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = np.zeros(n)
    y[np.argsort(signal + rng.normal(size=n))[-positives:]] = 1.0
    scores = {name: 1 / (1 + np.exp(-(s * signal + rng.normal(size=n)))) for name, s in strength.items()}
    return y, scores


STRENGTH = {"net": 1.0, "logistic regression": 0.9, "LightGBM": 0.95}


def test_the_fallback_applies_below_few_evidence_rows_of_the_rarer_class_and_says_by_which_interval() -> None:
    # the same outputs with 128 and 129 positives: the blend is best both times; with fewer than FEW_EVIDENCE the
    # simplest candidate within the paired interval (logistic regression) is taken
    assert FEW_EVIDENCE == 129
    chosen = {}
    for positives in (128, 129):
        y, s = _exactly(1000, 1, positives, STRENGTH)
        bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
        choice = choose("auto", "y", "binary", y, s["net"], bases, seed=3)
        assert max(choice.validation, key=lambda k: choice.validation[k]) == "blend"
        chosen[positives] = choice
    assert chosen[129].scorer == "blend" and chosen[129].weight is not None
    fallback = chosen[128]
    assert (fallback.scorer, fallback.weight) == ("logistic regression", None)
    # its reason: the interval of the blend's outputs (at the weight fitted on all the validation rows) against
    # logistic regression's, 500 resamples of the given seed
    y, s = _exactly(1000, 1, 128, STRENGTH)
    w, _ = best_weight("binary", y, s["net"], s["LightGBM"])
    blend = w * s["net"] + (1 - w) * s["LightGBM"]
    interval = bootstrap_difference(y, blend, s["logistic regression"], n_boot=500, seed=3)
    assert fallback.reason == (
        "the validation scores hold 128 of the rarer class, too few to tell the candidates apart: the simplest one not "
        f"worse than the best (blend, auc {fallback.validation['blend']:.4f}) within the paired interval "
        f"[{interval['low']:+.4f}, {interval['high']:+.4f}]"
    )
    # the same with the classes swapped: the rarer class is then the negatives
    flipped = choose("auto", "y", "binary", 1 - y, 1 - s["net"], {k: 1 - v for k, v in s.items() if k != "net"}, seed=3)
    assert flipped.scorer == "logistic regression" and "hold 128 of the rarer class" in flipped.reason


def test_on_few_positives_a_simpler_model_ranking_alike_is_taken_and_a_worse_one_is_not() -> None:
    y, s = _exactly(600, 2, 60, {"net": 2.0, "weak": 0.2})
    # logistic regression ranks the rows exactly as the network does (a monotone transform): every resample's
    # difference is 0, the interval [0, 0] holds zero, and the simpler model is taken
    alike = {"logistic regression": s["net"] ** 3, "LightGBM": s["weak"]}
    choice = choose("auto", "y", "binary", y, s["net"], alike, seed=0)
    assert choice.validation["network"] == choice.validation["logistic regression"]
    assert choice.scorer == "logistic regression" and "paired interval [+0.0000, +0.0000]" in choice.reason
    # a much weaker logistic regression and LightGBM: their intervals lie below zero; the network stays
    weak = {"logistic regression": s["weak"], "LightGBM": 1 - s["weak"]}
    strong = choose("auto", "y", "binary", y, s["net"], weak, seed=0)
    assert strong.scorer == "network" and strong.reason.startswith("the best validation auc")
    # the best is the simplest candidate: nothing simpler to compare, it is kept
    first = choose("auto", "y", "binary", y, s["weak"], {"logistic regression": s["net"], "LightGBM": s["weak"]})
    assert first.scorer == "logistic regression" and first.reason.startswith("the best validation auc")
    # without LightGBM the comparison skips it: logistic regression, then the network, which is best
    alone = choose("auto", "y", "binary", y, s["net"], {"logistic regression": s["weak"]}, seed=0)
    assert alone.scorer == "network" and set(alone.validation) == {"network", "logistic regression"}


def test_every_way_out_of_choose_records_the_target_how_why_and_the_metric() -> None:
    y, s = _outputs(400, 5, STRENGTH)
    bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
    assert choose("network", "y", "binary", y, s["net"], bases) == Choice(
        "y", "network", None, "network", "as asked (select network)", "auc"
    )
    assert choose("auto", "y", "binary", y, s["net"], {}) == Choice(
        "y", "network", None, "auto", "no baselines were trained to choose from", "auc"
    )
    nothing = Choice("y", "network", None, "auto", "no validation rows to choose on", "auc")
    assert choose("auto", "y", "binary", None, None, bases) == nothing
    assert choose("auto", "y", "binary", y, None, bases) == nothing
    assert choose("auto", "y", "binary", np.empty(0), np.empty(0), bases) == nothing
    assert choose("linear", "y", "regression", None, None, {"ridge regression": np.empty(0)}) == Choice(
        "y", "ridge regression", None, "linear", "as asked (select linear)", "rmse"
    )
    assert choose("lightgbm", "y", "binary", None, None, bases) == Choice(
        "y", "LightGBM", None, "lightgbm", "as asked (select lightgbm)", "auc"
    )
    # as asked on validation rows: every candidate's figure, the blend's fitted on all of them (not out of fold)
    # (the AUC the module computes, equal to scikit-learn's within 1e-12: tests/metrics/test_compare.py)
    values = {"network": weighted_auc(y, s["net"])}
    values.update({name: weighted_auc(y, p) for name, p in bases.items()})
    weight, values["blend"] = best_weight("binary", y, s["net"], s["LightGBM"])
    blends = [roc_auc_score(y, w * s["net"] + (1 - w) * s["LightGBM"]) for w in BLEND_GRID]
    assert (weight, values["blend"]) == (BLEND_GRID[int(np.argmax(blends))], pytest.approx(max(blends), abs=1e-12))
    assert choose("lightgbm", "y", "binary", y, s["net"], bases) == Choice(
        "y", "LightGBM", None, "lightgbm", "as asked (select lightgbm)", "auc", values, 400
    )
    assert choose("blend", "y", "binary", y, s["net"], bases) == Choice(
        "y", "blend", weight, "blend", "as asked (select blend)", "auc", values, 400
    )
    linear = choose("linear", "y", "binary", y, s["net"], {"logistic regression": s["logistic regression"]})
    assert (linear.scorer, linear.weight, set(linear.validation)) == (
        "logistic regression",
        None,
        {"network", "logistic regression"},
    )
    with pytest.raises(ConfigError, match="no LightGBM was trained"):
        choose("blend", "y", "binary", y, s["net"], {"logistic regression": s["logistic regression"]})
    # auto: the blend's figure is out of fold, and a chosen baseline has no weight
    auto = choose("auto", "y", "binary", y, s["net"], bases, seed=0)
    out_of_fold = out_of_fold_blend("binary", y, s["net"], s["LightGBM"], 0)
    assert out_of_fold < values["blend"]  # the halves' weights differ from the weight fitted on all rows
    assert auto.validation == {**values, "blend": out_of_fold} and (auto.target, auto.how, auto.rows) == (
        "y",
        "auto",
        400,
    )
    assert auto.weight == (weight if auto.scorer == "blend" else None)
    # one class on the validation rows: every figure undefined, the network kept
    ones = np.ones(400)
    assert choose("auto", "y", "binary", ones, s["net"], bases) == Choice(
        "y", "network", None, "auto", "the validation auc is undefined", "auc",
        {"network": None, "logistic regression": None, "LightGBM": None, "blend": None}, 400,
    )  # fmt: skip
    # the scores compared may be out-of-fold ones (--cv): the reason and the choice say so
    cv = choose("auto", "y", "binary", ones, s["net"], bases, on="out-of-fold")
    assert (cv.reason, cv.on) == ("the out-of-fold auc is undefined", "out-of-fold")
    assert choose("lightgbm", "y", "binary", y, s["net"], bases, on="out-of-fold").on == "out-of-fold"
    auto_cv = choose("auto", "y", "binary", y, s["net"], bases, on="out-of-fold")
    assert auto_cv.on == "out-of-fold" and auto_cv.reason.startswith("the out-of-fold scores hold")


def test_a_regression_target_ranks_without_the_fallback_and_blends_at_the_lowest_rmse() -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(size=60)  # few rows, but the fallback counts classes of binary targets only
    net, ridge, lgb = y + 0.3 * rng.normal(size=60), y + rng.normal(size=60), y + 0.4 * rng.normal(size=60)
    choice = choose("auto", "spend", "regression", y, net, {"ridge regression": ridge, "LightGBM": lgb}, seed=0)
    assert choice.scorer in ("network", "blend") and choice.reason.startswith("the best validation rmse")
    rmse = [np.sqrt(np.mean((w * net + (1 - w) * lgb - y) ** 2)) for w in BLEND_GRID]
    assert best_weight("regression", y, net, lgb) == (float(BLEND_GRID[int(np.argmin(rmse))]), pytest.approx(min(rmse)))


def test_equal_figures_on_the_grid_keep_the_first_weight() -> None:
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    p = np.array([0.2, 0.7, 0.4, 0.9, 0.3, 0.1])
    # the same scores twice: every weight gives the same figure; the first of the grid (0: LightGBM alone) is kept
    assert best_weight("binary", y, p, p) == (0.0, pytest.approx(roc_auc_score(y, p), abs=1e-12))
    assert best_weight("regression", y, p, p) == (0.0, pytest.approx(np.sqrt(np.mean((p - y) ** 2))))
    # undefined everywhere (one class): no weight beats another; the last one tried, the network alone, is kept
    assert best_weight("binary", np.ones(6), p, p) == (1.0, None)


def test_the_out_of_fold_blend_of_a_few_rows_by_hand() -> None:
    rng = np.random.default_rng(9)
    for n in (4, 7):
        y = rng.normal(size=n)
        net, lgb = y + rng.normal(size=n), y + rng.normal(size=n)
        half = np.random.default_rng(5).permutation(n) < n // 2  # 2 and 3 rows in the first half
        blended = np.empty(n)
        for part in (half, ~half):
            rmse = [np.sqrt(np.mean((w * net[~part] + (1 - w) * lgb[~part] - y[~part]) ** 2)) for w in BLEND_GRID]
            w = float(BLEND_GRID[int(np.argmin(rmse))])
            blended[part] = w * net[part] + (1 - w) * lgb[part]
        expected = np.sqrt(np.mean((blended - y) ** 2))
        assert out_of_fold_blend("regression", y, net, lgb, 5) == pytest.approx(expected, rel=1e-12)
    assert out_of_fold_blend("regression", y[:3], net[:3], lgb[:3], 5) is None  # fewer than 4 rows


def test_the_validation_log_loss_against_scikit_learn() -> None:
    y = np.array([0, 1, 0, 1])  # the third class has no row here
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    assert primary_value("multiclass", y, probs) == pytest.approx(log_loss(y, probs, labels=[0, 1, 2]), rel=1e-12)
    # a probability of exactly 0 on the true class is clipped to 1e-15, then the row renormalised
    zero = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    row = 1e-15 / (1 + 2e-15)
    expected = (-np.log(row) - np.log(0.5 / (1 + 1e-15))) / 2
    assert primary_value("multiclass", np.array([0, 1]), zero) == pytest.approx(expected, rel=1e-12)


def test_an_interval_that_touches_zero_is_no_clear_winner_and_the_test_figures_are_listed() -> None:
    choice = Choice("y", "LightGBM", None, "lightgbm", "as asked (select lightgbm)", "auc")
    for low, high in ((0.0, 0.02), (-0.02, 0.0)):
        document = {"primary": "LightGBM", "comparisons": [_comparison("mlp network", 0.8, low, high)]}
        assert holds_up_sentence(choice, "mlp network", document, "new rows").endswith(
            "no clear winner on new rows (an interval holds zero)."
        )
    rmse = Choice("spend", "LightGBM", None, "lightgbm", "as asked (select lightgbm)", "rmse")
    models = {"LightGBM": {"metrics": {"rmse": 2.5}}, "mlp network": {"metrics": {"rmse": 3.0}}}
    models["ridge regression"] = {"metrics": {"rmse": 3.25}}
    assert holds_up_sentence(rmse, "mlp network", {"primary": "LightGBM", "models": models}, "new rows") == (
        "The saved choice, LightGBM, on new rows: rmse 2.5000; mlp network 3.0000, ridge regression 3.2500."
    )


def test_the_default_seed_of_choose_is_0() -> None:
    y, s = _outputs(400, 5, STRENGTH)
    bases = {"logistic regression": s["logistic regression"], "LightGBM": s["LightGBM"]}
    default = choose("auto", "y", "binary", y, s["net"], bases)
    assert default == choose("auto", "y", "binary", y, s["net"], bases, seed=0)
    # the seed matters: it splits the validation rows of the blend's out-of-fold figure
    assert (
        choose("auto", "y", "binary", y, s["net"], bases, seed=1).validation["blend"]
        != (choose("auto", "y", "binary", y, s["net"], bases, seed=0).validation["blend"])
    )


def test_a_baseline_asked_for_that_was_not_trained_is_a_clear_error() -> None:
    y, s = _outputs(1000, 4, {"net": 1.0, "LightGBM": 0.5})
    with pytest.raises(ConfigError, match=r"select='linear' scores with a baseline that was not trained"):
        choose("linear", "y", "binary", y, s["net"], {"LightGBM": s["LightGBM"]})
    with pytest.raises(ConfigError, match=r"select='lightgbm' scores with a baseline that was not trained"):
        choose("lightgbm", "y", "binary", None, None, {"logistic regression": np.empty(0)})
    # few positives and no linear model: the fallback goes on to the next simplest candidate
    y, s = _outputs(250, 0, {"net": 1.0, "LightGBM": 0.95})
    assert choose("auto", "y", "binary", y, s["net"], {"LightGBM": s["LightGBM"]}).scorer in ("LightGBM", "network")
