"""The tune workflow: an optuna search of a model's options, scored on validation rows, then the best
configuration retrained and saved as a normal model directory.

read -> schema -> checks (once) -> the same test split as ``needmap train`` (the test rows are never seen
by the search) -> trials: each trains on the training part, with the same validation share, and is
scored by its best validation metric (AUC, or logloss / RMSE), hopeless ones pruned by the median rule;
with ``cv``, each trial is scored by the mean over k folds of the training part instead, and LightGBM is
tuned on the same folds beside it (:mod:`needmap.workflows.tune_cv`) -> the best configuration trained
again with :func:`needmap.workflows.train.run_train` (test metrics beside the baselines) -> ``<out>/model``
with ``tuning.json`` (every trial).

The study lives in a database (``<out>/study.db``, SQLite, or a PostgreSQL URL): running the same
command again adds trials to it. Its first trial is the default configuration, so the improvement over
the defaults is always measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pyarrow as pa

from needmap.artifact import model_destination
from needmap.data.provenance import source_of, take_rows
from needmap.errors import ConfigError, NeedmapError
from needmap.estimator import Model, clone
from needmap.preprocessing.roles_schema import target_list
from needmap.schema import Schema
from needmap.workflows.cv import FOLD_METHODS, PRIMARY, check_fold_count
from needmap.workflows.evaluation import json_safe
from needmap.workflows.event_split import default_split
from needmap.workflows.search_space import default_options, default_params, suggest_options
from needmap.workflows.study import best_so_far, default_tried, open_study, quiet_optuna, redact, trial_record
from needmap.workflows.train import TrainOutcome, run_train
from needmap.workflows.train_table import split_rows
from needmap.workflows.tune_cv import LIGHTGBM, LIGHTGBM_STUDY_SUFFIX, make_folds, network_value, search_lightgbm

STUDY_FILE = "study.db"
MODEL_DIR = "model"
#: Trials before the pruner compares, and epochs of a trial before it may be pruned.
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_EPOCHS = 2
METRIC_LABEL = {"auc": "AUC", "logloss": "logloss", "rmse": "RMSE"}


@dataclass
class TuneOutcome:
    """What a search produced, for printing and for tests.

    ``trials``: every trial of the study (earlier runs included), as in ``tuning.json``;
    ``train``: the best configuration retrained by ``run_train`` and saved at ``model_dir``;
    ``train_index`` / ``test_index``: row positions (in the table after rows without a target are left
    out) the search trained and validated on / held out, the test rows ``needmap train`` holds out.
    With ``cv``: ``folds``, the fold of each training row (``folds[i]`` of row ``train_index[i]``), and
    ``lightgbm``, LightGBM's search on the same folds (:func:`needmap.workflows.tune_cv.search_summary`;
    None when it was not tuned).
    """

    study_name: str
    storage: str
    direction: str
    metric: str
    best_value: float
    best_params: dict[str, Any]
    default_value: float | None
    trials: list[dict[str, Any]]
    train: TrainOutcome
    out: Path
    model_dir: Path
    train_index: np.ndarray
    test_index: np.ndarray
    document: dict[str, Any] = field(default_factory=dict)
    cv: int | None = None
    folds: np.ndarray | None = None
    lightgbm: dict[str, Any] | None = None


def default_study_name(table: pa.Table, model: Model) -> str:
    """``needmap-<data file name>-<target>-<model>``: named after what the user chose, so that another file or
    target starts a study of its own (``needmap-<target>-<model>`` for a table read from no file)."""
    source = source_of(table)
    stem = Path(source).name.split(".")[0] if source else ""
    target = "+".join(target_list(model.target, table))
    return "-".join(part for part in ("needmap", stem, target, model.model) if part)


def pruning_callback(trial: optuna.Trial, metric: str, *, prune: bool = True) -> Callable[[dict[str, Any]], None]:
    """An ``on_epoch`` hook for :meth:`Model.fit`: reports each epoch's ``valid_<metric>`` to ``trial``
    (step = epoch - 1: epoch 1 is step 0, so a pruner's ``n_warmup_steps=2`` spares the first 2 epochs)
    and, when ``prune`` and the study's pruner says so, raises ``optuna.TrialPruned``, which ends the fit."""

    def on_epoch(entry: dict[str, Any]) -> None:
        value = entry.get(f"valid_{metric}")
        if value is None or not math.isfinite(value):
            return
        trial.report(float(value), step=int(entry["epoch"]) - 1)
        if prune and trial.should_prune():
            raise optuna.TrialPruned(f"validation {metric} {value:.4f} at epoch {entry['epoch']}")

    return on_epoch


def short_params(options: Mapping[str, Any]) -> str:
    """``{'lr': 0.00031, 'hidden': [128, 64]}`` -> ``'lr=0.00031 hidden=128,64'``."""
    parts = []
    for key, value in options.items():
        if isinstance(value, (list, tuple)):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = ",".join(f"{k}:{v}" for k, v in value.items()) or "none"
        elif isinstance(value, float):
            text = f"{value:.3g}"
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def run_tune(
    table: pa.Table,
    model: Model,
    *,
    trials: int | None,
    timeout_s: float | None,
    out: str | Path,
    storage: str | None = None,
    study_name: str | None = None,
    test_size: float = 0.2,
    split: str | None = None,
    time_column: str | None = None,
    validation: float = 0.1,
    seed: int = 0,
    progress: Callable[[dict[str, Any]], None] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    train_options: Mapping[str, Any] | None = None,
    cv: int | None = None,
    tune_lightgbm: bool = True,
) -> TuneOutcome:
    """Search ``model``'s options on ``table``, retrain the best configuration and save it.

    Args:
        table: all labelled rows (Arrow table from needmap.read).
        model: an unfitted Model: its column roles and every option it was given stay fixed; the
            others (:mod:`needmap.workflows.search_space`) are searched.
        trials: trials to ADD to the study (a study found in ``storage`` continues); None: until ``timeout_s``.
        timeout_s: seconds after which no new trial starts (a running one finishes); None: ``trials`` only.
        out: folder of ``study.db`` (the default storage) and ``model/`` (the best model directory).
        storage: a database URL (``sqlite:///...``, ``postgresql://user@host/db``); None: ``<out>/study.db``.
        study_name: None: :func:`default_study_name`.
        test_size, split, time_column, seed: the test split, the same as ``needmap train``'s with these
            options; ``seed`` is also the sampler's and every trial's training seed.
        validation: share of the training part each trial validates on (0 < validation < 1); with ``cv``,
            the share of each fold's training rows kept for early stopping.
        progress: called after each trial with :func:`trial_record` plus ``best`` (the best value so far);
            a LightGBM trial's record also has ``search: "LightGBM"``.
        pruner: None: the median rule (``MedianPruner(5, 2)``): from the 6th trial, a trial whose epoch
            is worse than the median of earlier trials at that epoch stops (from its 3rd epoch); with ``cv``,
            whose running mean over the folds is worse than the median of earlier trials' after as many
            folds (from its 2nd fold).
        train_options: further keywords of :func:`needmap.workflows.train.run_train` for the best
            configuration's final training (e.g. ``contact_cost``, ``calibrate``, ``track``).
        cv: None: each trial is scored on the validation rows. K (>= 2): on K folds of the training part
            (:mod:`needmap.workflows.tune_cv`; not with a time split): its value is the mean of the folds'
            primary metric, its record keeps each fold's value, the mean and their spread; the study
            (``needmap-<data>-<target>-<model>-cv<K>`` by default) is one of K-fold trials only.
        tune_lightgbm: with ``cv``, also tune LightGBM with as many trials as the network's on the same
            folds, in a study of its own (``<study>-lightgbm``); its best goes to ``tuning.json``'s
            ``lightgbm`` beside the network's.

    Returns: a :class:`TuneOutcome`; ``tuning.json`` in the model directory holds its ``document``.
    Raises: ConfigError for a bad option, an unreachable storage, or a search in which every trial failed.
    """
    if trials is None and timeout_s is None:
        raise ConfigError("no limit for the search; expected a number of trials (--trials N) or a time (--time 10m).")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise ConfigError(f"trials is {trials!r}; expected a whole number of at least 1.")
    if timeout_s is not None and not timeout_s > 0:
        raise ConfigError(f"the time limit is {timeout_s!r} seconds; expected a positive duration.")
    if not 0 < validation < 1:
        raise ConfigError(f"validation is {validation}; each trial is scored on validation rows, expected 0 < v < 1.")
    split = default_split(split, table)
    if cv is not None:
        check_fold_count(cv)
        if split not in FOLD_METHODS:
            raise ConfigError(
                f"cv={cv} scores each trial on folds of shuffled training rows, and the split is {split!r}; "
                f"expected a split of {' or '.join(FOLD_METHODS)} with cv, or no cv.",
                hint="With a time split, tune without --cv: each trial is then scored on its validation rows.",
            )
    schema = model.infer_schema(table)
    if len(schema.heads) > 1:
        raise ConfigError(
            f"tune searches a model of one target; got several ({model.target}). Expected one --target column."
        )
    task = schema.task or "binary"
    metric, higher_better = PRIMARY[task]
    direction = "maximize" if higher_better else "minimize"
    model = clone(model).set_params(seed=seed)  # the split's, the sampler's and every trial's seed

    # The rows are cleaned and split once; every trial trains on the same training part.
    clean, _ = model.clean(table, schema)
    train_idx, test_idx, _ = split_rows(
        clean, schema, test_size=test_size, split=split, time_column=time_column, seed=seed
    )
    train_table = take_rows(clean, pa.array(train_idx))
    folds = None if cv is None else make_folds(train_table, schema, cv, split=split, seed=seed)

    out = Path(out)
    model_destination(out / MODEL_DIR)  # before the search, not after it
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out / STUDY_FILE).resolve()}"
    study_name = study_name or default_study_name(table, model) + ("" if cv is None else f"-cv{cv}")
    about = {"model": model.model, "target": schema.target, "task": task, "metric": metric}
    if cv is not None:  # a study of K-fold means: no single-split trial joins it, nor one of other folds
        about["cv"] = cv
    pruner = pruner or optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EPOCHS
    )
    defaults = default_options(model)

    def objective(trial: optuna.Trial) -> float:
        is_default = bool(trial.user_attrs.get("default"))
        options = suggest_options(trial, model)
        if is_default:  # exactly the defaults, also where the space only comes near them
            options = defaults
        trial.set_user_attr("options", options)
        # scored by the network's own scores: without the calibration
        candidate = clone(model).set_params(**options, progress=False, calibrate=None)
        try:
            trial_schema = schema_of(candidate, model, table, schema)
            if folds is not None:
                return network_value(
                    trial, candidate, folds, validation=validation, prune=not is_default, schema=trial_schema
                )
            candidate.fit(
                train_table,
                validation=validation,
                schema=trial_schema,
                on_epoch=pruning_callback(trial, metric, prune=not is_default),
            )
            value = json_safe((candidate.metrics_.get("validation") or {}).get(metric))
            if value is None:
                raise ConfigError(f"the validation {metric} of this trial is undefined; expected a number.")
        except NeedmapError as err:
            trial.set_user_attr("error", str(err))
            raise
        return value

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress is not None:
            progress({**trial_record(trial), "best": best_so_far(study)})
        if trial.user_attrs.get("default") and trial.state == optuna.trial.TrialState.FAIL:
            study.stop()  # the defaults with the user's fixed options fail: so would the rest

    with quiet_optuna():
        study = open_study(storage, study_name, direction, seed, pruner, about)
        earlier = len(study.get_trials(deepcopy=False))
        if not any(default_tried(t) for t in study.get_trials(deepcopy=False)):
            study.enqueue_trial(default_params(model), user_attrs={"default": True})
        study.optimize(objective, n_trials=trials, timeout=timeout_s, catch=(NeedmapError,), callbacks=[report])
        all_trials = study.get_trials(deepcopy=False)
    records = [trial_record(t) for t in all_trials]
    complete = [t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        errors = [r["error"] for r in records if r.get("error")]
        raise ConfigError(
            f"no trial of the study '{study_name}' completed ({len(records)} tried); expected at least one. "
            + (f"The first error: {errors[0]}" if errors else "")
        )
    best = study.best_trial
    default_trial = next((t for t in complete if t.user_attrs.get("default")), None)
    document = {
        "study_name": study_name,
        "storage": redact(storage),
        "direction": direction,
        "metric": metric,
        "best_value": json_safe(best.value),
        "best_trial": best.number,
        "best_params": best.user_attrs.get("options", best.params),
        "default_value": json_safe(default_trial.value) if default_trial is not None else None,
        "trials": records,
    }
    lightgbm = None
    if folds is not None:
        chosen = next(r for r in records if r["number"] == best.number)
        document.update(cv={"folds": folds.k, "split": folds.method, "seed": seed}, best_std=chosen.get("std"))
        if tune_lightgbm:  # as many trials as the network had in this run, on the same folds
            lightgbm = search_lightgbm(
                model, folds, trials=len(all_trials) - earlier, storage=storage,
                study_name=study_name + LIGHTGBM_STUDY_SUFFIX, seed=seed, pruner=pruner, validation=validation,
                progress=progress,
            )  # fmt: skip
            document["lightgbm"] = lightgbm

    final = clone(model).set_params(**document["best_params"])
    model_dir = out / MODEL_DIR
    trained = run_train(
        table,
        final,
        out=model_dir,
        test_size=test_size,
        split=split,
        time_column=time_column,
        validation=validation,
        schema=schema_of(final, model, table, schema),
        extras={"tuning.json": document},
        **dict(train_options or {}),
    )
    if trained.run_id is not None:  # tracked: the search joins the best model's MLflow run
        from needmap.tracking import log_search

        log_search(str((train_options or {})["track"]), trained.run_id, document)
    return TuneOutcome(
        study_name=study_name,
        storage=document["storage"],
        direction=direction,
        metric=metric,
        best_value=document["best_value"],
        best_params=document["best_params"],
        default_value=document["default_value"],
        trials=records,
        train=trained,
        out=out,
        model_dir=model_dir,
        train_index=train_idx,
        test_index=test_idx,
        document=document,
        cv=cv,
        folds=folds.fold if folds is not None else None,
        lightgbm=lightgbm,
    )


def schema_of(candidate: Model, model: Model, table: pa.Table, schema: Schema) -> Schema:
    """The schema a trial (or the retrained best) trains with: ``schema`` (the search's, inferred once from
    ``model``) unless the candidate's searched ``bucketize`` differs, which changes the numeric columns' options;
    then the candidate's own, inferred from the same table."""
    return schema if candidate.bucketize == model.bucketize else candidate.infer_schema(table)


def improvement_line(outcome: TuneOutcome) -> str:
    """``'validation AUC: default 0.7712 -> best 0.7790 (trial 21)'`` (the default's value, or 'not
    measured'); with ``cv``: ``'5-fold CV AUC: default 0.7712 -> best 0.7790 ± 0.0061 (trial 21)'``, the best
    trial's mean over the folds and their spread (standard deviation)."""
    label = METRIC_LABEL.get(outcome.metric, outcome.metric)
    default = "not measured" if outcome.default_value is None else f"{outcome.default_value:.4f}"
    if outcome.cv is None:
        best = f"{outcome.best_value:.4f} (trial {outcome.document['best_trial']})"
        return f"validation {label}: default {default} -> best {best}"
    best = f"{outcome.best_value:.4f} ± {outcome.document['best_std']:.4f} (trial {outcome.document['best_trial']})"
    return f"{outcome.cv}-fold CV {label}: default {default} -> best {best}"


def contenders_line(outcome: TuneOutcome) -> str | None:
    """With ``cv``: the best network's mean ± spread over the folds beside tuned LightGBM's, e.g.
    ``'network: AUC 0.8010 ± 0.0060 over 5 folds; LightGBM (tuned, 30 trials): 0.8060 ± 0.0050'``;
    None without ``cv``."""
    if outcome.cv is None:
        return None
    label = METRIC_LABEL.get(outcome.metric, outcome.metric)
    line = f"network: {label} {outcome.best_value:.4f} ± {outcome.document['best_std']:.4f} over {outcome.cv} folds"
    search = outcome.lightgbm
    if search is None:
        return line
    tuned = f"{LIGHTGBM} (tuned, {len(search['trials'])} trials)"
    if search["best_value"] is None:
        return f"{line}; {tuned}: no trial completed"
    return f"{line}; {tuned}: {search['best_value']:.4f} ± {search['best_std']:.4f}"
