"""The evaluation document (evaluation.json) built from models scored on bank marketing test rows."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

from needmap.errors import ConfigError, DataError
from needmap.metrics import binary_metrics, bootstrap_difference, group_auc, verdict_sentence
from needmap.workflows.evaluation import evaluation_document

NUMERIC = ["age", "campaign", "pdays", "previous", "emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m"]
TOP_KEYS = [
    "version",
    "task",
    "data",
    "rows",
    "positives",
    "primary",
    "models",
    "profit_settings",
    "comparisons",
    "verdict",
    "group_auc",
    "importance",
]
MODEL_KEYS = ["kind", "metrics", "roc", "pr", "gains", "lift", "lift_table", "calibration", "profit"]


def _columns(table: pa.Table, names: list[str]) -> np.ndarray:
    return np.column_stack([table.column(c).to_numpy(zero_copy_only=False).astype(float) for c in names])


@pytest.fixture(scope="module")
def scored(bank_table: pa.Table) -> dict[str, Any]:
    """Test labels (1,500 random rows of the 3,000 bank rows), the job of each row, and three models' scores:
    a logistic regression on 8 numeric columns ("mlp network" here), one on euribor3m alone, and noise."""
    y_all = (bank_table.column("y").to_numpy(zero_copy_only=False) == "yes").astype(int)
    order = np.random.default_rng(0).permutation(bank_table.num_rows)
    train, test = order[:1500], order[1500:]

    def fit(names: list[str]) -> np.ndarray:
        x = _columns(bank_table, names)
        x = (x - x[train].mean(axis=0)) / x[train].std(axis=0)
        return LogisticRegression(max_iter=1000).fit(x[train], y_all[train]).predict_proba(x[test])[:, 1]

    return {
        "y": y_all[test],
        "job": bank_table.column("job").to_numpy(zero_copy_only=False)[test],
        "scores": {
            "mlp network": fit(NUMERIC),
            "logistic regression": fit(["euribor3m"]),
            "LightGBM": np.random.default_rng(0).random(1500),
        },
    }


@pytest.fixture(scope="module")
def document(scored: dict[str, Any]) -> dict[str, Any]:
    return evaluation_document(
        scored["y"],
        scored["scores"],
        task="binary",
        primary="mlp network",
        data="test rows (1,500 random rows of the bank slice)",
        contact_cost=2.0,
        conversion_value=30.0,
        groups=scored["job"],
        group_column="job",
        n_boot=300,
        seed=4,
    )


def test_document_has_the_agreed_layout_and_is_plain_json(document: dict[str, Any], scored: dict[str, Any]) -> None:
    assert list(document) == TOP_KEYS
    assert document["version"] == 1 and document["task"] == "binary" and document["primary"] == "mlp network"
    assert document["rows"] == 1500 and document["positives"] == int(scored["y"].sum())
    assert list(document["models"]) == ["mlp network", "logistic regression", "LightGBM"]
    assert [m["kind"] for m in document["models"].values()] == ["deep", "baseline", "baseline"]
    assert all(list(m) == MODEL_KEYS for m in document["models"].values())
    assert document["profit_settings"] == {"contact_cost": 2.0, "conversion_value": 30.0}
    assert document["importance"] is None
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_each_model_carries_its_metrics_and_curves(document: dict[str, Any], scored: dict[str, Any]) -> None:
    for name, entry in document["models"].items():
        p = scored["scores"][name]
        assert entry["metrics"] == pytest.approx(binary_metrics(scored["y"], p))
        roc = entry["roc"]
        assert len(roc["fpr"]) <= 201 and (roc["fpr"][0], roc["tpr"][0]) == (0, 0) and roc["fpr"][-1] == 1
        assert len(entry["pr"]["recall"]) <= 201
        assert len(entry["gains"]["share"]) == 101 and entry["gains"]["captured"][-1] == 1.0
        assert len(entry["lift"]["share"]) == 100 and entry["lift"]["lift"][-1] == pytest.approx(1.0)
        assert [row["top"] for row in entry["lift_table"]] == [0.01, 0.05, 0.1, 0.2, 0.3, 0.5]
        assert sum(entry["calibration"]["count"]) == 1500
        profit = entry["profit"]
        assert len(profit["share"]) == len(profit["threshold"]) == len(profit["profit"]) == 100
        best = profit["best"]
        assert best["profit"] == pytest.approx(30.0 * best["conversions"] - 2.0 * best["contacted"])
        assert best["profit"] >= max(0.0, *profit["profit"])


def test_comparisons_are_paired_bootstraps_against_each_baseline(
    document: dict[str, Any], scored: dict[str, Any]
) -> None:
    comparisons = document["comparisons"]
    assert [c["baseline"] for c in comparisons] == ["logistic regression", "LightGBM"]
    deep = scored["scores"]["mlp network"]
    for c in comparisons:
        assert list(c) == ["baseline", "metric", "deep", "other", "difference", "low", "high", "level", "n_boot"]
        expected = bootstrap_difference(scored["y"], deep, scored["scores"][c["baseline"]], n_boot=300, seed=4)
        assert {k: c[k] for k in c if k != "baseline"} == {k: expected[k] for k in c if k != "baseline"}
    noise = comparisons[1]
    assert noise["low"] > 0  # eight informative columns beat random scores
    assert document["verdict"] == verdict_sentence(comparisons)
    # the verdict speaks of the stronger baseline (the Euribor rate alone beats noise)
    assert "logistic regression" in document["verdict"] and "LightGBM" not in document["verdict"]


def test_group_auc_of_the_deep_model(document: dict[str, Any], scored: dict[str, Any]) -> None:
    expected = group_auc(scored["y"], scored["scores"]["mlp network"], scored["job"])
    assert document["group_auc"] == {
        "column": "job",
        "gauc": pytest.approx(expected["gauc"]),
        "groups_used": expected["groups_used"],
        "groups_skipped": expected["groups_skipped"],
        "rows_used": expected["rows_used"],
    }
    assert document["group_auc"]["groups_used"] >= 5


def test_deep_model_alone_gets_no_comparison(scored: dict[str, Any]) -> None:
    alone = evaluation_document(
        scored["y"], {"mlp network": scored["scores"]["mlp network"]}, task="binary", primary="mlp network", data="x"
    )
    assert alone["comparisons"] == [] and alone["verdict"].startswith("no comparison")
    assert alone["group_auc"] is None and list(alone["models"]) == ["mlp network"]


def test_one_class_test_rows_keep_metrics_but_drop_curves_that_need_both() -> None:
    y = np.zeros(50, dtype=int)
    p = np.linspace(0.01, 0.5, 50)
    doc = evaluation_document(y, {"deep": p, "base": p[::-1].copy()}, task="binary", primary="deep", data="x")
    model = doc["models"]["deep"]
    assert model["roc"] is None and model["gains"] is None and model["lift_table"] is None
    assert model["metrics"]["auc"] is None and sum(model["calibration"]["count"]) == 50
    assert model["profit"]["best"]["contacted"] == 0
    assert doc["comparisons"] == [] and "only negatives" in doc["verdict"]
    json.dumps(doc, allow_nan=False)


def test_regression_document_compares_rmse_with_regression_curves() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(100, 20, 400)
    scores = {"mlp network": y + rng.normal(0, 5, 400), "ridge regression": y + rng.normal(0, 10, 400)}
    doc = evaluation_document(y, scores, task="regression", primary="mlp network", data="test rows")
    assert list(doc) == ["version", "task", "data", "rows", "primary", "models", "comparisons", "verdict"]
    assert list(doc["models"]["ridge regression"]) == ["kind", "metrics", "residuals", "deciles", "amount_gains"]
    assert sum(doc["models"]["ridge regression"]["deciles"]["count"]) == 400  # what the report's regression charts draw
    deep, base = doc["models"]["mlp network"]["metrics"]["rmse"], doc["models"]["ridge regression"]["metrics"]["rmse"]
    assert doc["verdict"].startswith(f"the deep model is better than ridge regression by {base - deep:.3f} RMSE")
    worse = evaluation_document(
        y, {**scores, "mlp network": y + rng.normal(0, 15, 400)}, task="regression", primary="mlp network", data="x"
    )
    assert worse["verdict"].startswith("use ridge regression: it is better than the deep model by")


def test_multiclass_document_compares_log_loss() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    sharp = np.full((300, 3), 0.1)
    sharp[np.arange(300), y] = 0.8
    flat = np.full((300, 3), 1 / 3)
    doc = evaluation_document(
        y, {"LightGBM": flat, "mlp network": sharp}, task="multiclass", primary="mlp network", data="x"
    )
    assert list(doc["models"]) == ["mlp network", "LightGBM"] and doc["comparisons"] == []
    assert doc["verdict"].startswith("the deep model is better than LightGBM by") and "log loss" in doc["verdict"]
    json.dumps(doc, allow_nan=False)


def test_document_rejects_bad_arguments(scored: dict[str, Any]) -> None:
    y, scores = scored["y"], scored["scores"]
    with pytest.raises(ConfigError, match="primary is 'deepfm network'"):
        evaluation_document(y, scores, task="binary", primary="deepfm network", data="x")
    with pytest.raises(ConfigError, match="task is 'ranking'"):
        evaluation_document(y, scores, task="ranking", primary="mlp network", data="x")
    with pytest.raises(DataError, match="scores\\['LightGBM'\\] has 10"):
        evaluation_document(y, {**scores, "LightGBM": np.zeros(10)}, task="binary", primary="mlp network", data="x")
    with pytest.raises(ConfigError, match="binary task"):
        evaluation_document(
            np.arange(4.0), {"m": np.arange(4.0)}, task="regression", primary="m", data="x", groups=np.arange(4)
        )
