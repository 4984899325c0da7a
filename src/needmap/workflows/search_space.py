"""What a tuning study searches: the options of one architecture, as optuna parameters.

Every architecture gets the training options (learning rate, batch size, weight decay); the network's
options are searched only where its constructor takes them (``embedding_dim``, ``dropout``, ``hidden``
and the extras of some architectures: DCN-V2's cross layers, AutoInt's attention, ...). An option the
user gave the Model (``Model("mlp", epochs=5, hidden=(64,))``) is kept fixed and not searched.

A knob turns optuna parameters into one Model option (``depth`` and ``width`` become ``hidden``) and
back (:func:`default_params`: the default configuration as parameters, enqueued as a study's first trial).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import optuna

from needmap.estimator import ALL_NUMERIC, Model
from needmap.models.registry import model_class
from needmap.training.config import TrainConfig
from needmap.workflows.evaluation import json_safe

#: Hidden layer widths are rounded to a multiple of this many units (never fewer).
WIDTH_STEP = 8
BATCH_SIZES = (128, 256, 512, 1024, 2048)
EMBEDDING_DIMS = (4, 8, 16, 32)
NUM_HEADS = (1, 2, 4)
ATTENTION_DIMS = (16, 32, 64)
STRUCTURES = ("parallel", "stacked")
_NETWORK_ARGS = ("self", "n_numeric", "cardinalities", "n_outputs", "lists")


def funnel(width: int, depth: int) -> list[int]:
    """Layer widths ``[width, width/2, width/4, ...]``, ``depth`` layers, each rounded to a multiple of
    :data:`WIDTH_STEP` and at least that: ``funnel(256, 2) == [256, 128]``."""
    return [max(WIDTH_STEP, int(width / 2**i / WIDTH_STEP + 0.5) * WIDTH_STEP) for i in range(depth)]


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _nearest(value: Any, choices: Sequence[Any]) -> Any:
    if value in choices:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return min(choices, key=lambda c: abs(math.log(c) - math.log(max(value, 1e-12))))
    return choices[0]


def _layers(values: Any) -> list[int]:
    return [int(v) for v in values] if values else []


@dataclass(frozen=True)
class Knob:
    """One searched Model option.

    Attributes:
        option: the Model option it sets: a TrainConfig field (``training``) or a constructor argument.
        suggest: the option's value for a trial (asks the trial for one or more parameters).
        encode: the optuna parameters that give a value of the option (the nearest they can express).
        training: a training option (every architecture has it) rather than a network option.
        preprocessing: an option of the features (every architecture has it), like ``bucketize``.
    """

    option: str
    suggest: Callable[[optuna.Trial], Any]
    encode: Callable[[Any], dict[str, Any]]
    training: bool = False
    preprocessing: bool = False

    @property
    def everywhere(self) -> bool:
        """Searched for every architecture (not only where the network's constructor takes it)."""
        return self.training or self.preprocessing


def _layers_knob(option: str, depth: str, width: str, depths: tuple[int, int], widths: tuple[int, int]) -> Knob:
    """``option`` as a funnel of ``depth`` layers from ``width`` units (log-uniform)."""

    def suggest(trial: optuna.Trial) -> list[int]:
        n = trial.suggest_int(depth, *depths)
        return funnel(trial.suggest_int(width, *widths, log=True), n)

    def encode(value: Any) -> dict[str, Any]:
        layers = _layers(value) or [widths[0]]
        return {depth: int(_clip(len(layers), *depths)), width: int(_clip(layers[0], *widths))}

    return Knob(option, suggest, encode)


def _weight_decay(trial: optuna.Trial) -> float:
    if not trial.suggest_categorical("weight_decay_on", [False, True]):
        return 0.0
    return trial.suggest_float("weight_decay", 1e-7, 1e-3, log=True)


def _encode_weight_decay(value: Any) -> dict[str, Any]:
    if not value:
        return {"weight_decay_on": False}
    return {"weight_decay_on": True, "weight_decay": _clip(float(value), 1e-7, 1e-3)}


def _constant_layers(trial: optuna.Trial) -> list[int]:
    return [trial.suggest_categorical("cin_width", [16, 32, 64, 128])] * trial.suggest_int("cin_depth", 1, 3)


#: Quantile buckets of every numeric column (0: the columns stay scaled numbers). On bank marketing, every
#: numeric column in 20 buckets lifted the MLP's test AUC (the bank table of BENCHMARKS.md), so the search
#: tries it.
NUMERIC_BUCKETS = (0, 10, 20, 50)


def _bucketize(trial: optuna.Trial) -> dict[str, int]:
    buckets = trial.suggest_categorical("numeric_buckets", list(NUMERIC_BUCKETS))
    return {ALL_NUMERIC: buckets} if buckets else {}


def _encode_bucketize(value: Any) -> dict[str, Any]:
    buckets = (value or {}).get(ALL_NUMERIC, 0) if isinstance(value, dict) else 0
    return {"numeric_buckets": _nearest(buckets, NUMERIC_BUCKETS) if buckets else 0}


KNOBS: tuple[Knob, ...] = (
    # How numeric columns enter the network: scaled numbers, or quantile-bucket ids with embeddings.
    Knob("bucketize", _bucketize, _encode_bucketize, preprocessing=True),
    Knob(
        "lr",
        lambda t: t.suggest_float("lr", 1e-4, 1e-2, log=True),
        lambda v: {"lr": _clip(float(v), 1e-4, 1e-2)},
        training=True,
    ),
    Knob(
        "batch_size",
        lambda t: t.suggest_categorical("batch_size", list(BATCH_SIZES)),
        lambda v: {"batch_size": _nearest(v, BATCH_SIZES)},
        training=True,
    ),
    Knob("weight_decay", _weight_decay, _encode_weight_decay, training=True),
    Knob(
        "dropout",
        lambda t: t.suggest_float("dropout", 0.0, 0.5),
        lambda v: {"dropout": _clip(float(v or 0.0), 0.0, 0.5)},
    ),
    Knob(
        "embedding_dim",
        lambda t: t.suggest_categorical("embedding_dim", list(EMBEDDING_DIMS)),
        lambda v: {"embedding_dim": _nearest(v, EMBEDDING_DIMS)},
    ),
    _layers_knob("hidden", "depth", "width", (1, 4), (32, 512)),
    # Per-architecture extras (searched where the constructor takes them).
    _layers_knob("hidden2", "depth2", "width2", (1, 3), (32, 512)),  # finalmlp, finalnet: the second stream
    Knob(
        "cross_layers",
        lambda t: t.suggest_int("cross_layers", 1, 4),
        lambda v: {"cross_layers": int(_clip(v, 1, 4))},
    ),  # dcnv2
    Knob(
        "structure",
        lambda t: t.suggest_categorical("structure", list(STRUCTURES)),
        lambda v: {"structure": _nearest(v, STRUCTURES)},
    ),  # dcnv2
    Knob(
        "attention_layers",
        lambda t: t.suggest_int("attention_layers", 1, 4),
        lambda v: {"attention_layers": int(_clip(v, 1, 4))},
    ),  # autoint
    Knob(
        "attention_dim",
        lambda t: t.suggest_categorical("attention_dim", list(ATTENTION_DIMS)),
        lambda v: {"attention_dim": _nearest(v, ATTENTION_DIMS)},
    ),  # autoint
    Knob(
        "num_heads",
        lambda t: t.suggest_categorical("num_heads", list(NUM_HEADS)),
        lambda v: {"num_heads": _nearest(v, NUM_HEADS)},
    ),  # autoint, finalmlp
    Knob(
        "cin_layers",
        _constant_layers,
        lambda v: {
            "cin_depth": int(_clip(len(_layers(v)) or 1, 1, 3)),
            "cin_width": _nearest((_layers(v) or [32])[0], [16, 32, 64, 128]),
        },
    ),  # xdeepfm
    _layers_knob("attention_hidden", "attention_depth", "attention_width", (1, 3), (16, 128)),  # din
)
_TRAINING_FIELDS = {f.name for f in fields(TrainConfig)}
assert all(k.option in _TRAINING_FIELDS for k in KNOBS if k.training)


def _network_defaults(architecture: str) -> dict[str, Any]:
    """The constructor's keyword defaults of ``architecture`` (ConfigError for an unknown name)."""
    signature = inspect.signature(model_class(architecture).__init__)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if name not in _NETWORK_ARGS and p.kind is not inspect.Parameter.VAR_KEYWORD
    }


def knobs(model: Model) -> list[Knob]:
    """The knobs searched for ``model``: training options, and network options its architecture's
    constructor takes, less every option the user gave the Model."""
    accepted = _network_defaults(model.model)
    fixed = set(model.params) | set(model.train_options) | ({"bucketize"} if model.bucketize else set())
    return [k for k in KNOBS if (k.everywhere or k.option in accepted) and k.option not in fixed]


def searched_options(model: Model) -> list[str]:
    """Names of the Model options a study searches for ``model`` (e.g. ``['lr', ..., 'hidden']``)."""
    return [k.option for k in knobs(model)]


def suggest_options(trial: optuna.Trial, model: Model) -> dict[str, Any]:
    """A trial's values of the searched options: ``{option: value}``, ready for ``Model(**options)``."""
    return {k.option: k.suggest(trial) for k in knobs(model)}


def default_options(model: Model) -> dict[str, Any]:
    """The searched options' values when nobody sets them: TrainConfig's and the constructor's defaults."""
    network = _network_defaults(model.model)
    training = TrainConfig()

    def default(knob: Knob) -> Any:
        if knob.preprocessing:
            return {}  # no bucketization
        return getattr(training, knob.option) if knob.training else network[knob.option]

    return {k.option: json_safe(default(k)) for k in knobs(model)}


def default_params(model: Model) -> dict[str, Any]:
    """The default configuration as optuna parameters (to enqueue as the first trial): exact where the
    search space expresses the default (every default but DIN's hidden (200, 80)), else the nearest."""
    params: dict[str, Any] = {}
    for option, value in default_options(model).items():
        params.update(next(k for k in KNOBS if k.option == option).encode(value))
    return params
