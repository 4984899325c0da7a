"""Cross-validated trials (``needmap tune --cv K``): each trial scored on k folds of the training rows, and
LightGBM tuned on the same folds as a fair contender.

One validation split of a few thousand rows often crowns a trial by noise. With ``cv``, the training part
(the test rows stay out, as without) is dealt into k folds once, as ``needmap train --cv`` deals them
(:func:`needmap.workflows.cv.fold_plan`). A trial trains a fresh copy of its configuration on each fold's
other rows (keeping the validation share of them for early stopping) and scores the fold with the task's
primary metric (:data:`needmap.workflows.cv.PRIMARY`); its value is the mean over the folds, and its record
keeps every fold's value, the mean and their spread. After each fold the running mean is reported to
optuna (step = folds scored) and, once :data:`MIN_FOLDS_BEFORE_PRUNING` folds are scored, the study's pruner
may stop a hopeless trial.

LightGBM gets the same treatment in a study of its own: the same folds, the same validation rows within
each fold (drawn with the same seed), the features encoded by the model's own preprocessing (none of the
searched options), a small search space (:func:`suggest_lightgbm`) whose first trial is the baseline's
configuration (:data:`needmap.workflows.baseline.LGBM_DEFAULTS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pyarrow as pa

from needmap.errors import ConfigError, NeedmapError
from needmap.estimator import Model
from needmap.preprocessing.batch import FeatureBatch
from needmap.schema import Schema
from needmap.workflows.baseline import LGBM_DEFAULTS, fit_lightgbm
from needmap.workflows.cv import PRIMARY, fit_fold, fold_metric, fold_parts, fold_plan
from needmap.workflows.study import best_so_far, default_tried, open_study, quiet_optuna, trial_record

#: Folds a trial is scored on before the pruner may stop it.
MIN_FOLDS_BEFORE_PRUNING = 2
#: The LightGBM study's name is the network study's with this after it.
LIGHTGBM_STUDY_SUFFIX = "-lightgbm"
LIGHTGBM = "LightGBM"


@dataclass(frozen=True)
class Folds:
    """The training rows of a search dealt into ``k`` folds, once for every trial.

    ``table``: the training rows (cleaned: each has a target); ``fold``: int64 ``[n]``, the fold of each of
    its rows; ``method``: how they were dealt ("stratified" or "random"); ``task``: the target's task.
    """

    table: pa.Table
    schema: Schema
    fold: np.ndarray
    k: int
    method: str
    task: str

    @property
    def metric(self) -> str:
        """The primary metric each fold is scored by (AUC, logloss or RMSE)."""
        return PRIMARY[self.task][0]

    def parts(self, f: int) -> tuple[pa.Table, pa.Table]:
        """The rows outside fold ``f`` (0-based; to train on) and inside it (to score)."""
        return fold_parts(self.table, self.fold, f)


def make_folds(table: pa.Table, schema: Schema, k: int, *, split: str, seed: int) -> Folds:
    """The rows of ``table`` dealt into ``k`` folds by ``split`` with ``seed`` (ConfigError for a time split,
    ``k`` < 2 or more folds than rows)."""
    fold, method = fold_plan(table, schema, k, split=split, seed=seed)
    return Folds(table, schema, fold, int(k), method, schema.task or "binary")


def report_fold(trial: optuna.Trial, values: Sequence[float], *, prune: bool) -> None:
    """After a fold: keep the fold values so far on ``trial`` (user attribute ``folds``), report their
    running mean at step = the number of folds scored, and, when ``prune`` and at least
    :data:`MIN_FOLDS_BEFORE_PRUNING` folds are scored, raise ``optuna.TrialPruned`` if the study's pruner
    says so."""
    trial.set_user_attr("folds", [float(v) for v in values])
    mean = float(np.mean(values))
    trial.report(mean, step=len(values))
    if prune and len(values) >= MIN_FOLDS_BEFORE_PRUNING and trial.should_prune():
        raise optuna.TrialPruned(f"mean {mean:.4f} after {len(values)} folds")


def _defined(value: float | None, metric: str, fold: int) -> float:
    if value is None or not math.isfinite(value):
        raise ConfigError(
            f"the {metric} of fold {fold} is undefined for this trial ({value}); expected a number.",
            hint="A fold with a single class has no AUC: fewer folds (--cv 3) give each fold more rows.",
        )
    return float(value)


def network_value(
    trial: optuna.Trial, candidate: Model, folds: Folds, *, validation: float, prune: bool, schema: Schema | None = None
) -> float:
    """The mean over the folds of ``candidate``'s primary metric, each fold scored by a copy trained on the
    other folds (:func:`needmap.workflows.cv.fit_fold`), reported fold by fold (:func:`report_fold`); trained
    with ``schema`` (a trial's own options of the columns), else the folds' schema."""
    values: list[float] = []
    for f in range(folds.k):
        rest, held = folds.parts(f)
        fitted, x_held, y_held = fit_fold(candidate, rest, held, schema=schema or folds.schema, validation=validation)
        values.append(_defined(fold_metric(folds.task, y_held, fitted.score(x_held)), folds.metric, f + 1))
        report_fold(trial, values, prune=prune)
    return float(np.mean(values))


@dataclass
class FoldFeatures:
    """One fold's rows encoded for LightGBM, as the network's preprocessing encodes them: the training rows
    (the other folds less their validation share), the validation rows (early stopping) and the fold's rows."""

    x_train: FeatureBatch
    y_train: np.ndarray
    x_valid: FeatureBatch | None
    y_valid: np.ndarray | None
    x_held: FeatureBatch
    y_held: np.ndarray
    cardinalities: list[int]
    list_cardinalities: list[int]


def fold_features(model: Model, folds: Folds, *, validation: float) -> list[FoldFeatures]:
    """Each fold's rows encoded by a preprocessor fitted on its training rows (:meth:`needmap.Model.prepare`:
    the split into training and validation rows a network trial of ``model`` makes in that fold)."""
    out = []
    for f in range(folds.k):
        rest, held = folds.parts(f)
        prepared = model.prepare(rest, validation=validation, schema=folds.schema)
        prep = prepared.preprocessor
        assert isinstance(prepared.x_train, FeatureBatch)
        out.append(
            FoldFeatures(
                prepared.x_train,
                prepared.y_train,
                prepared.x_valid,
                prepared.y_valid,
                prep.transform(held),
                prep.encode_target(held),
                list(prep.cardinalities_),
                [int(spec["cardinality"]) for spec in getattr(prep, "list_specs_", [])],
            )
        )
    return out


def suggest_lightgbm(trial: optuna.Trial) -> dict[str, Any]:
    """A trial's LightGBM options (:data:`~needmap.workflows.baseline.LGBM_DEFAULTS` are the baseline's)."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
    }


#: The baseline's options as the parameters of a first trial (lambda_l2 0 is below the log range: the
#: lowest value stands for it, and the trial runs with the exact defaults).
LIGHTGBM_DEFAULT_PARAMS: dict[str, Any] = {**LGBM_DEFAULTS, "lambda_l2": 1e-8}


def lightgbm_value(
    trial: optuna.Trial, features: Sequence[FoldFeatures], task: str, params: dict[str, Any], *, seed: int, prune: bool
) -> float:
    """The mean over the folds of LightGBM's primary metric with ``params``, trained on each fold's training
    rows with early stopping on its validation rows, reported fold by fold (:func:`report_fold`)."""
    values: list[float] = []
    for f, part in enumerate(features, start=1):
        base = fit_lightgbm(
            part.x_train,
            part.y_train,
            task,
            part.cardinalities,
            seed=seed,
            list_cardinalities=part.list_cardinalities,
            x_valid=part.x_valid,
            y_valid=part.y_valid,
            params=params,
        )
        values.append(_defined(fold_metric(task, part.y_held, base.predict(part.x_held)), PRIMARY[task][0], f))
        report_fold(trial, values, prune=prune)
    return float(np.mean(values))


def search_lightgbm(
    model: Model,
    folds: Folds,
    *,
    trials: int,
    storage: str,
    study_name: str,
    seed: int,
    pruner: optuna.pruners.BasePruner,
    validation: float,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Add ``trials`` LightGBM trials, scored on ``folds`` as the network's are, to the study ``study_name``
    in ``storage`` (made, or continued when it was made for the same target, metric and folds), its first
    trial the baseline's configuration (never pruned).

    ``progress``: called after each trial with its record, ``best`` (the best so far) and ``search``
    ("LightGBM"). Returns the search as ``tuning.json`` keeps it: :func:`search_summary` of every trial of
    the study, earlier runs included.
    """
    task = folds.task
    higher_better = PRIMARY[task][1]
    direction = "maximize" if higher_better else "minimize"
    about = {"model": LIGHTGBM, "target": folds.schema.target, "task": task, "metric": folds.metric, "cv": folds.k}
    features = fold_features(model, folds, validation=validation)

    def objective(trial: optuna.Trial) -> float:
        is_default = bool(trial.user_attrs.get("default"))
        params = dict(LGBM_DEFAULTS) if is_default else suggest_lightgbm(trial)
        trial.set_user_attr("options", params)
        try:
            return lightgbm_value(trial, features, task, params, seed=seed, prune=not is_default)
        except NeedmapError as err:
            trial.set_user_attr("error", str(err))
            raise

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress is not None:
            progress({**trial_record(trial), "best": best_so_far(study), "search": LIGHTGBM})

    with quiet_optuna():
        study = open_study(storage, study_name, direction, seed, pruner, about)
        if not any(default_tried(t) for t in study.get_trials(deepcopy=False)):
            study.enqueue_trial(LIGHTGBM_DEFAULT_PARAMS, user_attrs={"default": True})
        study.optimize(objective, n_trials=trials, catch=(NeedmapError,), callbacks=[report])
        every = study.get_trials(deepcopy=False)
    return search_summary(study_name, direction, every)


def search_summary(study_name: str, direction: str, trials: Sequence[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """``{"study_name", "trials": [trial_record], "best_trial", "best_value", "best_std", "best_params",
    "default_value"}``: the best complete trial by ``direction`` (the first of equals), its mean and spread
    over the folds; the best's keys are None when no trial completed."""
    records = [trial_record(t) for t in trials]
    complete = [r for r in records if r["state"] == "complete" and r["value"] is not None]
    pick = max if direction == "maximize" else min
    best = pick(complete, key=lambda r: r["value"]) if complete else None
    default = next((r for r in complete if r.get("default")), None)
    return {
        "study_name": study_name,
        "best_trial": None if best is None else best["number"],
        "best_value": None if best is None else best["value"],
        "best_std": None if best is None else best.get("std"),
        "best_params": None if best is None else best["params"],
        "default_value": None if default is None else default["value"],
        "trials": records,
    }
