"""Small readings of one column that schema and target inference share: its plain values, what is missing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


NUMBER_RE = rf"^\s*{_NUMBER}\s*$"

#: A numeric column gets a value field by default only when its values fill less than this share of their
#: grid (:func:`grid_share`): levels or codes, not a count range, which its scaled number already orders.
MAX_GRID_SHARE = 0.5


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


def grid_share(distinct: np.ndarray) -> float:
    """The share of the evenly spaced grid from the smallest to the largest value, at the smallest gap
    between two values, that the increasing ``distinct`` values ``[k]`` fill: 1.0 for a count range
    (0, 1, 2, ... 27) or equally spaced levels, near 0 for amounts or rates (0, 1902, 2415, 7688, ...)."""
    if distinct.size < 2:
        return 1.0
    with np.errstate(over="ignore"):  # 1e308 - (-1e308), or a range over a subnormal gap: no finite grid
        gaps = np.diff(distinct)
        steps = float(distinct[-1] - distinct[0]) / float(np.min(gaps))
    if not np.isfinite(steps) or not np.isfinite(gaps).all():
        return 0.0  # a grid of more points than a float counts: the values fill none of it
    points = round(steps) + 1
    return distinct.size / max(points, distinct.size)
