"""Small readings of one column that schema and target inference share: its plain values, what is missing."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


NUMBER_RE = rf"^\s*{_NUMBER}\s*$"


def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary columns decoded to their values, large/view strings as ``string``."""
    typ = col.type
    if pa.types.is_dictionary(typ):
        return _plain(pc.cast(col, typ.value_type))
    if pa.types.is_large_string(typ) or typ == pa.string_view():
        return pc.cast(col, pa.string())
    return col


def _nan_mask(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    return pc.is_nan(col) if pa.types.is_floating(col.type) else None


def _n_missing(col: pa.ChunkedArray) -> int:
    """Nulls, plus NaNs in a float column."""
    nan = _nan_mask(col)
    extra = int(pc.sum(nan).as_py() or 0) if nan is not None else 0
    return col.null_count + extra


def _valid(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """``col`` without nulls and NaNs."""
    nan = _nan_mask(col)
    if nan is not None:
        col = pc.filter(col, pc.invert(pc.fill_null(nan, True)))
    return pc.drop_null(col)


def _clip(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
