"""Rows as JSON objects to an Arrow table, read as needmap reads rows; and tables back to JSON rows.

A request's rows are read with :func:`needmap.data.read.read` (a list of dicts), so that a value means in a
request what it means in a file: text is stripped, missing-value markers (``NA``, ``?``, ...) and empty text are
missing, and each column gets one type. Only the columns the model reads are kept (:func:`rows_table`): another
field of a row is ignored, as an extra column of a file is.

Where the online features are added (a row that holds only the model's id columns getting the rest from a
feature store) is here, between the request's rows and the table the model scores.

JSON has no NaN, infinity, date or bytes: :func:`json_rows` writes NaN and infinities as null and dates and
times as ISO text.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.read import read
from needmap.data.read_options import MISSING_MARKERS

_MARKERS = frozenset(MISSING_MARKERS)


def picked(row: Mapping[str, Any], keep: Collection[str]) -> dict[str, Any]:
    """The fields of ``row`` that are columns the model reads."""
    return {name: value for name, value in row.items() if name in keep}


def rows_table(rows: Sequence[Mapping[str, Any]], keep: Collection[str]) -> pa.Table:
    """The rows as the table the model scores: the fields in ``keep``, read by :func:`needmap.data.read.read`
    (row ``i`` of the table is row ``i`` of the request, and an error names it so)."""
    return read([picked(row, keep) for row in rows])


def reads_as_given(value: Any) -> bool:
    """Whether :func:`needmap.data.read.read` keeps ``value`` as it is: a number, a boolean, null, or text with no
    space around it that is no missing-value marker (plain ASCII, so that no Unicode space is in doubt)."""
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return value != "" and value.isascii() and value == value.strip() and value not in _MARKERS
    return False


def _jsonable(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` with values JSON can hold: floats' NaN and infinities null, dates and times ISO text,
    decimals floats."""
    kind = column.type
    if pa.types.is_floating(kind):
        finite = pc.is_finite(column)
        return pc.if_else(finite, column, pa.scalar(None, kind))
    if pa.types.is_temporal(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_decimal(kind):
        return pc.cast(column, pa.float64())
    if pa.types.is_dictionary(kind):
        return _jsonable(column.cast(kind.value_type))
    return column


def plain(value: Any) -> Any:
    """One Python value as JSON can hold it (NaN and infinities None, nested lists and dicts too)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # a numpy scalar
        return plain(value.item())
    return value


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as JSON objects (see the module)."""
    columns = [_jsonable(column) for column in table.columns]
    rows = pa.table(columns, names=table.column_names).to_pylist()
    nested = [
        name for name, kind in zip(table.column_names, table.schema.types, strict=True) if pa.types.is_nested(kind)
    ]
    if nested or any(pa.types.is_binary(kind) or pa.types.is_large_binary(kind) for kind in table.schema.types):
        rows = [plain(row) for row in rows]
    return rows


def json_column(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """One column's values as JSON can hold them."""
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    return [plain(value) for value in _jsonable(chunked).to_pylist()]
