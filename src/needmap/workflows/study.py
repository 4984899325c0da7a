"""An optuna study in its database: opened or continued (checked to be made for the same search), and its
trials as ``tuning.json`` lists them.

The study lives in a database (SQLite, or a PostgreSQL URL, whose password never appears in messages or
records). :func:`open_study` makes it or loads it; its ``needmap`` user attribute says what the study was made
for, and a run for something else is refused rather than mixing values that cannot be compared.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import optuna

from needmap.data.masking import redact
from needmap.errors import ConfigError, NeedmapError
from needmap.workflows.evaluation import json_safe


def database_url(url: str) -> str:
    """``url`` as SQLAlchemy opens it: a ``postgresql://`` (or ``postgres://``) URL without a driver gets
    the PostgreSQL driver that is installed (psycopg, else psycopg2); other URLs are kept."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return url
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2://{rest}"
    return f"postgresql://{rest}"


def open_study(
    storage: str, study_name: str, direction: str, seed: int, pruner: optuna.pruners.BasePruner, about: dict[str, Any]
) -> optuna.Study:
    """Create the study, or load it to add trials; ConfigError when the database cannot be opened or the
    study was made for another model, target or metric (``about``)."""
    if "://" not in storage:
        raise ConfigError(
            f"--storage '{redact(storage)}' is not a database URL; expected e.g. sqlite:///study.db or "
            "postgresql://user@host:5432/db."
        )
    url = database_url(storage)
    engine_kwargs = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}
    try:
        rdb = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        study = optuna.create_study(
            storage=rdb,
            study_name=study_name,
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=pruner,
            load_if_exists=True,
        )
    except NeedmapError:
        raise
    except Exception as exc:  # sqlalchemy / driver errors: an unreachable server, a missing driver, a bad URL
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot open the study storage '{redact(storage)}' ({type(exc).__name__}: {redact(first)}); expected "
            "a reachable database URL such as sqlite:///study.db or postgresql://user@host:5432/db."
        ) from None
    made_for = study.user_attrs.get("needmap")
    if made_for is None:
        study.set_user_attr("needmap", about)
    elif made_for != about:
        raise ConfigError(
            f"the study '{study_name}' in '{redact(storage)}' was made for {made_for}; this run is {about}. "
            "Expected the same model, target and metric to add trials to it, or another study name (--study)."
        )
    return study


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """optuna's own log lines off (each trial is reported through ``progress``), restored afterwards."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One trial as ``tuning.json`` lists it: number, state (complete / pruned / fail / ...), value (a
    pruned trial's last reported epoch, or mean of the folds it was scored on), params (the Model options it
    set), seconds; ``error`` if failed. A cross-validated trial adds ``folds`` (each fold's value, in fold
    order, as many as were scored), ``mean`` and ``std`` (their population standard deviation, as
    :func:`needmap.workflows.cv.run_cv` gives it)."""
    record = {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": json_safe(trial.value) if trial.values else None,
        "params": trial.user_attrs.get("options", trial.params),
        "seconds": trial.duration.total_seconds() if trial.duration is not None else None,
    }
    folds = trial.user_attrs.get("folds")
    if folds:
        record.update(folds=list(folds), mean=float(np.mean(folds)), std=float(np.std(folds)))
    if trial.user_attrs.get("default"):
        record["default"] = True
    if "error" in trial.user_attrs:
        record["error"] = trial.user_attrs["error"]
    return record


def default_tried(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` is the default configuration, measured or waiting to be (complete, pruned or queued);
    a default trial that failed or was interrupted is tried again when the study continues."""
    states = optuna.trial.TrialState
    return bool(trial.user_attrs.get("default")) and trial.state in (states.COMPLETE, states.PRUNED, states.WAITING)


def best_so_far(study: optuna.Study) -> float | None:
    try:
        return json_safe(study.best_value)
    except ValueError:  # no complete trial yet
        return None
