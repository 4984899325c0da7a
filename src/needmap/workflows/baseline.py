"""The traditional baseline trained beside every deep model: logistic regression (Ridge for
regression) on the same preprocessed features and the same rows; one per target of a multi-task
model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge

from needmap.features.batch import FeatureBatch


def _list_block(ids: np.ndarray, cardinality: int) -> sp.csr_matrix:
    """Bag of ids of one list feature: sparse ``[n, cardinality]``, the share of the row's non-padding
    positions that hold each id (padding id 0 is left out; an empty list is a row of zeros)."""
    n, width = ids.shape
    rows = np.repeat(np.arange(n), width)
    cols = ids.reshape(-1)
    present = cols != 0
    lengths = np.maximum((ids != 0).sum(axis=1), 1).astype(np.float64)
    data = 1.0 / lengths[rows[present]]
    return sp.csr_matrix((data, (rows[present], cols[present])), shape=(n, int(cardinality)))


def _design(x: FeatureBatch, cardinalities: list[int], list_cardinalities: Sequence[int] = ()) -> sp.csr_matrix:
    """Scaled numerics, a one-hot block per categorical column and a bag-of-ids block per list
    feature: sparse ``[n, n_num + sum(cardinalities) + sum(list_cardinalities)]``."""
    n = len(x)
    blocks = [sp.csr_matrix(x.numeric.astype(np.float64))]
    if x.categorical.shape[1]:
        offsets = np.concatenate([[0], np.cumsum(cardinalities)[:-1]]).astype(np.int64)
        cols = (x.categorical + offsets[None, :]).reshape(-1)
        rows = np.repeat(np.arange(n), x.categorical.shape[1])
        data = np.ones(len(cols), dtype=np.float64)
        blocks.append(sp.csr_matrix((data, (rows, cols)), shape=(n, int(sum(cardinalities)))))
    for ids, cardinality in zip(x.lists, list_cardinalities, strict=False):
        blocks.append(_list_block(ids, cardinality))
    return sp.hstack(blocks, format="csr")


@dataclass
class Baseline:
    """A fitted baseline; ``name`` says which."""

    name: str
    estimator: Any
    task: str
    cardinalities: list[int]
    list_cardinalities: list[int] = field(default_factory=list)

    def predict(self, x: FeatureBatch) -> np.ndarray:
        """P(positive) ``[n]``, class probabilities ``[n, K]`` or predictions ``[n]``, like Model."""
        design = _design(x, self.cardinalities, self.list_cardinalities)
        if self.task == "binary":
            return self.estimator.predict_proba(design)[:, 1]
        if self.task == "multiclass":
            return self.estimator.predict_proba(design)
        return self.estimator.predict(design)


def fit_baseline(
    x: FeatureBatch,
    y: np.ndarray,
    task: str,
    cardinalities: list[int],
    seed: int = 0,
    list_cardinalities: Sequence[int] = (),
) -> Baseline:
    """Fit logistic regression (binary, multiclass; L2, C=1) or Ridge (regression) on ``x``.

    ``list_cardinalities``: ids of each list feature of ``x`` (``cardinality`` of the
    preprocessor's ``list_specs_``); lists without one are left out of the design.
    """
    lists = [int(c) for c in list_cardinalities]
    design = _design(x, cardinalities, lists)
    if task == "regression":
        return Baseline("ridge regression", Ridge(alpha=1.0).fit(design, y), task, cardinalities, lists)
    estimator = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    estimator.fit(design, y)
    return Baseline("logistic regression", estimator, task, cardinalities, lists)


def fit_baselines(
    x: FeatureBatch,
    y: np.ndarray,
    tasks: Sequence[str],
    cardinalities: list[int],
    seed: int = 0,
    list_cardinalities: Sequence[int] = (),
) -> list[Baseline]:
    """One baseline per target of a multi-task model: ``y`` ``[n, T]``, ``tasks`` of length T; each is
    fitted on the rows that have its target (not NaN)."""
    bases = []
    for t, task in enumerate(tasks):
        labelled = ~np.isnan(np.asarray(y[:, t], dtype=np.float64))
        rows = (x, y[:, t]) if labelled.all() else (x.take(np.flatnonzero(labelled)), y[labelled, t])
        bases.append(fit_baseline(*rows, task, cardinalities, seed=seed, list_cardinalities=list_cardinalities))
    return bases
