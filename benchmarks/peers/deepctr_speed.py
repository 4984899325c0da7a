"""DeepCTR-Torch's own Criteo pipeline for the speed benchmark, timed stage by stage.

It follows DeepCTR-Torch's README / docs example for Criteo (``examples/run_classification_criteo.py``):
pandas, ``fillna`` ("-1" for categories, 0 for counts), one ``sklearn.preprocessing.LabelEncoder`` per
categorical column, ``MinMaxScaler`` on the numeric columns, ``SparseFeat`` / ``DenseFeat`` columns,
``get_feature_names``, ``model.compile("adam", "binary_crossentropy")``, ``model.fit`` and
``model.predict``. The departures the benchmark needs (see :mod:`benchmarks.speed_common`): the split
is the shared one (first 90% of the rows train, last 10% test, no validation split), the encoders and
the scaler are fitted on the training rows only, a test category unseen in training maps to one extra
"unknown" id per column (vocabulary = training uniques + 1; ``LabelEncoder.transform`` would raise on
it), and the model sizes are the shared ones (embedding 16, DNN 400-400-400 ReLU, no dropout, no L2,
Adam at lr 1e-3, batch 4,096; DCN with 3 matrix cross layers, i.e. DCN-v2).

What is timed (wall-clock, :func:`benchmarks.speed_common.timed`):

* ``preprocess_s``: the raw Parquet read (pyarrow reads the file, the training rows go to pandas), ``fillna``, the
  ``LabelEncoder.fit_transform`` of every categorical column, the unknown-id lookup tables of the
  fitted classes, ``MinMaxScaler.fit_transform``, the feature columns and the model-input dict.
* model building: the DeepCTR model's constructor and ``compile`` (counted in ``end_to_end_s`` only).
* ``train_s``: the ``model.fit(...)`` call alone (``verbose=0``, ``validation_split=0``, no metrics).
* ``score_s``: the test rows from the raw file to a Parquet file of scores: read (the whole file is
  read and the test rows sliced off, as for every library of the benchmark), the fitted encoders and
  scaler, the input dict, ``model.predict``, the write.
* ``predict_rows_per_s``: ``model.predict(test_input, batch_size=4096)`` on already-encoded test rows.
* ``one_row_p50_ms`` / ``one_row_p99_ms``: one raw row (a dict) through the same fitted preprocessing
  (dict lookups built from the encoders' classes, the scaler's ``scale_`` / ``min_``) and
  ``model.predict(input, batch_size=1)``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from benchmarks.peers.deepctr_runner import _import_deepctr
from benchmarks.speed_common import (
    BATCH_SIZE,
    CATEGORICAL,
    CROSS_LAYERS,
    EMBEDDING_DIM,
    HIDDEN,
    LABEL,
    LR,
    NUMERIC,
    CaseResult,
    auc,
    one_row_latency,
    raw_rows,
    split_rows,
    test_file,
    timed,
)

MODELS: tuple[str, ...] = ("deepfm", "dcn")
MISSING_CATEGORY = "-1"  # the README's fillna token for categorical columns
SEED = 0


@dataclass
class Fitted:
    """The preprocessing fitted on the training rows, and what the model reads."""

    encoders: dict[str, Any]  # column -> fitted LabelEncoder
    indexes: dict[str, pd.Index]  # column -> pd.Index of the encoder's classes (vectorized unknown-safe lookup)
    scaler: Any  # fitted MinMaxScaler over NUMERIC
    columns: list[Any]  # DeepCTR SparseFeat / DenseFeat columns (linear and DNN parts alike)
    feature_names: list[str]

    def unknown(self, column: str) -> int:
        """The id of a category this column's encoder did not see in training."""
        return len(self.encoders[column].classes_)

    def transform(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model input dict of raw rows (the README's fillna, then the fitted encoders and scaler)."""
        inputs: dict[str, np.ndarray] = {}
        for column in CATEGORICAL:
            values = frame[column].fillna(MISSING_CATEGORY).to_numpy(dtype=object)
            codes = self.indexes[column].get_indexer(values)
            codes[codes < 0] = self.unknown(column)
            inputs[column] = codes.astype(np.int64, copy=False)
        dense = self.scaler.transform(frame[NUMERIC].fillna(0))
        for j, column in enumerate(NUMERIC):
            inputs[column] = dense[:, j]
        return {name: inputs[name] for name in self.feature_names}


def _read(data: Path, rows: slice) -> pd.DataFrame:
    """Rows ``rows`` of the raw Parquet file as a pandas frame (pyarrow reads the file, pandas holds the rows)."""
    table = pq.read_table(data)
    stop = table.num_rows if rows.stop is None else rows.stop
    return table.slice(rows.start, stop - rows.start).to_pandas()


def _preprocess(train: pd.DataFrame) -> tuple[Fitted, dict[str, np.ndarray]]:
    """The README's preprocessing fitted on the training rows: (fitted state, training input dict)."""
    from sklearn.preprocessing import LabelEncoder, MinMaxScaler

    _import_deepctr()  # before deepctr_torch.inputs: keeps its version check off the network
    from deepctr_torch.inputs import DenseFeat, SparseFeat, get_feature_names

    encoders: dict[str, Any] = {}
    inputs: dict[str, np.ndarray] = {}
    for column in CATEGORICAL:
        encoder = LabelEncoder()
        inputs[column] = encoder.fit_transform(train[column].fillna(MISSING_CATEGORY))
        encoders[column] = encoder
    scaler = MinMaxScaler(feature_range=(0, 1))
    dense = scaler.fit_transform(train[NUMERIC].fillna(0))
    for j, column in enumerate(NUMERIC):
        inputs[column] = dense[:, j]
    indexes = {column: pd.Index(encoders[column].classes_) for column in CATEGORICAL}
    columns = [
        SparseFeat(column, len(encoders[column].classes_) + 1, embedding_dim=EMBEDDING_DIM) for column in CATEGORICAL
    ] + [DenseFeat(column, 1) for column in NUMERIC]
    feature_names = get_feature_names(columns + columns)
    fitted = Fitted(encoders, indexes, scaler, columns, feature_names)
    return fitted, {name: inputs[name] for name in feature_names}


def _build(model: str, columns: list[Any], device: str = "cpu") -> Any:
    """DeepCTR-Torch's DeepFM or DCN (matrix cross layers) with the shared sizes, compiled with Adam."""
    models = _import_deepctr().models
    common: dict[str, Any] = {
        "dnn_hidden_units": HIDDEN,
        "dnn_dropout": 0.0,
        "dnn_activation": "relu",
        "l2_reg_linear": 0.0,
        "l2_reg_embedding": 0.0,
        "l2_reg_dnn": 0.0,
        "seed": SEED,
        "task": "binary",
        "device": "cuda:0" if device == "cuda" else device,
    }
    if model == "deepfm":
        net = models.DeepFM(columns, columns, **common)
    elif model == "dcn":
        net = models.DCN(
            columns, columns, cross_num=CROSS_LAYERS, cross_parameterization="matrix", l2_reg_cross=0.0, **common
        )
    else:
        raise ValueError(f"unknown DeepCTR-Torch model {model!r}; expected one of {', '.join(MODELS)}")
    net.compile(torch.optim.Adam(net.parameters(), lr=LR), "binary_crossentropy", metrics=None)
    return net


def _one_row(fitted: Fitted, net: Any) -> Any:
    """predict_one(raw row dict) -> score, by the batch path's preprocessing on one row."""
    lookups = {
        column: {value: i for i, value in enumerate(fitted.encoders[column].classes_.tolist())}
        for column in CATEGORICAL
    }
    unknown = {column: fitted.unknown(column) for column in CATEGORICAL}
    scale, offset = fitted.scaler.scale_, fitted.scaler.min_

    def predict_one(row: dict[str, Any]) -> np.ndarray:
        inputs: dict[str, np.ndarray] = {}
        for column in CATEGORICAL:
            value = row[column]
            code = lookups[column].get(MISSING_CATEGORY if value is None else value, unknown[column])
            inputs[column] = np.array([code], dtype=np.int64)
        counts = np.array([[0.0 if row[column] is None else row[column] for column in NUMERIC]], dtype=np.float64)
        dense = counts * scale + offset  # MinMaxScaler.transform's arithmetic
        for j, column in enumerate(NUMERIC):
            inputs[column] = dense[:, j]
        return net.predict({name: inputs[name] for name in fitted.feature_names}, batch_size=1)

    return predict_one


def run_case(
    model: str, data: Path, threads: int, epochs: int = 1, precision: str = "fp32", device: str = "cpu"
) -> CaseResult:
    """DeepCTR-Torch's README pipeline for ``model`` ("deepfm" or "dcn") on the Criteo-shaped file ``data``."""
    if precision != "fp32":
        raise ValueError("DeepCTR-Torch has no bf16 option")
    if model not in MODELS:
        raise ValueError(f"unknown DeepCTR-Torch model {model!r}; expected one of {', '.join(MODELS)}")
    torch.set_num_threads(threads)
    deepctr = _import_deepctr()
    n = pq.ParquetFile(data).metadata.num_rows
    train_rows, test_rows = split_rows(n)

    def preprocess() -> tuple[Fitted, dict[str, np.ndarray], np.ndarray]:
        train = _read(data, train_rows)
        fitted, train_input = _preprocess(train)
        return fitted, train_input, train[[LABEL]].to_numpy()

    (fitted, train_input, y), preprocess_s = timed(preprocess)
    net, build_s = timed(lambda: _build(model, fitted.columns, device))
    _, train_s = timed(
        lambda: net.fit(train_input, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, validation_split=0.0)
    )
    out = CaseResult(
        "deepctr", model, precision, device, train_rows=len(y), test_rows=n - test_rows.start, epochs=epochs
    )
    out.preprocess_s, out.train_s = preprocess_s, train_s
    out.train_rows_per_s = len(y) * epochs / train_s
    out.end_to_end_s = preprocess_s + build_s + train_s

    with tempfile.TemporaryDirectory() as tmp:

        def score() -> tuple[dict[str, np.ndarray], np.ndarray]:
            raw = _read(test_file(data), slice(0, None))
            test_input = fitted.transform(raw)
            scores = net.predict(test_input, batch_size=BATCH_SIZE)
            pd.DataFrame({"score": scores[:, 0]}).to_parquet(Path(tmp) / "scores.parquet")
            return test_input, raw[LABEL].to_numpy()

        (test_input, y_test), out.score_s = timed(score)
    out.score_rows_per_s = out.test_rows / out.score_s
    probs, predict_s = timed(lambda: net.predict(test_input, batch_size=BATCH_SIZE))
    out.predict_rows_per_s = out.test_rows / predict_s
    out.test_auc = auc(y_test, probs[:, 0])
    unseen = {column: float((test_input[column] == fitted.unknown(column)).mean()) for column in CATEGORICAL}
    out.one_row_p50_ms, out.one_row_p99_ms = one_row_latency(_one_row(fitted, net), raw_rows(data))

    vocabulary = sum(len(fitted.encoders[column].classes_) + 1 for column in CATEGORICAL)
    out.notes += [
        f"deepctr-torch {deepctr.__version__}; the README's Criteo recipe with LabelEncoder/MinMaxScaler fitted on "
        f"the training rows; model building {build_s:.2f}s is in end_to_end_s only",
        f"unseen test categories map to one extra id per column (vocabulary = training uniques + 1, "
        f"{vocabulary:,} ids in all); the test-side lookup is pd.Index(encoder.classes_).get_indexer, since "
        f"LabelEncoder.transform raises on unseen values; largest unseen share {max(unseen.values()):.1%} "
        f"({max(unseen, key=unseen.__getitem__)})",
        "fit/predict concatenate the input dict into one float64 array (ids as floats) and feed it through a "
        "torch DataLoader over a TensorDataset, which indexes and stacks the batch row by row in Python; "
        "embeddings are dense (nn.Embedding sparse=False), so Adam updates every table row every step; "
        "the loss is binary_cross_entropy (reduction='sum') on the model's sigmoid output",
        "one-row path: dict lookups built from the encoders' classes and the scaler's scale_/min_ arithmetic "
        "(the batch path's preprocessing), then model.predict(input, batch_size=1)",
    ]
    return out
