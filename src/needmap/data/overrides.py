"""Column-role overrides from a YAML file or a comma-separated option.

A YAML overrides file looks like::

    target: y
    task: binary
    drop: [duration]
    id: customer_id
    categorical: "pdays, campaign"
    preprocess:
      numeric_scaling: quantile

Each role key takes a list of column names or one comma-separated string. ``preprocess`` is passed
through untouched for the preprocessor to validate.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from needmap.errors import ConfigError
from needmap.schema import TASKS

LIST_KEYS: tuple[str, ...] = ("drop", "id", "categorical", "numeric", "datetime")
ALLOWED_KEYS: tuple[str, ...] = ("target", "task", *LIST_KEYS, "preprocess")


def parse_column_list(value: str | Iterable[str] | None) -> list[str]:
    """Column names from ``"a,b, c"`` (or a list of names): ``["a", "b", "c"]``.

    Surrounding whitespace is stripped and empty items are dropped; a list is returned with each item
    stripped the same way. None gives ``[]``.
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a YAML overrides file into a dict with only the keys the file sets.

    Returns:
        ``target`` (str), ``task`` (one of ``binary``/``regression``/``multiclass``), ``drop``,
        ``id``, ``categorical``, ``numeric``, ``datetime`` (each a list of column names) and
        ``preprocess`` (the mapping as written). An empty file gives ``{}``.

    Raises:
        ConfigError: the file is missing or is not valid YAML (the message gives the line), it is not
            a mapping, it has a key not in :data:`ALLOWED_KEYS`, or a value has the wrong kind.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("overrides file not found; expected an existing YAML file.", file=file) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"overrides file could not be read ({err}); expected UTF-8 YAML.", file=file) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{where}invalid YAML ({problem}); expected a YAML mapping.", file=file) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"found a YAML {type(data).__name__} at the top level; expected a mapping with keys "
            f"{', '.join(ALLOWED_KEYS)}.",
            file=file,
        )
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key not in ALLOWED_KEYS:
            close = difflib.get_close_matches(str(key), ALLOWED_KEYS, n=1)
            raise ConfigError(
                f"unknown key {key!r}; expected only these keys: {', '.join(ALLOWED_KEYS)}.",
                file=file,
                hint=f"Did you mean {close[0]!r}?" if close else None,
            )
        result[key] = _check_value(file, key, value)
    return result


def schema_options(overrides: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`needmap.data.infer.infer_schema` that ``overrides`` sets.

    Maps ``id`` to ``ids`` and leaves out ``preprocess``.
    """
    names = {"target": "target", "task": "task", "id": "ids"}
    return {names.get(k, k): v for k, v in overrides.items() if k != "preprocess"}


def _check_value(file: str, key: str, value: Any) -> Any:
    if key in ("target", "task"):
        if value is None:
            return None
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ConfigError(f"{key} is a {type(value).__name__}; expected one name.", file=file)
        text = str(value).strip()
        if key == "task" and text not in TASKS:
            raise ConfigError(f"task {text!r} is not known; expected one of {', '.join(TASKS)}.", file=file)
        return text
    if key == "preprocess":
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"preprocess is a {type(value).__name__}; expected a mapping.", file=file)
        return value
    if value is None:
        return []
    if isinstance(value, str):
        return parse_column_list(value)
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return parse_column_list([str(v) for v in value])
    raise ConfigError(f"{key} is {value!r}; expected a list of column names or one comma-separated string.", file=file)
