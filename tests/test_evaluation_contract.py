"""The verdict of a multiclass or regression evaluation, sentence by sentence, on outputs whose metrics are
worked out by hand; and the layout of a binary document on a few rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from needmap.workflows.evaluation import PRIMARY_METRIC, _plain_verdict, evaluation_document, json_safe

WHERE = "on these rows; no bootstrap interval for this task"
Y = np.array([0.0, 1.0, 2.0, 3.0])


def _regression(**offsets: float) -> dict[str, Any]:
    """A regression document where each model predicts y + its offset: its RMSE is |offset|."""
    scores = {name: Y + offset for name, offset in offsets.items()}
    return evaluation_document(Y, scores, task="regression", primary="deep", data="four rows")


def test_primary_metrics_are_log_loss_and_rmse_lower_better() -> None:
    assert PRIMARY_METRIC == {"multiclass": ("logloss", "log loss", False), "regression": ("rmse", "RMSE", False)}


def test_the_deep_model_is_better_than_the_best_baseline() -> None:
    # the best baseline has the lowest RMSE (1.2, not 1.5) whatever the order of the names
    doc = _regression(deep=1.0, zeta=-1.2, alpha=1.5)
    assert doc["verdict"] == f"the deep model is better than zeta by 0.200 RMSE (1.0000 vs 1.2000 {WHERE})."
    assert [doc["models"][m]["kind"] for m in ("deep", "zeta", "alpha")] == ["deep", "baseline", "baseline"]
    assert doc["rows"] == 4 and doc["comparisons"] == [] and doc["data"] == "four rows"


def test_a_better_baseline_is_named_with_its_margin() -> None:
    doc = _regression(deep=2.0, b=0.5, a=1.5)
    assert doc["verdict"] == f"use b: it is better than the deep model by 1.500 RMSE (0.5000 vs 2.0000 {WHERE})."


def test_a_tie_is_not_better() -> None:
    doc = _regression(deep=1.0, base=-1.0)
    assert doc["verdict"] == f"use base: the deep model is not better on this data (RMSE 1.0000 for both, {WHERE})."


def test_multiclass_compares_the_log_loss_by_hand() -> None:
    y = np.array([0, 1, 2])
    sharp = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])  # log loss -ln 0.8 = 0.2231
    flat = np.full((3, 3), 1 / 3)  # log loss ln 3 = 1.0986
    doc = evaluation_document(y, {"deep": sharp, "flat": flat}, task="multiclass", primary="deep", data="x")
    gain = math.log(3) + math.log(0.8)
    assert doc["verdict"] == (
        f"the deep model is better than flat by {gain:.3f} log loss "
        f"({-math.log(0.8):.4f} vs {math.log(3):.4f} {WHERE})."
    )


def _models(deep: float | None, **baselines: float | None) -> dict[str, dict[str, Any]]:
    models = {"deep": {"metrics": {"rmse": deep}}}
    models.update({name: {"metrics": {"rmse": value}} for name, value in baselines.items()})
    return models


def test_undefined_metrics_and_missing_baselines_give_no_comparison() -> None:
    assert _plain_verdict("regression", _models(1.0), "deep") == "no comparison: no baseline was scored on these rows."
    undefined = "no comparison: the test RMSE is undefined."
    assert _plain_verdict("regression", _models(None, base=1.0), "deep") == undefined
    assert _plain_verdict("regression", _models(1.0, base=None), "deep") == undefined
    # a baseline without the metric is left out; the others are compared
    verdict = _plain_verdict("regression", _models(1.0, base=None, other=2.0), "deep")
    assert verdict.startswith("the deep model is better than other by 1.000 RMSE")


def test_json_safe_turns_numpy_values_and_non_finite_numbers_into_json() -> None:
    value = {1: (np.int64(3), np.float32(0.5), np.bool_(True), [np.nan, np.inf, 2.0]), "s": "text", "n": None}
    assert json_safe(value) == {"1": [3, 0.5, True, [None, None, 2.0]], "s": "text", "n": None}
    assert type(json_safe(np.int64(3))) is int and type(json_safe(np.bool_(False))) is bool
    assert json_safe(np.array([[1, 2]])) == [[1, 2]]


def test_a_binary_document_on_a_few_rows() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    deep = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])  # separates the classes
    base = np.array([0.6, 0.2, 0.4, 0.9, 0.3, 0.7])
    doc = evaluation_document(
        y, {"base": base, "deep": deep}, task="binary", primary="deep", data="six rows", n_boot=50, contact_cost=2.0,
        conversion_value=5.0, groups=np.array(["a", "a", "a", "b", "b", "b"]), group_column="shop",
    )  # fmt: skip
    assert list(doc["models"]) == ["deep", "base"] and doc["positives"] == 3 and doc["rows"] == 6
    assert doc["data"] == "six rows"
    assert doc["profit_settings"] == {"contact_cost": 2.0, "conversion_value": 5.0}
    assert doc["models"]["deep"]["metrics"]["auc"] == 1.0
    # base ranks 8 of the 9 positive-negative pairs right (0.4 is below the negative 0.6): AUC 8/9
    assert doc["models"]["base"]["metrics"]["auc"] == pytest.approx(8 / 9)
    (comparison,) = doc["comparisons"]
    assert comparison["baseline"] == "base" and comparison["metric"] == "auc" and comparison["n_boot"] == 50
    assert comparison["difference"] == pytest.approx(1 / 9)
    assert doc["group_auc"]["column"] == "shop" and doc["group_auc"]["gauc"] == 1.0
    assert doc["importance"] is None and doc["version"] == 1 and doc["task"] == "binary"


@pytest.mark.parametrize("positives", [1, 5])
def test_curves_need_both_classes_and_one_positive_is_enough(positives: int) -> None:
    y = np.array([1] * positives + [0] * (6 - positives))
    p = np.linspace(0.9, 0.1, 6)
    doc = evaluation_document(y, {"deep": p, "base": p[::-1].copy()}, task="binary", primary="deep", data="x")
    for name in ("deep", "base"):
        model = doc["models"][name]
        assert all(model[curve] is not None for curve in ("roc", "pr", "gains", "lift", "lift_table")), name
    assert [c["baseline"] for c in doc["comparisons"]] == ["base"]
    assert doc["verdict"].startswith("the deep model is better than base by 1.000 AUC")


def test_one_class_rows_get_no_curves_and_no_comparison() -> None:
    y = np.ones(6, dtype=int)
    p = np.linspace(0.9, 0.1, 6)
    doc = evaluation_document(y, {"deep": p, "base": p}, task="binary", primary="deep", data="x")
    assert all(doc["models"]["deep"][c] is None for c in ("roc", "pr", "gains", "lift", "lift_table"))
    assert doc["comparisons"] == [] and doc["positives"] == 6
    assert doc["verdict"] == "no comparison: the test rows hold only positives (6 rows); the AUC needs both classes."


def test_every_baseline_gets_a_comparison_with_the_given_resamples_and_seed() -> None:
    from needmap.metrics.compare import bootstrap_difference

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 60)
    scores = {"deep": rng.random(60), "a": rng.random(60), "b": rng.random(60)}
    doc = evaluation_document(y, scores, task="binary", primary="deep", data="x", n_boot=40, seed=9)
    assert [c["baseline"] for c in doc["comparisons"]] == ["a", "b"]
    for comparison in doc["comparisons"]:
        expected = bootstrap_difference(y, scores["deep"], scores[comparison["baseline"]], n_boot=40, seed=9)
        assert {k: v for k, v in comparison.items() if k != "baseline"} == {
            k: expected[k] for k in ("metric", "deep", "other", "difference", "low", "high", "level", "n_boot")
        }
        assert comparison["n_boot"] == 40 and comparison["metric"] == "auc"


def test_scores_are_named_in_errors() -> None:
    from needmap.errors import DataError

    y = np.array([0, 1, 0, 1])
    with pytest.raises(DataError, match=r"^scores\['base'\] holds 1 values outside \[0, 1\]"):
        evaluation_document(y, {"deep": np.full(4, 0.5), "base": np.array([0.1, 1.5, 0.2, 0.3])}, task="binary",
                            primary="deep", data="x")  # fmt: skip
    with pytest.raises(DataError, match=r"^y has 4 rows and scores\['base'\] has 3"):
        evaluation_document(y, {"deep": np.full(4, 0.5), "base": np.full(3, 0.5)}, task="binary", primary="deep",
                            data="x")  # fmt: skip


def test_the_defaults_are_those_of_needmap_train_and_1000_resamples_seed_0() -> None:
    # a library call without the profit settings draws the same profit curves as `needmap train` without
    # --contact-cost/--conversion-value (1 and 10), and the intervals of bootstrap_difference's defaults
    from needmap.workflows.run_options import RunOptions

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 40)
    scores = {"deep": rng.random(40), "base": rng.random(40)}
    default = evaluation_document(y, scores, task="binary", primary="deep", data="forty rows")
    options = RunOptions()
    assert (options.contact_cost, options.conversion_value) == (1.0, 10.0)
    assert default["profit_settings"] == {"contact_cost": 1.0, "conversion_value": 10.0}
    explicit = evaluation_document(
        y, scores, task="binary", primary="deep", data="forty rows", contact_cost=1.0, conversion_value=10.0,
        n_boot=1000, seed=0,
    )  # fmt: skip
    assert default == explicit
    assert default["comparisons"][0]["n_boot"] == 1000
