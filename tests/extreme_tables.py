"""Tables of extreme values for property tests (hypothesis): integers beyond 2^53 (nanosecond timestamps)
and floats near the float64 limit (the sentinel +-1e308), among ordinary values."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import strategies as st

NANOSECONDS = [1_625_097_600_123_456_789, 1_700_000_000_000_000_001, 2**53 + 1, 2**62, -(2**63) + 1]
SENTINELS = [1e308, -1e308, 1.7976931348623157e308, -1.7976931348623157e308, 1e300]
ROWS = 30


@st.composite
def extreme_tables(draw: st.DrawFn) -> pa.Table:
    """A table of 30 rows: one to three feature columns, each of ordinary values with a few extreme ones
    (integers beyond 2^53, whole timestamps in nanoseconds, floats near the float64 limit), and a 0/1
    target."""
    columns: dict[str, pa.Array] = {}
    for j in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["integers", "nanoseconds", "floats"]))
        if kind == "integers":
            values: list = draw(st.lists(st.integers(0, 6), min_size=ROWS, max_size=ROWS))
            extremes = st.sampled_from(NANOSECONDS)
        elif kind == "nanoseconds":
            values = draw(st.lists(st.sampled_from(NANOSECONDS[:2]), min_size=ROWS, max_size=ROWS))
            extremes = st.integers(1_600_000_000 * 10**9, 1_700_000_000 * 10**9)
        else:
            values = draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=ROWS, max_size=ROWS))
            extremes = st.sampled_from(SENTINELS)
        for at in draw(st.lists(st.integers(0, ROWS - 1), min_size=1, max_size=4)):
            values[at] = draw(extremes)
        columns[f"c{j}"] = pa.array(values)
    columns["y"] = pa.array([i % 2 for i in range(ROWS)])
    return pa.table(columns)
