"""The traditional baseline trained beside every deep model: logistic regression (Ridge for
regression) on the same preprocessed features and the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge

from needmap.features.batch import FeatureBatch


def _design(x: FeatureBatch, cardinalities: list[int]) -> sp.csr_matrix:
    """Scaled numerics beside a one-hot block per categorical column: sparse ``[n, n_num + sum(card)]``."""
    n = len(x)
    blocks = [sp.csr_matrix(x.numeric.astype(np.float64))]
    if x.categorical.shape[1]:
        offsets = np.concatenate([[0], np.cumsum(cardinalities)[:-1]]).astype(np.int64)
        cols = (x.categorical + offsets[None, :]).reshape(-1)
        rows = np.repeat(np.arange(n), x.categorical.shape[1])
        data = np.ones(len(cols), dtype=np.float64)
        blocks.append(sp.csr_matrix((data, (rows, cols)), shape=(n, int(sum(cardinalities)))))
    return sp.hstack(blocks, format="csr")


@dataclass
class Baseline:
    """A fitted baseline; ``name`` says which."""

    name: str
    estimator: Any
    task: str
    cardinalities: list[int]

    def predict(self, x: FeatureBatch) -> np.ndarray:
        """P(positive) ``[n]``, class probabilities ``[n, K]`` or predictions ``[n]``, like Model."""
        design = _design(x, self.cardinalities)
        if self.task == "binary":
            return self.estimator.predict_proba(design)[:, 1]
        if self.task == "multiclass":
            return self.estimator.predict_proba(design)
        return self.estimator.predict(design)


def fit_baseline(x: FeatureBatch, y: np.ndarray, task: str, cardinalities: list[int], seed: int = 0) -> Baseline:
    """Fit logistic regression (binary, multiclass; L2, C=1) or Ridge (regression) on ``x``."""
    design = _design(x, cardinalities)
    if task == "regression":
        return Baseline("ridge regression", Ridge(alpha=1.0).fit(design, y), task, cardinalities)
    estimator = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    estimator.fit(design, y)
    return Baseline("logistic regression", estimator, task, cardinalities)
