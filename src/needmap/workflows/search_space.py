"""What a tuning study searches: the options of one architecture, as optuna parameters.

Every architecture gets the training options (learning rate, batch size, weight decay) and the numeric
bucketization; the network's options are those its class declares in ``search_space``, next to its
constructor (:mod:`needmap.models.space`: ``embedding_dim``, ``dropout``, ``hidden`` and the extras of
some architectures: DCN-V2's cross layers, AutoInt's attention, ...). An option the user gave the Model
(``Model("mlp", epochs=5, hidden=(64,))``) is kept fixed and not searched.

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

from needmap.estimator import Model
from needmap.models.registry import model_class
from needmap.models.space import Choice, Dimension, Float, Funnel, Int, Repeat
from needmap.preprocessing.roles_schema import ALL_NUMERIC
from needmap.training.config import TrainConfig
from needmap.workflows.evaluation import json_safe

#: Hidden layer widths are rounded to a multiple of this many units (never fewer).
WIDTH_STEP = 8
BATCH_SIZES = (128, 256, 512, 1024, 2048)
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


def dimension_knob(option: str, dim: Dimension) -> Knob:
    """The knob of one option of an architecture's ``search_space`` (:mod:`needmap.models.space`)."""
    if isinstance(dim, Funnel):

        def suggest(trial: optuna.Trial) -> Any:
            n = trial.suggest_int(dim.depth, *dim.depths)
            return funnel(trial.suggest_int(dim.width, *dim.widths, log=True), n)

        def encode(value: Any) -> dict[str, Any]:
            layers = _layers(value) or [dim.widths[0]]
            return {dim.depth: int(_clip(len(layers), *dim.depths)), dim.width: int(_clip(layers[0], *dim.widths))}

    elif isinstance(dim, Repeat):

        def suggest(trial: optuna.Trial) -> Any:
            return [trial.suggest_categorical(dim.width, list(dim.widths))] * trial.suggest_int(dim.depth, *dim.depths)

        def encode(value: Any) -> dict[str, Any]:
            layers = _layers(value)
            return {
                dim.depth: int(_clip(len(layers) or 1, *dim.depths)),
                dim.width: _nearest((layers or [dim.widths[1]])[0], list(dim.widths)),
            }

    elif isinstance(dim, Choice):

        def suggest(trial: optuna.Trial) -> Any:
            return trial.suggest_categorical(option, list(dim.choices))

        def encode(value: Any) -> dict[str, Any]:
            return {option: _nearest(value, dim.choices)}

    elif isinstance(dim, Int):

        def suggest(trial: optuna.Trial) -> Any:
            return trial.suggest_int(option, dim.low, dim.high, log=dim.log)

        def encode(value: Any) -> dict[str, Any]:
            return {option: int(_clip(value, dim.low, dim.high))}

    elif isinstance(dim, Float):

        def suggest(trial: optuna.Trial) -> Any:
            return trial.suggest_float(option, dim.low, dim.high, log=dim.log)

        def encode(value: Any) -> dict[str, Any]:
            return {option: _clip(float(value or 0.0), dim.low, dim.high)}

    else:
        raise TypeError(f"{option}: {dim!r} is not a search dimension of needmap.models.space")
    return Knob(option, suggest, encode)


def _weight_decay(trial: optuna.Trial) -> float:
    if not trial.suggest_categorical("weight_decay_on", [False, True]):
        return 0.0
    return trial.suggest_float("weight_decay", 1e-7, 1e-3, log=True)


def _encode_weight_decay(value: Any) -> dict[str, Any]:
    if not value:
        return {"weight_decay_on": False}
    return {"weight_decay_on": True, "weight_decay": _clip(float(value), 1e-7, 1e-3)}


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


#: The knobs of every architecture; an architecture's own follow from its ``search_space``.
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
    """The knobs searched for ``model``: the training and preprocessing options every architecture has,
    then its architecture's own ``search_space``, less every option the user gave the Model."""
    space = model_class(model.model).search_space
    accepted = _network_defaults(model.model)
    missing = sorted(set(space) - set(accepted))
    if missing:
        raise TypeError(f"model {model.model!r} searches {missing}, which its constructor does not take")
    fixed = set(model.params) | set(model.train_options) | ({"bucketize"} if model.bucketize else set())
    every = [*KNOBS, *(dimension_knob(option, dim) for option, dim in space.items())]
    return [k for k in every if k.option not in fixed]


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
    by_option = {k.option: k for k in knobs(model)}
    for option, value in default_options(model).items():
        params.update(by_option[option].encode(value))
    return params
