"""needmap's side of the benchmark: its models by registry name, and its logistic-regression baseline."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch

from benchmarks.features import Prepared
from benchmarks.trainloop import HyperParams, RunResult, timed, train_network
from needmap.models.registry import build_model, model_class
from needmap.workflows.baseline import fit_baseline

# Hyper-parameters of the shared policy, passed to a needmap model when its constructor has them.
_SHARED = ("embedding_dim", "hidden", "dropout", "cross_layers")


def model_params(name: str, hp: HyperParams) -> dict[str, Any]:
    """The shared hyper-parameters that needmap model ``name`` accepts (others keep its defaults)."""
    accepted = inspect.signature(model_class(name).__init__).parameters
    values = {"embedding_dim": hp.embedding_dim, "hidden": list(hp.hidden), "dropout": hp.dropout}
    values["cross_layers"] = hp.cross_layers
    return {k: values[k] for k in _SHARED if k in accepted}


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """'din:use_sequence=false' -> ('din', {'use_sequence': False}); extra settings separated by '/'."""
    import yaml

    name, _, rest = spec.partition(":")
    extra = {}
    for item in filter(None, rest.split("/")):
        key, _, value = item.partition("=")
        extra[key] = yaml.safe_load(value)
    return name, extra


def run_model(spec: str, prepared: Prepared, hp: HyperParams, seed: int) -> RunResult:
    """Build needmap model ``spec`` (a registry name, optionally ':key=value/...' settings, e.g.
    'din:use_sequence=false' for the ablation without the sequence) and train it with the shared policy."""
    name, extra = split_spec(spec)
    params = {**model_params(name, hp), **extra}
    torch.manual_seed(seed)
    network = build_model(
        name,
        n_numeric=prepared.n_numeric,
        cardinalities=list(prepared.cardinalities),
        n_outputs=1,
        lists=[dict(s) for s in prepared.list_specs],
        **params,
    )
    result = train_network(network, prepared, hp, seed)
    result.info["params"] = network.config() if hasattr(network, "config") else params
    return result


def run_logistic_regression(prepared: Prepared, seed: int) -> RunResult:
    """needmap's baseline (L2 logistic regression, C=1; categories one-hot, lists as bags of ids) on
    the training rows; the valid rows are not used."""
    cardinalities = list(prepared.cardinalities)
    lists = {"list_cardinalities": [int(s["cardinality"]) for s in prepared.list_specs]} if prepared.list_specs else {}
    baseline, seconds = timed(
        lambda: fit_baseline(prepared.x_train, prepared.y_train, "binary", cardinalities, seed=seed, **lists)
    )
    probs = baseline.predict(prepared.x_test)
    info = {"iterations": int(np.max(baseline.estimator.n_iter_)), "lists_used": bool(lists)}
    return RunResult(np.asarray(probs, dtype=np.float64), seconds, info)
