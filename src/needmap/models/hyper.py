"""Checks of model hyper-parameters: each returns the value in its JSON-safe form or raises ConfigError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from needmap.errors import ConfigError


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ConfigError for anything else (bools and floats included)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} is {value!r}; expected a whole number >= {minimum}.")
    return int(value)


def widths(name: str, value: Sequence[Any], *, allow_empty: bool = True, multiple_of: int = 1) -> list[int]:
    """Layer widths as a list of positive ints (each a multiple of ``multiple_of``)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{name} is {value!r}; expected a list of layer widths such as [256, 128].")
    out = [positive_int(f"{name}[{i}]", v) for i, v in enumerate(value)]
    if not out and not allow_empty:
        raise ConfigError(f"{name} is empty; expected at least one layer width.")
    odd = [w for w in out if w % multiple_of]
    if odd:
        raise ConfigError(f"{name} holds {odd}; expected widths divisible by {multiple_of}.")
    return out


def probability(name: str, value: Any) -> float:
    """A dropout-like probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name} is {value!r}; expected a probability in [0, 1).")
    return float(value)


def choice(name: str, value: Any, options: Sequence[str]) -> str:
    """``value`` if it is one of ``options``."""
    if value not in options:
        raise ConfigError(f"{name} is {value!r}; expected one of {', '.join(map(repr, options))}.")
    return str(value)


def flag(name: str, value: Any) -> bool:
    """A true/false option."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} is {value!r}; expected true or false.")
    return value


def non_negative(name: str, value: Any) -> float:
    """A number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} is {value!r}; expected a number >= 0.")
    return float(value)


def field_indices(name: str, value: Sequence[Any], n_fields: int) -> list[int]:
    """Distinct field positions in [0, n_fields)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{name} is {value!r}; expected a list of field positions.")
    out = [positive_int(f"{name}[{i}]", v, minimum=0) for i, v in enumerate(value)]
    bad = [i for i in out if i >= n_fields]
    if bad or len(set(out)) != len(out):
        raise ConfigError(f"{name} is {out}; expected distinct field positions in [0, {n_fields}).")
    return out
