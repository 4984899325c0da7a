"""Model architectures by name: build_model(), available_models(), model_class(); register() to add one.

Importing this module imports every built-in model module (each registers its architecture when
imported), so that the lookups find all of them. The package :mod:`needmap.models` itself imports
nothing, so that the declared options (:mod:`needmap.models.options`) load without torch.
"""

from __future__ import annotations

import inspect
from typing import Any

from needmap.errors import ConfigError
from needmap.models import (  # noqa: F401 - importing a model module registers its architecture
    autoint,
    dcnv2,
    deepfm,
    din,
    finalmlp,
    finalnet,
    fm_model,
    lr,
    mlp,
    mmoe,
    ple,
    wide_deep,
    xdeepfm,
)
from needmap.models.base import TabularModel
from needmap.models.registration import MODELS, register

__all__ = ["architecture_options", "available_models", "build_model", "model_class", "register"]

#: The registered architectures: :data:`needmap.models.registration.MODELS`, under its earlier name here.
_MODELS = MODELS
_REQUIRED = ("n_numeric", "cardinalities", "n_outputs")


def available_models() -> list[str]:
    """Names of the registered architectures, sorted."""
    return sorted(_MODELS)


def model_class(name: str) -> type[TabularModel]:
    """The class registered as ``name``; ConfigError listing the available names otherwise."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; expected one of: {', '.join(available_models()) or '(none)'}.")
    return _MODELS[name]


def architecture_options(name: str) -> list[str]:
    """The hyper-parameters the architecture ``name`` takes: its constructor's keywords past the layout."""
    signature = inspect.signature(model_class(name).__init__)
    return [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", *_REQUIRED, "lists") and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def build_model(name: str, **params: Any) -> TabularModel:
    """Build architecture ``name`` from n_numeric, cardinalities, n_outputs and hyper-parameters.

    ``build_model(name, n_numeric=..., cardinalities=..., n_outputs=..., **model.config())``
    rebuilds a model of the same shape. Raises ConfigError for an unknown name, a missing required
    argument or a hyper-parameter the architecture does not have.
    """
    cls = model_class(name)
    missing = [key for key in _REQUIRED if key not in params]
    if missing:
        raise ConfigError(f"model {name!r} needs {', '.join(missing)}; they were not given.")
    signature = inspect.signature(cls.__init__)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    if not takes_any:
        accepted = [p for p in signature.parameters if p != "self"]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            hyper = [p for p in accepted if p not in (*_REQUIRED, "lists")]
            raise ConfigError(
                f"model {name!r} has no hyper-parameter {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(hyper) or '(none)'}."
            )
    return cls(**params)
