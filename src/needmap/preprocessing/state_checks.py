"""Checks of a saved preprocessing state's values, for the ``from_dict`` readers of the column classes.

A ``preprocessor.json`` edited by hand or damaged must not load and then score every row as NaN or as a
constant (a NaN centre, a zero scale, an inverted clipping range, an unknown scaling name): each reader checks
that its numbers are finite and in range and its texts are texts, and raises ValueError naming the column,
the key, what was found and what was expected; :meth:`needmap.preprocessing.preprocess.Preprocessor.from_dict`
turns it into an ArtifactError.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

#: The most ids a saved column may have (hash buckets, vocabulary values, bucket edges): far above any that
#: needmap fits, so that a state cannot make scoring allocate without bound.
MAX_IDS = 100_000_000


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, (list, dict)) else f"{str(value)[:60]}…"


def text(data: dict[str, Any], key: str, what: str) -> str:
    """``data[key]``, a string; ValueError otherwise."""
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{what}: '{key}' is {_shown(value)}; expected a string")
    return value


def flag(data: dict[str, Any], key: str, what: str, default: bool | None = None) -> bool:
    """``data[key]`` (``default`` when absent and one is given), true or false; ValueError otherwise."""
    value = data.get(key, default) if default is not None else data[key]
    if not isinstance(value, bool):
        raise ValueError(f"{what}: '{key}' is {_shown(value)}; expected true or false")
    return value


def finite(value: Any, key: str, what: str) -> float:
    """``value`` as a float when it is a finite number (not a boolean); ValueError naming ``key`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: '{key}' is {_shown(value)}; expected a finite number")
    return float(value)


def whole(data: dict[str, Any], key: str, what: str, low: int, high: int) -> int:
    """``data[key]`` when it is a whole number in ``[low, high]``; ValueError otherwise."""
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what}: '{key}' is {_shown(value)}; expected a whole number from {low} to {high}")
    return value


def one_of(data: dict[str, Any], key: str, what: str, choices: tuple[str, ...]) -> str:
    """``data[key]`` when it is one of ``choices``; ValueError listing them otherwise."""
    value = data[key]
    if value not in choices:
        raise ValueError(f"{what}: '{key}' is {_shown(value)}; expected one of {', '.join(choices)}")
    return str(value)


def numbers(data: dict[str, Any], key: str, what: str, *, strictly: bool) -> list[float]:
    """``data[key]``, a list of at most :data:`MAX_IDS` finite numbers, increasing (``strictly``) or
    non-decreasing; ValueError naming the first that is not."""
    values = data[key]
    if not isinstance(values, list) or len(values) > MAX_IDS:
        raise ValueError(f"{what}: '{key}' is {_shown(values)}; expected a list of finite numbers")
    out = [finite(v, key, what) for v in values]
    for i, (a, b) in enumerate(itertools.pairwise(out)):
        if b < a or (strictly and b == a):
            order = "strictly increasing" if strictly else "non-decreasing"
            raise ValueError(f"{what}: '{key}' has {b!r} after {a!r} (position {i + 1}); expected {order} numbers")
    return out


def texts(data: dict[str, Any], key: str, what: str) -> list[str]:
    """``data[key]``, a list of at most :data:`MAX_IDS` distinct strings; ValueError otherwise."""
    values = data[key]
    if not isinstance(values, list) or len(values) > MAX_IDS:
        raise ValueError(f"{what}: '{key}' is {_shown(values)}; expected a list of strings")
    odd = next((v for v in values if not isinstance(v, str)), None)
    if odd is not None:
        raise ValueError(f"{what}: '{key}' holds {_shown(odd)}; expected strings only")
    if len(set(values)) != len(values):
        raise ValueError(f"{what}: '{key}' holds a value twice; expected distinct values, one id each")
    return values
