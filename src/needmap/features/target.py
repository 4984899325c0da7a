"""The target column as the array a model learns from."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.values import stringify
from needmap.errors import DataError, SchemaError
from needmap.features.numeric import parse_numeric, to_numpy
from needmap.schema import Schema


def encode_target(column: pa.ChunkedArray, schema: Schema, *, file: str | None, first_row: int | None) -> np.ndarray:
    """Encode the target ``column`` ``[n]`` for ``schema.task``.

    Returns float32 ``[n]`` of 0/1 for 'binary' (``schema.classes[1]`` is 1), int64 ``[n]`` class
    indices into ``schema.classes`` for 'multiclass', float32 ``[n]`` for 'regression'.
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
    if schema.task == "regression":
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
