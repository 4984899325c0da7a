"""Strategies (hypothesis) for the property tests of tests/test_properties_*.py: tables and rows with the values
a user's file holds at its edges (NaN, +-inf, 1e308, 5e-324, -0.0, unicode, empty and blank text, missing
markers, numbers and text in one column, odd or repeated column names, one row, one class, all missing), and
the canonical reading of a cell that every format must agree on.

Every property runs a fixed number of derandomized examples (:data:`FIXED`), so CI sees the same cases each time.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from needmap.data.read_options import MISSING_MARKERS
from needmap.data.values import NUMBER_PATTERN

#: Fixed, derandomized budget: the same examples on every run, no example database.
FIXED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

EDGE_FLOATS = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    -0.0,
    0.0,
    1.5,
]
EDGE_INTS = [0, -1, 7, 2**53 + 1, 2**62, -(2**63) + 1]
MARKERS = ["", " ", "\t", "  ", *MISSING_MARKERS, "None", "none"]
#: Letters, digits, punctuation of CSV (comma, quote, semicolon, pipe), spaces, a line break and non-ASCII text.
ALPHABET = st.sampled_from(list("ab zZ09.,;|\"'-+e\t\nüßé名前😀\u00a0"))
TEXT = st.one_of(st.sampled_from(MARKERS), st.text(ALPHABET, max_size=6))
NUMBER_TEXT = st.sampled_from(["1", " 7 ", "7.0", "007", "-0", "1e5", "1e400", "5e-324", "+.5", "inf", "-Infinity"])
ODD_NAMES = st.one_of(
    st.sampled_from(["a", " a", "a ", "a.b", "a b", "ünï", "名前", "", "x" * 300, "a,b", 'q"t', "t\tn", "1", "id"]),
    st.text(ALPHABET, min_size=1, max_size=4),
)
_NUMBER = re.compile(NUMBER_PATTERN)
_BLANKS = {m.strip() for m in MARKERS}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def floats() -> st.SearchStrategy[float]:
    """Edge floats among ordinary ones."""
    return st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(-1e6, 1e6, allow_nan=False, width=32))


def column_values(kind: str, n: int) -> st.SearchStrategy[list[Any]]:
    """``n`` values of one column of ``kind``: float, int, text, mixed (numbers and text as text), bool or missing."""
    if kind == "float":
        value: st.SearchStrategy[Any] = st.one_of(st.none(), floats())
    elif kind == "int":
        value = st.one_of(st.none(), st.sampled_from(EDGE_INTS), st.integers(-1000, 1000))
    elif kind == "text":
        value = st.one_of(st.none(), TEXT)
    elif kind == "mixed":
        value = st.one_of(st.none(), TEXT, NUMBER_TEXT)
    elif kind == "bool":
        value = st.one_of(st.none(), st.booleans())
    else:
        return st.just([None] * n)
    return st.lists(value, min_size=n, max_size=n)


ARROW_TYPES = {"float": pa.float64(), "int": pa.int64(), "text": pa.string(), "mixed": pa.string()}
ARROW_TYPES |= {"bool": pa.bool_(), "missing": pa.null()}
KINDS = list(ARROW_TYPES)


@st.composite
def tables(draw: st.DrawFn, *, max_rows: int = 6, unique_names: bool = False, target: bool = False) -> pa.Table:
    """A table of 1 to ``max_rows`` rows: a ``row_id`` column of unique texts, one to four columns of edge values
    with odd names (repeated unless ``unique_names``) and, with ``target``, a ``y`` column of one or two classes."""
    n = draw(st.integers(1, max_rows))
    names = draw(st.lists(ODD_NAMES, min_size=1, max_size=4, unique=unique_names))
    names = [name for name in names if not unique_names or name.strip() not in ("row_id", "y")]
    arrays = [pa.array([f"r{i:03d}" for i in range(n)])]
    for _ in names:
        kind = draw(st.sampled_from(KINDS))
        arrays.append(pa.array(draw(column_values(kind, n)), ARROW_TYPES[kind]))
    all_names = ["row_id", *names]
    if target:
        classes = draw(st.sampled_from([["no"], ["no", "yes"], ["0", "1"]]))
        arrays.append(pa.array(draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))))
        all_names.append("y")
    return pa.Table.from_arrays(arrays, names=all_names)


def canonical(value: Any) -> Any:
    """A cell as every reader must agree on it: None for missing (null, NaN, blank text, a missing marker), a float
    for a number (in text too, +-inf included), True/False for a boolean and its spellings, else the stripped text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        return None if math.isnan(number) else number
    text = str(value).strip()
    if text in _BLANKS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _NUMBER.match(text) or text.lower().lstrip("+-") in ("inf", "infinity"):
        number = float(text)
        return None if math.isnan(number) else number
    return text


def canonical_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The table's rows, each cell :func:`canonical`."""
    return [tuple(canonical(v) for v in row) for row in zip(*(c.to_pylist() for c in table.columns), strict=True)]
