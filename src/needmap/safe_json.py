"""Reading a JSON document that may come from a stranger (a model directory), with every limit checked.

Python's :func:`json.loads` accepts things that a model directory written by needmap never holds and that make
later code fail far from the file, crash or exhaust memory: ``NaN`` / ``Infinity`` and numbers such as
``1e999`` (which parse as infinities), integers of 100,000 digits (Python refuses to convert more than 4,300
digits and raises a bare ValueError; fewer still cost quadratic time), arrays nested 100,000 deep (a
RecursionError) and documents of any size. :func:`load_json` refuses each of them with an
:class:`~needmap.errors.ArtifactError` that names the file and says what was found and what was expected, so
that every loader of a model directory (:mod:`needmap.artifact`, the recommender's and the uplift model's)
reads JSON one way.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from needmap.errors import ArtifactError

#: The largest JSON document read from a model directory (bytes): far above any that needmap writes (a
#: vocabulary of millions of values is tens of MB), low enough that parsing it fits in memory.
MAX_JSON_BYTES = 512 * 1024 * 1024
#: The deepest nesting of arrays and objects accepted; needmap's documents nest fewer than 12 levels.
MAX_JSON_DEPTH = 64
#: The most digits an integer may have (sign excluded): every count or size needmap writes has far fewer.
MAX_INT_DIGITS = 30

_HINT = "The file is corrupted or was edited: restore it from a copy or train the model again."


class _Refused(ValueError):
    """A number that the document must not hold (raised from inside the parser, caught by :func:`load_json`)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits; expected at most {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]!r}, which is not finite; expected a finite number")
    return value


def _parse_constant(text: str) -> Any:
    raise _Refused(f"{text}; expected finite numbers only (needmap never writes NaN or Infinity)")


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in the parsed ``value`` (0 for a number or a string), walked without
    recursion so that any depth is measured."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (list, dict)) else []
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return deepest


def load_json(
    data: bytes | str,
    *,
    name: str,
    file: str | None = None,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """The JSON document ``data`` (UTF-8 bytes or text), parsed; ArtifactError naming ``name`` (the file's name
    in its directory) and ``file`` (the directory) when it is larger than ``max_bytes``, is not UTF-8 or not
    JSON, nests deeper than ``max_depth``, or holds NaN, an infinity, a number that overflows to one (``1e999``)
    or an integer of more than :data:`MAX_INT_DIGITS` digits."""
    size = len(data)
    if size > max_bytes:
        _fail(name, file, f"is {size:,} bytes; expected at most {max_bytes:,} bytes of JSON")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        _fail(name, file, f"is not valid JSON (not UTF-8 text: {exc}); expected the JSON that needmap wrote")
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )  # fmt: skip
    except _Refused as exc:
        _fail(name, file, f"holds {exc}")
    except RecursionError:
        _fail(name, file, f"nests arrays or objects too deeply to read; expected at most {max_depth} levels")
    except (json.JSONDecodeError, ValueError) as exc:
        _fail(name, file, f"is not valid JSON ({exc}); expected the JSON that needmap wrote")
    depth = json_depth(value)
    if depth > max_depth:
        _fail(name, file, f"nests arrays or objects {depth} levels deep; expected at most {max_depth} levels")
    return value


def _fail(name: str, file: str | None, what: str) -> NoReturn:
    raise ArtifactError(f"'{name}' {what}.", file=file, hint=_HINT)
