"""Option values written as text (the command line, ``key=value`` pairs): sizes, durations, pairs, maps.

Each parser takes the text of one option and returns its value, or raises ``ValueError`` whose message
is what was expected; the command line adds the flag and the text to it. ``none`` (any case) stands
for None wherever an option may be None: the command line handles that before calling a parser.
"""

from __future__ import annotations

import re
from typing import Any


def ints(text: str) -> list[int]:
    """'400,400,400' -> [400, 400, 400] (positive whole numbers)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError("a list of positive whole numbers, e.g. 400,400,400") from None
    if not values or min(values) <= 0:
        raise ValueError("a list of positive whole numbers, e.g. 400,400,400")
    return values


def duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not match:
        raise ValueError("seconds or a duration such as 90s, 10m, 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def number_pair(text: str) -> tuple[float, float]:
    """'0.001,0.999' -> (0.001, 0.999)."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError("two numbers 'low,high', e.g. 0.001,0.999, or none") from None
    return (low, high)


def name_or_number(text: str) -> str | float:
    """'balanced' -> 'balanced'; '3.5' -> 3.5."""
    try:
        return float(text)
    except ValueError:
        return text.strip()


def names(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c']."""
    return [item.strip() for item in text.split(",") if item.strip()]


def scalar(text: str) -> Any:
    """One value: 4 -> 4, 0.5 -> 0.5, true -> True, none -> None, anything else the text itself
    ('stacked', '|'); 'a,b' -> a list of them."""
    if "," in text:
        return [scalar(part) for part in text.split(",")]
    word = text.strip()
    lowered = word.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            pass
    return word


def pairs(text: str) -> dict[str, Any]:
    """'a=1,b=x' -> {'a': 1, 'b': 'x'} (values read as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in names(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError("name=value pairs, comma-separated, e.g. income=2,married=1")
        out[key.strip()] = scalar(value)
    return out


def colon_items(text: str) -> dict[str, str | None]:
    """'a:b,c' -> {'a': 'b', 'c': None} (a column and what follows its colon)."""
    out: dict[str, str | None] = {}
    for item in names(text):
        name, _, value = item.partition(":")
        out[name.strip()] = value.strip() or None
    return out


def numbers_or_pairs(text: str) -> list[float] | dict[str, Any]:
    """'1,2' -> [1.0, 2.0]; 'income=2,married=1' -> {'income': 2, 'married': 1}."""
    if "=" in text:
        return pairs(text)
    try:
        return [float(v) for v in names(text)]
    except ValueError:
        raise ValueError("numbers in target order (1,2) or name=weight pairs (income=2,married=1)") from None
