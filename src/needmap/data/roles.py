"""ColumnRoles: which column plays which part (target, ids, inputs of each kind), declared once.

The Python API's keywords (``Model(target="y", drop=["duration"])``), the YAML file's keys and the
command line's flags (``--target y --drop duration``) are these fields. Each value is converted to one
form when the roles are made: column lists become lists of names, the feature-type keys become
``{column: options}`` mappings (:func:`needmap.data.overrides.parse_feature_columns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from needmap import option_text
from needmap.data.overrides import parse_column_list, parse_column_options, parse_feature_columns
from needmap.declare import Options, option
from needmap.schema import TASKS


def _names_or_list(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return None
    return "a column name, a comma-separated string of names or a list of names"


def _tasks(value: Any) -> str | None:
    given = parse_column_list(value) if isinstance(value, (str, list, tuple)) else None
    if value is None or (given and all(t in TASKS for t in given)) or given in (["recommend"], ["uplift"]):
        return None
    return f"one of {', '.join(TASKS)} (one for every target, or one per target), recommend or uplift"


def _columns(key: str) -> Any:
    return option(
        help=_HELP[key],
        convert=lambda v: parse_column_list(v) if isinstance(v, (str, list, tuple, type(None))) else v,
        check=lambda v: None if isinstance(v, list) else "a comma-separated string or a list of column names",
        parse=option_text.names,
        metavar="COLUMNS",
        factory=list,
        flag="--id" if key == "id" else None,
    )


def _features(key: str, parse: Any) -> Any:
    return option(
        help=_HELP[key],
        convert=lambda v: parse_feature_columns(key, v),
        parse=parse,
        metavar=_METAVARS[key],
        factory=dict,
    )


def _sequence_text(text: str) -> dict[str, Any]:
    return {
        name: ({"vocabulary_of": value} if value else None) for name, value in option_text.colon_items(text).items()
    }


def _buckets_text(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in option_text.colon_items(text).items():
        if value is not None and not value.isdigit():
            raise ValueError("'column' or 'column:buckets' with a whole number of buckets")
        out[name] = int(value) if value is not None else None
    return out


def _column_options_text(text: str) -> dict[str, dict[str, Any]]:
    """'genres.separator=|,genres.max_len=20' -> {'genres': {'separator': '|', 'max_len': 20}}."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in option_text.pairs(text).items():
        column, dot, name = key.rpartition(".")
        if not dot or not column:
            raise ValueError("column.option=value pairs, e.g. genres.separator=|")
        out.setdefault(column, {})[name] = value
    return out


_HELP = {
    "target": "The outcome column to predict; several (a list, or 'a,b' when no column has that name) make a "
    "multi-task model with one output per target.",
    "task": "binary, multiclass or regression (inferred from the target when not given), or ltv: a spend over a "
    "horizon, most of it 0 (a zero-inflated log-normal head: the chance to buy and the expected spend; never "
    "inferred); for several targets one for all or one per target; recommend: a recommender from an event log "
    "(with --customer and --item, no target); uplift: whom a campaign changes, from a randomized test (--target "
    "the outcome, with --treatment and --control).",
    "drop": "Columns to leave out.",
    "id": "Identifier columns: kept in the scores, never inputs.",
    "categorical": "Columns to treat as categorical.",
    "numeric": "Columns to treat as numeric.",
    "datetime": "Columns to treat as date/time (not inputs).",
    "multihot": "Multi-hot list columns (sets such as genres 'Action|Comedy').",
    "sequence": "Ordered behaviour sequences (a history of items), 'name' or 'name:column whose vocabulary it shares'.",
    "hash": "Categorical columns hashed into buckets, 'name' or 'name:buckets' (default 100000).",
    "bucketize": "Numeric columns turned into quantile buckets, 'name' or 'name:buckets' (default 10); '*' "
    "stands for every numeric column.",
    "column_options": "Further options of single columns (separator, max_len, pooling, values, zero_flag, ...), "
    "'column.option=value'.",
}
_METAVARS = {
    "multihot": "COLUMNS",
    "sequence": "NAME[:OF],...",
    "hash": "NAME[:BUCKETS],...",
    "bucketize": "NAME[:BUCKETS],...",
}


@dataclass
class ColumnRoles(Options):
    """The part each column plays; anything not named here is inferred from the data."""

    kind: ClassVar[str] = "column role"

    target: str | list[str] | None = option(
        None, help=_HELP["target"], check=_names_or_list, metavar="COLUMN", flag=("--target", "-t")
    )
    task: str | list[str] | None = option(None, help=_HELP["task"], check=_tasks, metavar="TASK")
    drop: list[str] = _columns("drop")
    id: list[str] = _columns("id")
    categorical: list[str] = _columns("categorical")
    numeric: list[str] = _columns("numeric")
    datetime: list[str] = _columns("datetime")
    multihot: dict[str, dict[str, Any]] = _features("multihot", lambda text: dict.fromkeys(option_text.names(text)))
    sequence: dict[str, dict[str, Any]] = _features("sequence", _sequence_text)
    hash: dict[str, dict[str, Any]] = _features("hash", _buckets_text)
    bucketize: dict[str, dict[str, Any]] = _features("bucketize", _buckets_text)
    column_options: dict[str, dict[str, Any]] = option(
        help=_HELP["column_options"],
        convert=lambda v: parse_column_options(dict(v) if isinstance(v, Mapping) else v),
        parse=_column_options_text,
        metavar="COLUMN.OPTION=VALUE,...",
        yaml="options",
        factory=dict,
    )
