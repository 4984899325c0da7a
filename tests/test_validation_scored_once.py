"""The training command scores its validation rows with the network once: the fit's validation metrics (and
calibrator) and the choice of the scorer read the same scores, which are those the trained model gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.data.provenance import take_rows
from needmap.predictor import Predictor
from needmap.workflows.train import run_train

SMALL = {"epochs": 1, "progress": False, "batch_size": 256, "hidden": (16,), "embedding_dim": 4}


@pytest.mark.parametrize("calibrate", [None, "isotonic"])
def test_the_fit_keeps_the_networks_validation_scores(bank_table: pa.Table, calibrate: str | None) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], calibrate=calibrate, **SMALL)
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
    assert fitted.metrics_["validation"]["auc"] == again["auc"] and fitted.metrics_["validation"]["n"] == again["n"]
    fitted.encoded_fit_rows_ = None
    assert fitted.fit_validation_scores() is None


def test_run_train_scores_the_validation_rows_with_the_network_once(
    bank_table: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    scored: list[int] = []
    network_score = Predictor.network_score

    def counted(self: Predictor, x: Any) -> np.ndarray:
        scored.append(len(x))
        return network_score(self, x)

    monkeypatch.setattr(Predictor, "network_score", counted)
    model = nm.Model("mlp", target="y", drop=["duration"], **SMALL)
    outcome = run_train(bank_table.slice(0, 3000), model, out=None, n_boot=20)
    validation_rows = outcome.model.report_["validation_rows"]
    test_rows = outcome.metrics["test"]["n"]
    assert validation_rows != test_rows
    assert scored.count(validation_rows) == 1, scored
    assert outcome.metrics["selection"]["rows"] == validation_rows
