"""Experiment tracking: one training run logged to MLflow (parameters, metrics, per-epoch curves, files).

``mlflow`` (the ``needmap[mlflow]`` extra) is imported only when a run is logged. The tracking URI is a
local folder (``"mlruns"``, ``"/path/to/mlruns"``, ``"file:///path/to/mlruns"``: MLflow's file store) or a
tracking server (``"http://host:5000"``, ``"https://..."``); any other URI with a scheme (for example
``"sqlite:///mlflow.db"``) is handed to MLflow as it is.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from needmap.errors import ConfigError

EXPERIMENT = "needmap"
#: MLflow's limit on a parameter value's length (in characters); longer values are cut.
MAX_PARAM_CHARS = 500
_BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch call
_UNSAFE = re.compile(r"[^0-9A-Za-z_\-. /]")


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError(
            "tracking a run needs MLflow, which is not installed; expected `pip install needmap[mlflow]`."
        ) from None
    return mlflow


def tracking_uri(uri: str) -> str:
    """The MLflow tracking URI of ``uri``: a folder path becomes an absolute ``file://`` URI, a URI with a
    scheme (``file://``, ``http://``, ``https://``, ...) stays as it is. Raises ConfigError for an empty
    URI or a path that is a file."""
    text = str(uri).strip()
    if not text:
        raise ConfigError("the tracking URI is empty; expected a folder such as mlruns or a server http://host:5000.")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", text):
        return text
    folder = Path(text).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"the tracking folder '{text}' is a file; expected a folder for MLflow's runs (it is created when absent)."
        )
    return folder.resolve().as_uri()


def metric_key(name: str) -> str:
    """``name`` with the characters MLflow does not accept in a metric or parameter key replaced by '_'."""
    return _UNSAFE.sub("_", name)


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "", sep: str = "_") -> dict[str, float]:
    """Nested metrics as ``{"test_auc": 0.79, "baselines_LightGBM_auc": 0.78, ...}``: finite numbers only
    (booleans, None, text, lists and NaN are left out), keys joined by ``sep`` and made MLflow-safe."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flat_metrics(value, name, sep))
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            flat[metric_key(name)] = float(value)
    return flat


@contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """Let MLflow (3.x) open its file store for a local folder during the block: its use is what the user asked."""
    if not uri.startswith("file:"):
        yield
        return
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def log_to_mlflow(
    uri: str,
    *,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    history: Sequence[Mapping[str, Any]] = (),
    artifact_dir: Path | None = None,
    tags: Mapping[str, Any] | None = None,
    experiment: str = EXPERIMENT,
) -> str:
    """Log one finished run to MLflow at ``uri``; returns its run id.

    Args:
        uri: a local folder (``mlruns``, ``/path/to/mlruns``, ``file:///...``) or a tracking server URL
            (``http://...``); see :func:`tracking_uri`.
        run_name: the run's name as MLflow shows it.
        params: parameters (values as text, cut to :data:`MAX_PARAM_CHARS` characters).
        metrics: flat ``{name: number}`` (see :func:`flat_metrics`), logged at step 0; non-finite values
            are left out.
        history: one entry per epoch (``{"epoch": 1, "loss": ..., "valid_auc": ...}``): every other
            numeric key becomes a metric logged at step ``epoch``.
        artifact_dir: a folder (the model directory) whose files are logged under the run's ``model/``.
        tags: extra run tags.
        experiment: the experiment's name (created when absent).

    Raises ConfigError when MLflow is not installed or the tracking store cannot be reached.
    """
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param

    resolved = tracking_uri(uri)
    now = int(time.time() * 1000)
    logged = [Metric(metric_key(k), float(v), now, 0) for k, v in metrics.items() if math.isfinite(float(v))]
    for entry in history:
        step = int(entry.get("epoch", 0))
        for key, value in entry.items():
            if key == "epoch" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                logged.append(Metric(metric_key(key), float(value), now, step))
    param_list = [Param(metric_key(k), str(v)[:MAX_PARAM_CHARS]) for k, v in params.items()]
    with _file_store_allowed(resolved):
        try:
            client = mlflow.MlflowClient(tracking_uri=resolved)
            found = client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
            run = client.create_run(experiment_id, run_name=run_name, tags={k: str(v) for k, v in (tags or {}).items()})
        except mlflow.exceptions.MlflowException as exc:
            raise ConfigError(
                f"MLflow at '{uri}' cannot be used ({exc}); expected a tracking folder or a reachable server."
            ) from None
        run_id = run.info.run_id
        status = "FAILED"
        try:
            for start in range(0, max(len(logged), len(param_list)), _BATCH):
                client.log_batch(
                    run_id, metrics=logged[start : start + _BATCH], params=param_list[start : start + _BATCH]
                )
            if artifact_dir is not None:
                client.log_artifacts(run_id, str(artifact_dir), artifact_path="model")
            status = "FINISHED"
        finally:
            client.set_terminated(run_id, status=status)
    return run_id


def log_search(uri: str, run_id: str, document: Mapping[str, Any]) -> None:
    """Add a hyper-parameter search (``tuning.json``'s ``document``, see :mod:`needmap.workflows.tune`) to
    the MLflow run ``run_id`` of its best model: ``trial_value`` and ``trial_best`` (the best so far) at
    step = trial number, ``tune_default_value`` and ``tune_best_value``, and the study's name, metric and
    direction as parameters. Raises ConfigError when MLflow is missing or the store cannot be reached."""
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param

    resolved = tracking_uri(uri)
    now = int(time.time() * 1000)
    maximize = document.get("direction") == "maximize"
    logged: list[Any] = []
    best: float | None = None
    for trial in sorted(document.get("trials") or [], key=lambda t: t["number"]):
        value = trial.get("value")
        if value is None or not math.isfinite(value):
            continue
        if trial.get("state") == "complete":
            best = value if best is None else (max(best, value) if maximize else min(best, value))
        logged.append(Metric("trial_value", float(value), now, int(trial["number"])))
        if best is not None:
            logged.append(Metric("trial_best", float(best), now, int(trial["number"])))
    for key in ("default_value", "best_value"):
        value = document.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            logged.append(Metric(f"tune_{key}", float(value), now, 0))
    params = [
        Param(f"tune.{key}", str(document.get(key))[:MAX_PARAM_CHARS])
        for key in ("study_name", "metric", "direction", "best_trial")
    ]
    params.append(Param("tune.trials", str(len(document.get("trials") or []))))
    with _file_store_allowed(resolved):
        try:
            client = mlflow.MlflowClient(tracking_uri=resolved)
            for start in range(0, max(len(logged), len(params)), _BATCH):
                client.log_batch(run_id, metrics=logged[start : start + _BATCH], params=params[start : start + _BATCH])
        except mlflow.exceptions.MlflowException as exc:
            raise ConfigError(f"MLflow at '{uri}' cannot take the search of run {run_id} ({exc}).") from None


__all__ = ["EXPERIMENT", "flat_metrics", "log_search", "log_to_mlflow", "metric_key", "tracking_uri"]
