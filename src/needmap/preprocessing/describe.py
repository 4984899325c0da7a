"""A schema as a printed table: each column's role, counts and what the preprocessor will make of it."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from needmap.data.infer import column_counts
from needmap.data.values import parse_numeric
from needmap.errors import SchemaError
from needmap.preprocessing.option_values import DEFAULT_VALUE_FIELDS, DEFAULT_ZERO_SHARE
from needmap.preprocessing.values import chooses_value_field
from needmap.preprocessing.zero_flags import chooses_zero_flag
from needmap.schema import ColumnSpec, Schema


def describe_schema(schema: Schema, table: pa.Table) -> list[dict[str, Any]]:
    """One row per column of ``schema`` for a printed table.

    Returns:
        dicts with keys ``name``, ``role``, ``type`` (Arrow type as text), ``distinct`` (count of
        distinct non-missing values), ``missing`` (count of null or NaN values) and ``reason``;
        ``distinct`` and ``missing`` are None for a column that ``table`` lacks or whose type cannot
        be counted. The reason of a numeric column whose values in ``table`` are levels or amounts
        says that it will also get a value field by default (:mod:`needmap.preprocessing.values`; the
        training rows decide), that of one mostly zero over a long range that it will get a zero flag
        (:mod:`needmap.preprocessing.zero_flags`).
    """
    rows = []
    present = set(table.column_names)
    for spec in schema.columns:
        distinct = missing = None
        reason = spec.reason
        if spec.name in present and spec.role == "numeric":
            value_field, zero_flag = _numeric_extras_expected(spec, table.column(spec.name))
            if value_field:
                reason = f"{reason}; + a value field (levels or amounts)"
            if zero_flag:
                reason = f"{reason}; + a zero flag (mostly zero)"
        if spec.name in present:
            distinct, missing = column_counts(table.column(spec.name))
        rows.append(
            {
                "name": spec.name,
                "role": spec.role,
                "type": spec.dtype,
                "distinct": distinct,
                "missing": missing,
                "reason": reason,
            }
        )
    return rows


def _numeric_extras_expected(spec: ColumnSpec, column: pa.ChunkedArray) -> tuple[bool, bool]:
    """Whether the default rules give numeric column ``spec`` a value field (its ``values`` option,
    else at most 200 distinct values filling less than half their grid) and a zero flag (its
    ``zero_flag`` option, else zero in at least 30% of the values, over more than 200 distinct ones)
    on these values."""
    if "bucketize" in spec.options:
        return False, False
    try:
        parsed = parse_numeric(column, column=spec.name, file=None)
    except (SchemaError, ValueError, pa.ArrowException):
        return False, False
    return (
        chooses_value_field(parsed, option=spec.options.get("values"), limit=DEFAULT_VALUE_FIELDS),
        chooses_zero_flag(parsed, option=spec.options.get("zero_flag"), share=DEFAULT_ZERO_SHARE),
    )
