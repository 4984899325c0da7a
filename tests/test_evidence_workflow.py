"""``needmap train`` says when its test rows cannot back its verdict (issue 20), on generated seeded tables:
a rare target trained with balanced class weights, labels independent of the features, spend that no
feature predicts; and through the command line, that the note is printed. Each trains: all are slow."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

import needmap as nm
from needmap.workflows.train import run_train
from test_cli import run

Z = norm.ppf(0.975)
OPTIONS = {"epochs": 3, "batch_size": 512, "hidden": [16], "progress": False, "threads": 2}


def table(n: int, seed: int, target: str) -> pa.Table:
    """Three numeric columns and a categorical one, and a target: 'rare' (about 0.9% positives, weakly tied
    to x0), 'noise' (20% positives, independent of every column) or 'spend' (log-normal, independent)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    columns = {"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "c": rng.choice(["a", "b", "c", "d"], size=n)}
    if target == "rare":
        y = (rng.random(n) < 1 / (1 + np.exp(-(-4.8 + 0.3 * x[:, 0])))).astype(np.int64)
    elif target == "noise":
        y = (rng.random(n) < 0.2).astype(np.int64)
    else:
        y = np.round(rng.lognormal(3.0, 1.2, size=n), 2)
    return pa.table({**columns, "y": y})


def null_half_width(n_pos: int, n_neg: int) -> float:
    """Hanley-McNeil at AUC 0.5 (the Mann-Whitney null variance), 95%."""
    return Z * math.sqrt((n_pos + n_neg + 1) / (12 * n_pos * n_neg))


def training_part(full: pa.Table, test: pa.Table) -> pa.Table:
    """The rows of ``full`` that are not test rows, in their order (as run_train keeps them): the generated x0
    values tell the rows apart."""
    keep = ~np.isin(full.column("x0").to_numpy(), test.column("x0").to_numpy())
    return full.filter(pa.array(keep))


@pytest.mark.slow
def test_a_rare_target_with_balanced_weights() -> None:
    full = table(10000, 0, "rare")
    model = nm.Model("mlp", target="y", class_weight="balanced", **OPTIONS)
    outcome = run_train(full, model, out=None, test_size=0.5, n_boot=200)
    y = outcome.test_table.column("y").to_numpy()
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    assert 30 <= positives <= 60  # about 44: a rare target's test part
    evidence = outcome.metrics["evidence"]
    json.dumps(evidence, allow_nan=False)
    assert (evidence["positives"], evidence["negatives"], evidence["few"]) == (positives, negatives, True)
    width = null_half_width(positives, negatives)
    note = (
        f"target 'y': the test rows hold {positives} positives (and {negatives:,} negatives): an AUC is known only "
        f"to ±{width:.2f} (95%) on so few;"
    )
    assert any(n.startswith(note) for n in outcome.notes), outcome.notes
    predictor = outcome.model.predictor_
    y_train = training_part(full, outcome.test_table).column("y").to_numpy()
    y_valid = y_train[predictor.fit_rows_["validation"]]
    v_pos, v_neg = int(y_valid.sum()), int(len(y_valid) - y_valid.sum())
    assert (evidence["validation"]["positives"], evidence["validation"]["negatives"]) == (v_pos, v_neg)
    assert any(
        n.startswith(f"target 'y': the validation rows hold {v_pos} positives (and {v_neg:,} negatives): an AUC is ")
        and f"±{null_half_width(v_pos, v_neg):.2f}" in n
        for n in outcome.notes
    ), outcome.notes
    # the network's own probabilities (the scorer chosen for the model may be another)
    p = predictor.network_score(predictor.preprocessor_.transform(outcome.test_table))
    assert evidence["models"]["mlp network"]["auc"] == pytest.approx(roc_auc_score(y, p))
    # balanced weights, corrected: the mean probability is the base rate up to the standard errors of the
    # rates of the rows that trained the network and of the test rows (4 of them), where the uncorrected
    # network's was tens of times higher
    y_fit = y_train[predictor.fit_rows_["train"]]
    rate = float(y.mean())
    tolerance = 4 * math.sqrt(rate * (1 - rate) * (1 / len(y_fit) + 1 / len(y)))
    assert abs(p.mean() - rate) < tolerance, (p.mean(), rate, y_fit.mean(), tolerance)


@pytest.mark.slow
def test_labels_independent_of_the_features() -> None:
    outcome = run_train(table(3000, 1, "noise"), nm.Model("mlp", target="y", **OPTIONS), out=None, n_boot=200)
    evidence = outcome.metrics["evidence"]
    assert evidence["signal"] is False and set(evidence["models"]) == {
        "mlp network",
        "logistic regression",
        "LightGBM",
    }
    y = outcome.test_table.column("y").to_numpy()
    (note,) = [n for n in outcome.notes if "no model predicts" in n]
    assert note.startswith(
        f"target 'y': no model predicts better than the base rate ({y.mean():.2%}) on the test rows: no model's 95% "
        "interval of its AUC lies above 0.5 ("
    )
    predictor = outcome.model.predictor_
    auc = roc_auc_score(y, predictor.network_score(predictor.preprocessor_.transform(outcome.test_table)))
    assert f"mlp network {auc:.3f} [" in note


@pytest.mark.slow
def test_spend_that_no_feature_predicts() -> None:
    full = table(3000, 2, "spend")
    outcome = run_train(full, nm.Model("mlp", target="y", **OPTIONS), out=None, n_boot=200)
    evidence = outcome.metrics["evidence"]
    json.dumps(evidence, allow_nan=False)
    assert evidence["signal"] is False
    y_train = training_part(full, outcome.test_table).column("y").to_numpy()
    mean = float(y_train[outcome.model.predictor_.fit_rows_["train"]].mean())  # the rows that trained the network
    assert evidence["trivial"]["mean"] == pytest.approx(mean, rel=1e-6)
    y = outcome.test_table.column("y").to_numpy()
    predictor = outcome.model.predictor_
    p = predictor.network_score(predictor.preprocessor_.transform(outcome.test_table))  # the network's own
    r2 = 1 - np.sum((y - p) ** 2) / np.sum((y - evidence["trivial"]["mean"]) ** 2)
    (note,) = [n for n in outcome.notes if "no model predicts" in n]
    assert note.startswith(f"target 'y': no model predicts better than the mean of the training rows ({mean:.4g})")
    assert f"mlp network {r2:.3f} [" in note


@pytest.mark.slow
def test_the_command_line_prints_the_notes(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    pacsv.write_csv(table(3000, 1, "noise"), path)
    code, output = run(
        "train", path, "--target", "y", "--out", tmp_path / "m", "--epochs", "3", "--batch-size", "512", "--quiet"
    )
    assert code == 0, output
    flat = " ".join(output.split())  # the console wraps long lines
    evidence = json.loads((tmp_path / "m" / "metrics.json").read_text())["evidence"]
    assert evidence["signal"] is False
    assert "note: target 'y': no model predicts better than the base rate" in flat
    pos, neg = evidence["positives"], evidence["negatives"]
    width = null_half_width(pos, neg)
    held = f"note: target 'y': the test rows hold {pos} positives (and {neg:,} negatives): an AUC is known only to "
    assert f"{held}±{width:.2f}" in flat
