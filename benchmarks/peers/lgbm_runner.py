"""LightGBM on needmap's features: the numeric block as it is, categorical ids as category codes.

Boosting stops when the valid AUC has not improved for :data:`EARLY_STOPPING_ROUNDS` rounds and
keeps the best round. List features (multi-hot, sequences) are left out: LightGBM has no list input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.features import Prepared
from benchmarks.trainloop import HyperParams, RunResult, timed
from needmap.preprocessing.batch import FeatureBatch

EARLY_STOPPING_ROUNDS = 50
MAX_ROUNDS = 5000
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "auc",
    "learning_rate": 0.05,
    "num_leaves": 63,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "verbose": -1,
}


def design(x: FeatureBatch) -> np.ndarray:
    """float64 ``[n, n_numeric + n_categorical]``: numerics, then categorical ids."""
    return np.hstack([x.numeric.astype(np.float64), x.categorical.astype(np.float64)])


def run(prepared: Prepared, hp: HyperParams, seed: int) -> RunResult:
    import lightgbm as lgb

    categorical = list(range(prepared.n_numeric, prepared.n_numeric + len(prepared.cardinalities)))
    params = dict(PARAMS, seed=seed, num_threads=hp.threads or 0, deterministic=True, force_row_wise=True)
    train = lgb.Dataset(design(prepared.x_train), prepared.y_train, categorical_feature=categorical, free_raw_data=True)
    valid = lgb.Dataset(design(prepared.x_valid), prepared.y_valid, reference=train, categorical_feature=categorical)
    booster, seconds = timed(
        lambda: lgb.train(
            params,
            train,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
    )
    probs = booster.predict(design(prepared.x_test), num_iteration=booster.best_iteration)
    info = {
        "best_iteration": int(booster.best_iteration),
        "valid_auc": float(booster.best_score["valid_0"]["auc"]),
        "params": {k: v for k, v in params.items() if k != "verbose"},
        "lists_used": False,
        "version": lgb.__version__,
    }
    return RunResult(np.asarray(probs, dtype=np.float64), seconds, info)
