"""k-fold cross-validation: folds that partition the rows, per-fold and pooled scores, the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.errors import ConfigError
from needmap.metrics import task_metrics
from needmap.metrics.compare import bootstrap_difference, verdict_sentence
from needmap.workflows.cv import cv_summary, fold_ids, run_cv
from needmap.workflows.train import run_train
from reference_scores import out_of_fold_references

FAST = {"epochs": 2, "progress": False, "batch_size": 256, "hidden": (32, 16)}


@pytest.fixture(scope="module")
def small(bank_table: pa.Table) -> pa.Table:
    """1,500 random rows of the bank slice (its rows are in time order)."""
    return bank_table.take(pa.array(np.sort(np.random.default_rng(0).permutation(bank_table.num_rows)[:1500])))


@pytest.fixture(scope="module")
def result(bank_table: pa.Table) -> dict:
    """Three folds of the whole bank slice: with a third of 1,500 rows held out, LightGBM's pooled AUC does
    not clear what nr.employed alone reaches on the same rows."""
    model = nm.Model("mlp", target="y", drop=["duration"], seed=2, **FAST)
    out = run_cv(bank_table, model, 3, seed=4, n_boot=200)
    assert model.network_ is None  # the given model stays unfitted: each fold trains a copy
    return out


def test_folds_partition_the_rows_evenly_and_keep_the_class_shares() -> None:
    y = np.array([1] * 30 + [0] * 71)
    folds = fold_ids(101, 5, method="stratified", seed=0, y=y)
    assert sorted(np.bincount(folds)) == [20, 20, 20, 20, 21]
    assert sorted(np.bincount(folds[y == 1])) == [6] * 5
    random = fold_ids(10, 3, method="random", seed=1)
    assert sorted(np.bincount(random)) == [3, 3, 4] and not np.array_equal(random, np.arange(10) % 3)
    np.testing.assert_array_equal(random, fold_ids(10, 3, method="random", seed=1))


@pytest.mark.slow
def test_every_row_is_scored_once_by_a_model_that_did_not_see_it(result: dict, bank_table: pa.Table) -> None:
    oof = result["out_of_fold"]
    folds, y = oof["fold"], oof["y"]
    assert len(folds) == bank_table.num_rows == result["rows"] and set(folds) == {0, 1, 2}
    assert [f["rows"] for f in result["folds"]] == [int((folds == f).sum()) for f in range(3)]
    assert sum(f["rows"] for f in result["folds"]) == bank_table.num_rows
    for fold in result["folds"]:
        held = folds == fold["fold"] - 1
        assert fold["train_rows"] + fold["validation_rows"] == bank_table.num_rows - fold["rows"]
        for name, value in fold["scores"].items():
            assert value == pytest.approx(task_metrics("binary", y[held], oof["scores"][name][held])["auc"])
    np.testing.assert_array_equal(y, (np.asarray(bank_table.column("y").to_pylist()) == "yes").astype(y.dtype))


@pytest.mark.slow
def test_mean_and_std_are_those_of_the_folds_and_pooled_metrics_of_the_out_of_fold_scores(
    result: dict, bank_table: pa.Table
) -> None:
    assert result["models"] == ["mlp network", "logistic regression", "LightGBM"]
    for name in result["models"]:
        values = [fold["scores"][name] for fold in result["folds"]]
        assert result["mean"][name] == pytest.approx(np.mean(values))
        assert result["std"][name] == pytest.approx(np.std(values))
        pooled = task_metrics("binary", result["out_of_fold"]["y"], result["out_of_fold"]["scores"][name])
        assert result["pooled"][name]["auc"] == pytest.approx(pooled["auc"])
    # Both baselines rank the rows better than the best single column, each fold's rows scored by the column
    # fitted on the other folds and pooled as the models' scores are (misaligned scores would be at chance).
    reference = out_of_fold_references(bank_table, "y", result["out_of_fold"]["fold"], drop=["duration"])
    for name in ("logistic regression", "LightGBM"):
        assert result["pooled"][name]["auc"] > reference["best_column_auc"], (name, result["pooled"], reference)


@pytest.mark.slow
def test_the_verdict_is_the_bootstrap_comparison_of_the_pooled_scores(result: dict) -> None:
    oof = result["out_of_fold"]
    assert [c["baseline"] for c in result["comparisons"]] == ["logistic regression", "LightGBM"]
    for comparison in result["comparisons"]:
        again = bootstrap_difference(
            oof["y"], oof["scores"]["mlp network"], oof["scores"][comparison["baseline"]], n_boot=200, seed=4
        )
        assert comparison["difference"] == pytest.approx(again["difference"])
        assert (comparison["low"], comparison["high"]) == pytest.approx((again["low"], again["high"]))
    assert result["verdict"] == verdict_sentence(result["comparisons"])
    best = max(result["comparisons"], key=lambda c: c["other"])
    assert best["baseline"] in result["verdict"] and f"{abs(best['difference']):.3f}" in result["verdict"]
    summary = cv_summary(result)
    assert "out_of_fold" not in summary
    json.dumps(summary, allow_nan=False)  # JSON-safe, for metrics.json


@pytest.mark.slow
def test_each_fold_trains_a_clone_and_the_given_model_stays_unfitted(
    small: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    import needmap.workflows.cv as cv_module

    model = nm.Model("mlp", target="y", drop=["duration"], calibrate="platt", lr=0.01, min_frequency=3, **FAST)
    cloned: list[nm.Model] = []
    monkeypatch.setattr(cv_module, "clone", lambda m: cloned.append(nm.clone(m)) or cloned[-1])
    run_cv(small, model, 2, baseline=False, n_boot=50)
    assert len(cloned) == 2 and all(c.get_params() == model.get_params() for c in cloned)
    assert all(c.predictor_ is not None for c in cloned) and model.predictor_ is None
    assert cloned[0].train_options == {"lr": 0.01, "epochs": 2, "progress": False, "batch_size": 256}
    assert cloned[0].params == {"hidden": (32, 16)} and cloned[0].preprocess_options == {"min_frequency": 3}
    assert cloned[0].drop == ["duration"] and cloned[0].drop is not model.drop


def test_cv_options_are_checked(small: pa.Table) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    with pytest.raises(ConfigError, match=r"cv=1"):
        run_cv(small, model, 1)
    with pytest.raises(ConfigError, match=r"'time'"):
        run_cv(small, model, 3, split="time")
    with pytest.raises(ConfigError, match=r"several"):
        run_cv(small, nm.Model("mlp", target=["y", "age"], **FAST), 3)
    with pytest.raises(ConfigError, match=r"time split"):
        run_train(small, model, out=None, cv=3, split="time", time_column="age")


@pytest.mark.slow
def test_run_train_with_cv_attaches_the_summary_to_the_saved_metrics(small: pa.Table, tmp_path: Path) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    outcome = run_train(small, model, out=tmp_path / "m", cv=2, n_boot=100)
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())["cv"]
    assert saved["k"] == 2 and saved["rows"] == 1200  # the training part: the test rows stay unseen
    assert saved["models"] == ["mlp network", "logistic regression", "LightGBM"]
    assert saved["verdict"] == outcome.metrics["cv"]["verdict"] and "out_of_fold" not in saved
    assert "## Cross-validation" in (tmp_path / "m" / "card.md").read_text()
