"""The training command scores its validation rows with the network once: the fit's validation metrics (and
calibrator) and the choice of the scorer read the same scores, which are those the trained model gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch

import needmap as nm
import needmap.training.predict as predict_module
import needmap.training.trainer as trainer_module
from needmap.data.provenance import take_rows
from needmap.training.predict import forward_in_batches
from needmap.workflows.train import run_train

SMALL = {"epochs": 1, "progress": False, "batch_size": 256, "hidden": (16,), "embedding_dim": 4}


@pytest.mark.parametrize(
    ("target", "calibrate", "epochs"),
    [("y", None, 1), ("y", "isotonic", 1), ("y", None, 4), ("age", None, 3), ("marital", None, 2)],
)
def test_the_fit_keeps_the_networks_validation_scores(
    bank_table: pa.Table, target: str, calibrate: str | None, epochs: int
) -> None:
    """The scores kept are those the trained model gives the validation rows, bit for bit: from the epoch whose
    weights it keeps (with several epochs, often not the last), for binary, regression and multiclass targets."""
    options = {**SMALL, "epochs": epochs, "lr": 0.05 if epochs > 1 else 0.001}
    model = nm.Model("mlp", target=target, drop=["duration"], calibrate=calibrate, **options)
    table = bank_table.slice(0, 3000)
    fitted = model.fit(table, keep_encoded_rows=True).predictor_
    assert fitted is not None and fitted.encoded_fit_rows_ is not None and fitted.fit_rows_ is not None
    x_valid = fitted.encoded_fit_rows_["validation"]
    kept = fitted.fit_validation_scores()
    assert kept is not None and len(kept) == len(x_valid) == model.report_["validation_rows"]
    np.testing.assert_array_equal(kept, fitted.network_score(x_valid))  # calibrated with a calibrator
    assert (fitted.calibrator_ is not None) == (calibrate is not None)
    rows = take_rows(table, pa.array(fitted.fit_rows_["validation"]))
    again = fitted.evaluate_batch(x_valid, fitted.preprocessor_.encode_target(rows))
    kept_metrics = fitted.metrics_["validation"]
    shared = set(kept_metrics) & set(again)
    assert len(shared) >= 4 and {k: kept_metrics[k] for k in shared} == {k: again[k] for k in shared}
    history = model.result_.history
    assert len(history) == epochs
    if epochs == 4:  # these rows' best epoch is an earlier one: the scores kept are of the weights restored
        assert model.result_.best_epoch < epochs
    best = history[model.result_.best_epoch - 1]
    monitor = model.result_.monitor
    assert best[f"valid_{monitor}"] == pytest.approx(again[monitor], abs=1e-9) or calibrate is not None
    fitted.encoded_fit_rows_ = None
    assert fitted.fit_validation_scores() is None


def test_run_train_scores_the_validation_rows_with_the_network_once(
    bank_table: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    forwarded: list[int] = []  # the rows of each pass of the network without gradients

    def counted(model: Any, inputs: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        forwarded.append(inputs.rows)
        return forward_in_batches(model, inputs, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "forward_in_batches", counted)
    monkeypatch.setattr(predict_module, "forward_in_batches", counted)
    model = nm.Model("mlp", target="y", drop=["duration"], **SMALL)
    outcome = run_train(bank_table.slice(0, 3000), model, out=None, n_boot=20)
    validation_rows = outcome.model.report_["validation_rows"]
    test_rows = outcome.metrics["test"]["n"]
    assert validation_rows != test_rows and test_rows in forwarded
    assert forwarded.count(validation_rows) == 1, forwarded  # the epoch's validation pass, and no other
    assert outcome.metrics["selection"]["rows"] == validation_rows
