"""Every zoo model learns on real data: 6,000 random rows of bank marketing, needmap's own preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import torch

import needmap as nm
from needmap.data.infer import infer_schema
from needmap.datasets import bank_marketing_path
from needmap.metrics import binary_metrics
from needmap.models import build_model
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import Preprocessor
from needmap.training import TrainConfig, Trainer, predict_proba
from reference_scores import batch_references

BANK = bank_marketing_path()  # the whole file, as needmap ships it
ZOO = ["lr", "fm", "wide_deep", "deepfm", "dcnv2", "xdeepfm", "autoint", "finalmlp", "finalnet"]
N_TRAIN = 4500


@pytest.fixture(scope="module")
def bank() -> tuple[Preprocessor, FeatureBatch, np.ndarray, FeatureBatch, np.ndarray]:
    """6,000 random rows (the file is sorted by date), 4,500 to train and 1,500 to test, without `duration`."""
    table = pcsv.read_csv(BANK, parse_options=pcsv.ParseOptions(delimiter=";"))
    rows = np.random.default_rng(0).choice(table.num_rows, 6000, replace=False)
    table = table.take(pa.array(rows))
    train, test = table.slice(0, N_TRAIN), table.slice(N_TRAIN)
    preprocessor = Preprocessor(infer_schema(train, "y", drop=["duration"]))
    x_train = preprocessor.fit_transform(train)
    x_test = preprocessor.transform(test)
    return preprocessor, x_train, preprocessor.encode_target(train), x_test, preprocessor.encode_target(test)


@pytest.fixture(scope="module")
def reference(bank: tuple) -> dict[str, object]:
    """What the obvious reaches on the test rows: the best single column (``nr.employed``), fitted on the
    training rows; logistic regression for the record."""
    preprocessor, x_train, y_train, x_test, y_test = bank
    names = {"numeric_names": preprocessor.numeric_names_, "categorical_names": preprocessor.categorical_names_}
    return batch_references(x_train, y_train, x_test, y_test, **names)


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_model_beats_the_best_single_column_on_bank_marketing(name: str, bank: tuple, reference: dict) -> None:
    preprocessor, x_train, y_train, x_test, y_test = bank
    n_fields = len(preprocessor.cardinalities_)  # 10 categorical columns and the numerics' value fields
    assert x_train.numeric.shape[1] == preprocessor.n_numeric_ and x_train.categorical.shape == (N_TRAIN, n_fields)
    assert n_fields > 10
    torch.manual_seed(0)
    model = build_model(
        name, n_numeric=preprocessor.n_numeric_, cardinalities=list(preprocessor.cardinalities_), n_outputs=1
    )
    # lr 3e-3: the linear terms start at zero and 3 short epochs (27 steps) must move them.
    config = TrainConfig(epochs=3, lr=3e-3, patience=None, progress=False, seed=0, threads=1)
    result = Trainer(model, "binary", config).fit(x_train, y_train)
    auc = binary_metrics(y_test, predict_proba(model, x_test))["auc"]
    assert auc > reference["best_column_auc"], (name, auc, reference, result.history)
    assert result.history[-1]["loss"] < result.history[0]["loss"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deepfm", "finalnet"])
def test_estimator_fits_saves_and_loads_a_zoo_model(name: str, bank_table: pa.Table, tmp_path: Path) -> None:
    train, new_rows = bank_table.slice(0, 2500), bank_table.slice(2500)
    model = nm.Model(name, target="y", drop=["duration"], epochs=2, progress=False, threads=1, hidden=[32, 16])
    model.fit(train, validation=0.2)
    assert model.network_ is not None and model.network_.config()["hidden"] == [32, 16]
    path = model.save(tmp_path / name)
    loaded = nm.load(path)
    assert loaded.model == name
    assert type(loaded.network_) is type(model.network_)
    np.testing.assert_array_equal(loaded.predict_proba(new_rows), model.predict_proba(new_rows))
    assert loaded.evaluate(new_rows)["auc"] == model.evaluate(new_rows)["auc"]
