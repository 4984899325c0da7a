"""Command-line option text to Python values: sizes, durations, quantiles, shares and ``key=value`` pairs.

Each parser names its option and what it expected in the :class:`~needmap.errors.ConfigError` it raises.
The ones whose option has a default of its own return ``'default'`` for an absent option (leave the
default), ``None`` for ``none`` (turn it off).
"""

from __future__ import annotations

import re
from typing import Any

from needmap.errors import ConfigError


def parse_ints(text: str | None, option: str) -> tuple[int, ...] | None:
    """'400,400,400' -> (400, 400, 400)."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} '{text}' is not a list of whole numbers; expected e.g. 400,400,400.") from None
    if not values or min(values) <= 0:
        raise ConfigError(f"{option} '{text}' must list positive sizes; expected e.g. 400,400,400.")
    return values


def parse_duration(text: str | None) -> float | None:
    """'90', '90s', '10m', '1.5h' -> seconds."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not match:
        raise ConfigError(f"--max-time '{text}' is not a duration; expected seconds or e.g. 90s, 10m, 1h.")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parse_clip(text: str | None) -> tuple[float, float] | str | None:
    """'0.001,0.999' -> (0.001, 0.999); 'none' -> None; None -> 'default' (leave the default)."""
    if text is None:
        return "default"
    if text.strip().lower() == "none":
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--clip '{text}' is not two quantiles; expected e.g. 0.001,0.999 or none.") from None
    if not 0 <= low < high <= 1:
        raise ConfigError(f"--clip '{text}' needs 0 <= low < high <= 1; expected e.g. 0.001,0.999.")
    return (low, high)


def parse_value_fields(text: str | None) -> int | str | None:
    """'200' -> 200; 'none' -> None; None -> 'default' (leave the default)."""
    if text is None:
        return "default"
    if text.strip().lower() == "none":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ConfigError(f"--value-fields '{text}' is not a number of distinct values; expected e.g. 200 or none.")
    return int(text)


def parse_zero_flags(text: str | None) -> float | str | None:
    """'0.3' -> 0.3; 'none' -> None; None -> 'default' (leave the default)."""
    if text is None:
        return "default"
    if text.strip().lower() == "none":
        return None
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"--zero-flags '{text}' is not a share of zeros; expected e.g. 0.3 or none.")
    return share


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """['cross_layers=4', 'cin_layers=64,64', 'structure=stacked'] -> {'cross_layers': 4, ...}.

    Values are read as YAML scalars (numbers, true/false, text); a comma makes a list.
    """
    import yaml

    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param '{item}' is not key=value; expected e.g. --param cross_layers=4.")
        try:
            values = [yaml.safe_load(v) for v in text.split(",")] if "," in text else yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--param '{item}': the value '{text}' cannot be read.") from None
        params[key.strip()] = values
    return params


def parse_class_weight(text: str | None) -> str | float | None:
    """'none' or None -> None; 'balanced' -> 'balanced'; '3.5' -> 3.5 (the positive class's weight)."""
    if text is None or text == "none":
        return None
    if text == "balanced":
        return "balanced"
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"--class-weight '{text}' is not understood; expected none, balanced or a positive-class weight."
        ) from None
