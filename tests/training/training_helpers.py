"""Synthetic FeatureBatch data with a known signal, for the training tests (a helper, not a test)."""

from __future__ import annotations

import numpy as np
import torch

from needmap.models import TabularModel, build_model
from needmap.preprocessing.batch import FeatureBatch
from reference_scores import batch_references

CARDS = [6, 4]
N_NUMERIC = 3


def synthetic(n: int, seed: int) -> tuple[FeatureBatch, np.ndarray]:
    """Features of n rows and a score [n]: 2*x0 - x1 + an effect of categorical column 0."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, N_NUMERIC)).astype(np.float32)
    categorical = np.stack([rng.integers(0, c, n) for c in CARDS], 1).astype(np.int64)
    effect = np.array([0.0, 0.0, 1.5, -1.5, 1.0, -1.0])
    score = 2 * numeric[:, 0] - numeric[:, 1] + effect[categorical[:, 0]]
    return FeatureBatch(numeric, categorical), score


def binary_data(n: int, seed: int) -> tuple[FeatureBatch, np.ndarray]:
    batch, score = synthetic(n, seed)
    rng = np.random.default_rng(seed + 100)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-score))).astype(np.int64)
    return batch, y


def small_mlp(n_outputs: int = 1, seed: int = 0, **hyper: object) -> TabularModel:
    torch.manual_seed(seed)
    params = {"hidden": [32, 16], "embedding_dim": 4, **hyper}
    return build_model("mlp", n_numeric=N_NUMERIC, cardinalities=CARDS, n_outputs=n_outputs, **params)


def best_column_auc(train: FeatureBatch, y_train: np.ndarray, valid: FeatureBatch, y_valid: np.ndarray) -> float:
    """The AUC of the best single column on the validation rows, fitted on the training rows: x0 alone ranks
    :func:`binary_data` rows about as well as a fixed 0.8, so a model that learned only x0 would pass that."""
    return float(batch_references(train, y_train, valid, y_valid, logistic=False)["best_column_auc"])
