"""The schema a model uses for a table: the inferred column roles with the model's role options over them.

Apart from :class:`needmap.Model` so that ``needmap schema`` shows the same schema that ``train`` will
use without loading torch (a Model's module loads the networks and the trainer): the Model's
``infer_schema`` is :func:`schema_with_roles` with its parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from needmap.data.infer import infer_schema
from needmap.data.overrides import parse_column_options, parse_feature_columns
from needmap.data.provenance import source_of
from needmap.errors import ConfigError, SchemaError
from needmap.events.table_info import info_of
from needmap.preprocessing.event_roles import check_label_roles, event_roles
from needmap.preprocessing.target import add_targets
from needmap.schema import Schema

ALL_NUMERIC = "*"  # bucketize={"*": k} buckets every numeric column


def as_list(value: str | Iterable[str] | None) -> list[str]:
    """Column names given as None, a comma list ("a,b") or names, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def column_roles(
    *,
    drop: Any = None,
    id: Any = None,
    categorical: Any = None,
    numeric: Any = None,
    datetime: Any = None,
    multihot: Any = None,
    sequence: Any = None,
    hash: Any = None,
    bucketize: Any = None,
    column_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The column-role options in one form: lists of names and ``{name: options}`` mappings (ConfigError for
    a value none of them can be read from)."""
    return {
        "drop": as_list(drop),
        "ids": as_list(id),
        "categorical": as_list(categorical),
        "numeric": as_list(numeric),
        "datetime": as_list(datetime),
        "multihot": parse_feature_columns("multihot", multihot),
        "sequence": parse_feature_columns("sequence", sequence),
        "hash": parse_feature_columns("hash", hash),
        "bucketize": parse_feature_columns("bucketize", bucketize),
        "options": parse_column_options(column_options),
    }


def target_list(target: str | Sequence[str] | None, table: pa.Table) -> list[str]:
    """The target column names: one name, a list, or a comma-separated string of names (a column whose
    name has a comma is one target)."""
    if target is None:
        return []
    if isinstance(target, str):
        return [target] if target in table.column_names else as_list(target)
    return list(target)


def task_list(task: str | Sequence[str] | None, n_targets: int) -> list[str | None]:
    """One task (or None: infer it) per target, from ``task``: one for all or one per target."""
    given = as_list(task) if task is not None else []
    n = max(n_targets, 1)
    if not given:
        return [None] * n
    if len(given) == 1:
        return given * n
    if len(given) != n:
        raise ConfigError(
            f"task gives {len(given)} tasks ({', '.join(given)}) for {n_targets} targets; expected one task "
            "for all of them or one per target."
        )
    return list(given)


def schema_with_roles(
    table: pa.Table,
    target: str | Sequence[str] | None = None,
    task: str | Sequence[str] | None = None,
    **roles: Any,
) -> Schema:
    """The schema of ``table`` for these targets and role options (the keywords of :func:`column_roles`).

    Each target is one of the schema's ``heads``, in the order given (see
    :func:`needmap.preprocessing.target.add_targets`). A table built from an event log (its schema metadata holds a
    :class:`needmap.events.table_info.FeatureTableInfo`) has its customer column an id and its cutoff and the
    labels that are not targets left out of the inputs (:func:`needmap.preprocessing.event_roles.event_roles`)."""
    names = target_list(target, table)
    tasks = task_list(task, len(names))
    parsed = column_roles(**roles)
    overridden = {*parsed["drop"], *parsed["ids"], *parsed["categorical"], *parsed["numeric"], *parsed["datetime"]}
    overridden |= {*parsed["multihot"], *parsed["sequence"], *parsed["hash"], *parsed["bucketize"]}
    for name in names[1:]:
        if name in overridden:
            raise SchemaError(
                "column is given two roles, a target and a feature override; expected one role per column.",
                file=source_of(table),
                column=name,
            )
    info = info_of(table)
    if info is not None:
        check_label_roles(info, names, parsed)  # before inference: the user's mistake, not what inference made of it
    schema = _infer_first_target(table, names[0] if names else None, tasks[0], dict(parsed))
    schema = add_targets(schema, table, names[1:], tasks[1:]) if len(names) > 1 else schema
    return schema if info is None else event_roles(schema, info, parsed)


def _infer_first_target(table: pa.Table, target: str | None, task: str | None, roles: dict[str, Any]) -> Schema:
    bucketize = dict(roles.pop("bucketize"))
    every = bucketize.pop(ALL_NUMERIC, None)

    def infer(buckets: dict[str, Any]) -> Schema:
        return infer_schema(table, target, **roles, bucketize=buckets, task=task)

    schema = infer(bucketize)
    if every is None:
        return schema
    # bucketize={"*": k}: every numeric column (inferred or set) becomes k quantile buckets.
    return infer({**{name: dict(every) for name in schema.numeric}, **bucketize})
