"""Model architectures by name: register(), build_model(), available_models()."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from needmap.errors import ConfigError
from needmap.models.base import TabularModel

M = TypeVar("M", bound=type[TabularModel])

_MODELS: dict[str, type[TabularModel]] = {}
_REQUIRED = ("n_numeric", "cardinalities", "n_outputs")


def register(name: str) -> Callable[[M], M]:
    """Class decorator: make a :class:`TabularModel` subclass buildable as ``build_model(name, ...)``."""

    def decorate(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, TabularModel)):
            raise TypeError(f"model {name!r} must subclass needmap.models.base.TabularModel")
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name].__qualname__}")
        _MODELS[name] = cls
        cls.model_name = name
        return cls

    return decorate


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
