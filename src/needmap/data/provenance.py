"""Where a table came from: the source and first data row recorded in an Arrow table's metadata.

Errors name the file and the row of a value; these helpers keep that information with the table through
reading, slicing and taking rows (:func:`needmap.data.read.read` records it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

SOURCE_KEY = b"needmap.source"


FIRST_ROW_KEY = b"needmap.first_row"


UNKNOWN_ROWS = b"unknown"  # FIRST_ROW_KEY value of a reordered or subsampled table


# -- public helpers --------------------------------------------------------------------------------
def source_of(table: pa.Table) -> str | None:
    """Where ``table`` came from (a file path or a description), as stored by :func:`read`; else None."""
    meta = table.schema.metadata or {}
    value = meta.get(SOURCE_KEY)
    return value.decode("utf-8") if value is not None else None


def first_row_of(table: pa.Table) -> int | None:
    """Display number of the table's data row 0 (2 for a CSV file with a header); 0 when not stored;
    None when the rows were reordered or subsampled (:func:`take_rows`), so row numbers are unknown."""
    meta = table.schema.metadata or {}
    value = meta.get(FIRST_ROW_KEY)
    if value == UNKNOWN_ROWS:
        return None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def take_rows(table: pa.Table, indices: Any) -> pa.Table:
    """The rows of ``table`` at ``indices``, with the source kept and the row numbering marked
    unknown: an error about a row of a split part then names the file and column but no wrong row.

    Positions in increasing order (the parts of a split) are kept by a filter, which gives the same rows
    as Arrow's ``take`` and copies text columns several times faster (:func:`_increasing_mask`)."""
    mask = _increasing_mask(indices, table.num_rows)
    part = table.take(indices) if mask is None else table.filter(mask)
    meta = dict(part.schema.metadata or {})
    meta[FIRST_ROW_KEY] = UNKNOWN_ROWS
    return part.replace_schema_metadata(meta)


def _increasing_mask(indices: Any, n: int) -> pa.Array | None:
    """A boolean mask of ``n`` rows true at ``indices`` when they are integer positions in strictly increasing
    order within ``0..n-1`` (then filtering by it is taking them); None otherwise."""
    if isinstance(indices, pa.ChunkedArray):
        indices = indices.combine_chunks()
    if isinstance(indices, pa.Array):
        if not pa.types.is_integer(indices.type) or indices.null_count:
            return None
        indices = indices.to_numpy(zero_copy_only=False)
    positions = np.asarray(indices)
    if positions.ndim != 1 or positions.dtype.kind not in "iu" or len(positions) == 0:
        return None
    if (
        positions[0] < 0
        or positions[-1] >= n
        or (len(positions) > 1 and not bool(np.all(positions[1:] > positions[:-1])))
    ):
        return None
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return pa.array(mask)


def with_source(table: pa.Table, source: str, first_row: int | None) -> pa.Table:
    """``table`` with ``source`` and ``first_row`` stored in its schema metadata (other keys kept)."""
    meta = dict(table.schema.metadata or {})
    meta[SOURCE_KEY] = source.encode("utf-8")
    meta[FIRST_ROW_KEY] = UNKNOWN_ROWS if first_row is None else str(first_row).encode("ascii")
    return table.replace_schema_metadata(meta)
