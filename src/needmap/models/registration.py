"""The table of architectures by name, and ``register``, the decorator that adds one to it.

Apart from :mod:`needmap.models.registry` (the lookups), so that a model module can register itself
while the registry imports every built-in model module: the registry imports the models, the models
import this module, and no import runs in a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from needmap.models.base import TabularModel

M = TypeVar("M", bound=type[TabularModel])

#: Every registered architecture by name (the built-in ones, and any a program registers).
MODELS: dict[str, type[TabularModel]] = {}


def register(name: str) -> Callable[[M], M]:
    """Class decorator: make a :class:`TabularModel` subclass buildable as ``build_model(name, ...)``."""

    def decorate(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, TabularModel)):
            raise TypeError(f"model {name!r} must subclass needmap.models.base.TabularModel")
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {MODELS[name].__qualname__}")
        MODELS[name] = cls
        cls.model_name = name
        return cls

    return decorate
