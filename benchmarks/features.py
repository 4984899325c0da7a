"""The one preprocessing every library of the benchmark reads: needmap's Preprocessor, fitted on train.

Categorical ids (0 = out-of-vocabulary, 1 = missing), scaled numerics with missing indicators and
padded list ids (0 = padding) are made once per (dataset, seed) and handed to needmap's models, to
the peer libraries and to the baselines alike.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.datasets import BenchData
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor


@dataclass
class Prepared:
    """Preprocessed parts of one split dataset.

    Attributes:
        dataset: dataset name.
        x_train, x_valid, x_test: features (numeric float32 ``[n, n_numeric]``, categorical int64
            ``[n, n_categorical]``, lists int64 ``[n, max_len_k]``).
        y_train, y_valid, y_test: float32 ``[n]`` 0/1 targets (1 = ``schema.classes[1]``).
        n_numeric: width of the numeric block (scaled columns, then missing indicators).
        cardinalities: ids per categorical column, reserved ids included.
        list_specs: the list features' specs (name, kind, cardinality, max_len, pooling, share).
        numeric_names, categorical_names: column names of the numeric and categorical blocks.
        seconds: time the preprocessing took (fit and three transforms).
    """

    dataset: str
    x_train: FeatureBatch
    x_valid: FeatureBatch
    x_test: FeatureBatch
    y_train: np.ndarray
    y_valid: np.ndarray
    y_test: np.ndarray
    n_numeric: int
    cardinalities: list[int]
    list_specs: list[dict[str, Any]] = field(default_factory=list)
    numeric_names: list[str] = field(default_factory=list)
    categorical_names: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def sequence_share(self) -> tuple[int, int] | None:
        """(list index, categorical index) of the first behaviour sequence that shares a categorical
        column's vocabulary (what DIN attends over), or None."""
        for k, spec in enumerate(self.list_specs):
            if spec.get("kind") == "sequence" and spec.get("share") is not None:
                return k, int(spec["share"])
        return None


FEATURE_SETS_HELP = "default (the dataset's schema as it is) or buckets:K (every numeric column as K quantile buckets)"


def with_feature_set(data: BenchData, features: str) -> BenchData:
    """``data`` with the numeric treatment ``features`` that every library then reads: 'default' keeps
    the schema (scaled numerics); 'buckets:K' turns every numeric column into K quantile buckets, an
    embedded categorical field (needmap's ``bucketize`` option) instead of a scaled number."""
    if features == "default":
        return data
    kind, _, value = features.partition(":")
    if kind != "buckets" or not value.isdigit() or int(value) < 2:
        raise ValueError(f"feature set {features!r}: expected {FEATURE_SETS_HELP}")
    columns = [
        dataclasses.replace(c, options={**c.options, "bucketize": int(value)}) if c.role == "numeric" else c
        for c in data.schema.columns
    ]
    return dataclasses.replace(data, schema=dataclasses.replace(data.schema, columns=columns))


def prepare(data: BenchData, config: PreprocessConfig | None = None) -> Prepared:
    """Fit needmap's Preprocessor on ``data.train`` and transform the three parts."""
    started = time.perf_counter()
    preprocessor = Preprocessor(data.schema, config or PreprocessConfig())
    x_train = preprocessor.fit_transform(data.train)
    list_specs = [dict(spec) for spec in getattr(preprocessor, "list_specs_", [])]
    if data.schema.lists and not list_specs:
        raise RuntimeError(
            f"dataset {data.name!r} has list columns {data.schema.lists} but this needmap's Preprocessor "
            "makes no list features (no list_specs_); expected a needmap with multihot/sequence support."
        )
    x_valid = preprocessor.transform(data.valid)
    x_test = preprocessor.transform(data.test)
    targets = [preprocessor.encode_target(part).astype(np.float32) for part in (data.train, data.valid, data.test)]
    return Prepared(
        dataset=data.name,
        x_train=x_train,
        x_valid=x_valid,
        x_test=x_test,
        y_train=targets[0],
        y_valid=targets[1],
        y_test=targets[2],
        n_numeric=int(preprocessor.n_numeric_),
        cardinalities=[int(c) for c in preprocessor.cardinalities_],
        list_specs=list_specs,
        numeric_names=list(preprocessor.numeric_names_),
        categorical_names=list(preprocessor.categorical_names_),
        seconds=time.perf_counter() - started,
    )
