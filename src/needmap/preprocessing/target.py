"""The target column(s) as the array a model learns from, and the further targets of a multi-task model.

A schema lists its targets as ``heads`` (:class:`needmap.schema.Head`), in the order of the model's
outputs; a multi-task schema has several, each binary or regression. :func:`encode_targets` gives
float32 ``[n]`` for one target and ``[n, T]`` for T targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.infer_target import infer_target
from needmap.data.provenance import first_row_of, source_of
from needmap.data.values import parse_numeric, stringify, to_numpy
from needmap.errors import ConfigError, DataError, SchemaError
from needmap.schema import Head, Schema

MULTITASK_TASKS = ("binary", "regression")


def check_target_columns(names: Sequence[str], column_names: Sequence[str], *, place: str, file: str | None) -> None:
    """SchemaError naming the first target of ``names`` that is not among ``column_names`` (of the ``place``:
    'table' or 'file')."""
    absent = [name for name in names if name not in column_names]
    if absent:
        raise SchemaError(
            f"found no target column {', '.join(map(repr, absent))} in the {place}; expected the targets "
            f"{', '.join(names)}.",
            file=file,
            column=absent[0],
        )


def encode_target(column: pa.ChunkedArray, schema: Schema, *, file: str | None, first_row: int | None) -> np.ndarray:
    """Encode the target ``column`` ``[n]`` for ``schema.task``.

    Returns float32 ``[n]`` of 0/1 for 'binary' (``schema.classes[1]`` is 1), int64 ``[n]`` class
    indices into ``schema.classes`` for 'multiclass', float32 ``[n]`` for 'regression' and 'ltv' (a spend, >= 0: a
    negative one is a DataError).
    Labels are named with :func:`needmap.data.values.stringify` and compared exactly.
    Raises :class:`DataError` for an empty target, a label outside ``schema.classes`` or a
    regression value that is not a number, naming the first such row (``first_row`` = display
    number of row 0); :class:`SchemaError` when the schema lacks the task or its classes.
    """
    name = schema.target
    if column.null_count:
        first = int(np.flatnonzero(to_numpy(pc.is_null(column)))[0])
        raise DataError(
            f"found {column.null_count} empty target values, expected a value in every row.",
            file=file,
            row=None if first_row is None else first_row + first,
            column=name,
            hint="Drop the rows without a target before encoding it.",
        )
    if schema.task in ("regression", "ltv"):
        parsed = parse_numeric(column, column=str(name), file=file)
        parsed.check_unparseable(0.0, column=str(name), file=file, first_row=first_row)
        if parsed.missing.any():
            first = int(np.flatnonzero(parsed.missing)[0])
            raise DataError(
                f"found {parsed.source[first].as_py()!r}, expected a number as the target.",
                file=file,
                row=None if first_row is None else first_row + first,
                column=name,
            )
        if schema.task == "ltv" and (parsed.values < 0).any():
            first = int(np.flatnonzero(parsed.values < 0)[0])
            raise DataError(
                f"found {float(parsed.values[first])!r}, a negative amount, expected a spend >= 0 as the target of a "
                f"lifetime-value (ltv) model ({int((parsed.values < 0).sum())} rows are negative).",
                file=file,
                row=None if first_row is None else first_row + first,
                column=name,
                hint="Net spend over a horizon is at least 0: clip returns at 0, or train a regression target.",
            )
        return parsed.values.astype(np.float32)
    if schema.task not in ("binary", "multiclass"):
        raise SchemaError(
            f"the schema has task {schema.task!r}, expected 'binary', 'regression' or 'multiclass'.",
            column=name,
        )
    expected = 2 if schema.task == "binary" else None
    if len(schema.classes) < 2 or (expected is not None and len(schema.classes) != expected):
        raise SchemaError(
            f"the schema of this {schema.task} task lists the classes {schema.classes}, expected "
            f"{'2' if expected else 'at least 2'} class labels.",
            column=name,
        )
    labels = stringify(column)
    index = pc.index_in(labels, value_set=pa.array(schema.classes, type=pa.string()))
    if index.null_count:
        first = int(np.flatnonzero(to_numpy(pc.is_null(index)))[0])
        raise DataError(
            f"found the label {labels[first].as_py()!r}, expected one of the known classes "
            f"{', '.join(repr(c) for c in schema.classes)} ({index.null_count} rows have other labels).",
            file=file,
            row=None if first_row is None else first_row + first,
            column=name,
        )
    codes = np.asarray(to_numpy(index), dtype=np.int64)
    return codes.astype(np.float32) if schema.task == "binary" else codes


# -- several targets ---------------------------------------------------------------------------------
def target_names(schema: Schema) -> list[str]:
    """The target columns of ``schema`` in output order: one per head."""
    return [h.name for h in schema.heads]


def target_tasks(schema: Schema) -> list[str]:
    """The task of each target of ``schema``, in output order."""
    return [str(h.task) for h in schema.heads]


def head_schema(schema: Schema, name: str) -> Schema:
    """``schema`` seen from target ``name``: its one head is that target's."""
    for head in schema.heads:
        if head.name == name:
            return replace(schema, heads=[head])
    raise SchemaError(f"'{name}' is not a target of the schema; expected one of {', '.join(target_names(schema))}.")


def strata(table: pa.Table, schema: Schema) -> np.ndarray:
    """Object ``[n]`` labels to stratify a split by: the first target's values as text; a row without it
    (possible with several targets) is a stratum of its own."""
    assert schema.target is not None
    return pc.fill_null(stringify(table.column(schema.target)), "\x00missing").to_numpy(zero_copy_only=False)


def encode_targets(table: pa.Table, schema: Schema) -> np.ndarray:
    """Every target of ``schema`` in ``table``, encoded as :func:`encode_target` does.

    Returns the first target's array ``[n]`` when the schema has one target; float32 ``[n, T]``
    (column t = target t: 0/1 or values in the target's units, NaN where the row has no value for
    target t: multi-task training masks those) for T targets. Raises
    :class:`SchemaError` when a target column is absent, :class:`DataError` for an empty or
    unknown target value (naming the row).
    """
    file, first_row = source_of(table), first_row_of(table)
    names = target_names(schema)
    if not names:
        raise SchemaError("the schema has no target column, expected one to encode.", file=file)
    check_target_columns(names, table.column_names, place="table", file=file)
    if len(names) == 1:
        return encode_target(table.column(names[0]), head_schema(schema, names[0]), file=file, first_row=first_row)
    out = np.full((table.num_rows, len(names)), np.nan, dtype=np.float32)
    for t, name in enumerate(names):
        column = table.column(name)
        present = to_numpy(pc.is_valid(column)).astype(bool)
        if not present.any():
            continue
        labelled = column.filter(pa.array(present)) if not present.all() else column
        # Row numbers in errors are exact only where no row of the column was left out.
        first = first_row if present.all() else None
        out[present, t] = encode_target(labelled, head_schema(schema, name), file=file, first_row=first)
    return out


def add_targets(schema: Schema, table: pa.Table, names: Sequence[str], tasks: Sequence[str | None]) -> Schema:
    """``schema`` with the columns ``names`` as further heads (targets) of a multi-task model.

    Each column gets role "target" (it stops being a feature) and its task is inferred as for the
    first target (:func:`needmap.data.infer.infer_schema` rules) unless ``tasks`` gives it. Each
    target, the first included, must be binary or regression: :class:`ConfigError` otherwise;
    :class:`SchemaError` for a column that is not in the table or is named twice.
    """
    file = source_of(table)
    if schema.target is None:
        raise SchemaError("further targets were given but no first target; expected target=['a', 'b'].", file=file)
    names = list(names)
    if len(tasks) != len(names):
        raise ConfigError(f"{len(tasks)} tasks were given for the {len(names)} further targets; expected one each.")
    every = [schema.target, *names]
    repeated = sorted({n for n in every if every.count(n) > 1})
    if repeated:
        raise SchemaError(
            f"the targets {every} name {', '.join(map(repr, repeated))} twice; expected each target once.", file=file
        )
    if schema.task not in MULTITASK_TASKS:
        raise ConfigError(
            f"the target '{schema.target}' is a {schema.task} target; every target of a multi-task model must be "
            f"{' or '.join(MULTITASK_TASKS)}.",
            hint="Train a multiclass target in a model of its own, or recode it as yes/no columns.",
        )
    columns = list(schema.columns)
    index = {c.name: i for i, c in enumerate(columns)}
    extra = []
    for name, task in zip(names, tasks, strict=True):
        if name not in index or name not in table.column_names:
            raise SchemaError(
                f"target column {name!r} is not in the table; expected one of the columns: "
                f"{', '.join(table.column_names)}.",
                file=file,
            )
        inferred, classes, reason = infer_target(name, table.column(name), task, file)
        if inferred not in MULTITASK_TASKS:
            raise ConfigError(
                f"the target '{name}' is a {inferred} target; every target of a multi-task model must be "
                f"{' or '.join(MULTITASK_TASKS)}.",
                hint='Recode it as a yes/no column, or pass task="regression" for numbers.',
            )
        spec = columns[index[name]]
        columns[index[name]] = replace(
            spec, role="target", reason=f"{reason}; target {len(extra) + 2} of a multi-task model"
        )
        extra.append(Head(name, inferred, list(classes)))
    return replace(schema, columns=columns, heads=[*schema.heads, *extra])
