"""A table's profile (what each column holds) and the drift of new rows against it.

:func:`profile_table` describes every column of a table in one JSON-safe dict: its role, missing
values, distinct values, and for a numeric column its moments, quantiles, a histogram and the count
of values the preprocessor clips; for a categorical column its most frequent values; for a list
column (multi-hot, sequence) its most frequent items. A model directory keeps the training rows'
profile as ``profile.json``.

:func:`drift` compares a table (the rows a model scores or is evaluated on) with such a profile,
column by column, by the population stability index (PSI) over the profile's bins:

    PSI = sum over bins b of (a_b - e_b) * ln(a_b / e_b)

where ``e_b`` is the share of the profiled rows in bin ``b`` and ``a_b`` the share of the new rows,
each at least :data:`PSI_EPSILON` (an empty bin would make the logarithm infinite). Missing values
are a bin of their own. PSI below 0.1 reads "stable", below 0.25 "moderate", else "large".

Everything runs on whole columns (``pyarrow.compute`` and numpy): no Python loop over rows.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.overflow import overflow_safe
from needmap.data.provenance import source_of
from needmap.data.values import MULTIHOT_SEPARATOR, category_strings, is_list_type, list_tokens, parse_numeric
from needmap.errors import DataError, SchemaError
from needmap.schema import Schema

VERSION = 1
#: Quantile levels reported for a numeric column.
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: Equal-width bins between the 1% and the 99% quantile; one open bin below and one above make 22 in all.
#: A column of whole numbers that span at most this many values there gets one bin per value instead.
HISTOGRAM_BINS = 20
#: The most frequent values (items, for a list column) kept for a categorical column; the rest is "other".
TOP_VALUES = 20
#: The least share of a bin in the PSI (an empty bin would give an infinite logarithm).
PSI_EPSILON = 1e-4
#: PSI limits of the labels: below the first "stable", below the second "moderate", else "large".
PSI_STABLE, PSI_MODERATE = 0.1, 0.25
#: The training quantiles that the preprocessor clips numeric columns to by default (``PreprocessConfig``'s
#: ``clip_quantiles``; tests/report/test_profile.py checks that they agree): values outside are outliers.
CLIP_QUANTILES: tuple[float, float] = (0.001, 0.999)

NUMERIC, CATEGORICAL, LIST, OTHER = "numeric", "categorical", "list", "other"


# -- roles -------------------------------------------------------------------------------------------
def _role_from_type(typ: pa.DataType) -> str:
    """A column's role read from its Arrow type alone (no schema given)."""
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "numeric"
    if is_list_type(typ):
        return "multihot"
    if pa.types.is_temporal(typ):
        return "datetime"
    if pa.types.is_boolean(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "categorical"
    return "ignored"


def _kind(role: str, typ: pa.DataType, schema: Schema | None) -> str:
    """How a column is summarised: numeric, categorical, list, or other (missing and distinct counts only)."""
    if role == "numeric":
        return NUMERIC
    if role == "categorical":
        return CATEGORICAL
    if role in ("multihot", "sequence"):
        return LIST
    if role == "target":
        return NUMERIC if schema is not None and schema.task == "regression" else CATEGORICAL
    if role == "ignored":
        by_type = _role_from_type(typ)
        return {"numeric": NUMERIC, "categorical": CATEGORICAL, "multihot": LIST}.get(by_type, OTHER)
    return OTHER


def _roles(table: pa.Table, schema: Schema | None) -> dict[str, str]:
    roles = {name: _role_from_type(table.schema.field(name).type) for name in table.column_names}
    if schema is not None:
        for spec in schema.columns:
            if spec.name in roles:
                roles[spec.name] = spec.role
        for head in schema.heads:
            if head.name in roles:
                roles[head.name] = "target"
    return roles


def _separator(name: str, schema: Schema | None) -> str:
    if schema is not None:
        try:
            return str(schema.column(name).options.get("separator") or MULTIHOT_SEPARATOR)
        except KeyError:
            pass
    return MULTIHOT_SEPARATOR


# -- numeric columns ---------------------------------------------------------------------------------
def _numbers(column: pa.ChunkedArray, name: str, file: str | None) -> np.ndarray:
    """A column as float64 ``[n]``, NaN where missing or not a number."""
    return parse_numeric(column, column=name, file=file).values


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each finite value: 0 below ``edges[0]``, k for ``[edges[k-1], edges[k])`` (the last
    inner bin closed on the right), ``len(edges)`` above ``edges[-1]``. Shape ``[n]``, int64."""
    index = np.searchsorted(edges, values, side="right")
    index[values == edges[-1]] = len(edges) - 1
    return index


def _histogram_edges(low: float, high: float) -> list[float]:
    """Edges of the inner bins: :data:`HISTOGRAM_BINS` equal-width bins over [low, high], one bin when equal."""
    if not high > low:
        return [low, high]
    grid = overflow_safe(lambda ends: np.linspace(ends[0], ends[1], HISTOGRAM_BINS + 1), np.array([low, high]))
    return [float(v) for v in grid]


def _integer_edges(ordered: np.ndarray, low: float, high: float) -> list[float] | None:
    """Edges of one bin per whole number from ``low`` to ``high`` (at the half-way points: 0.5, 1.5, ...), when
    every value of ``ordered`` is a whole number and they span at most :data:`HISTOGRAM_BINS` values; else None.
    A month or a count of visits then reads as 1, 2, ..., 12, not as bins such as 1.55 – 2.1."""
    first, last = math.floor(low), math.ceil(high)
    if last - first + 1 > HISTOGRAM_BINS or abs(first) > 2**52 or abs(last) > 2**52:
        return None
    if not np.array_equal(ordered, np.round(ordered)):
        return None
    return [v - 0.5 for v in range(first, last + 2)]


def _numeric_profile(values: np.ndarray) -> dict[str, Any]:
    """Moments, quantiles, histogram and clip outliers of the finite values of one column."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        empty = {"min": None, "max": None, "mean": None, "std": None, "quantiles": {}, "histogram": None}
        return {"distinct": 0, **empty, "outliers": 0}
    ordered = np.sort(finite)
    quantiles = overflow_safe(lambda v: np.quantile(v, QUANTILES), ordered)
    clip_low = float(np.quantile(ordered, CLIP_QUANTILES[0], method="lower"))
    clip_high = float(np.quantile(ordered, CLIP_QUANTILES[1], method="higher"))
    below = int(np.searchsorted(ordered, clip_low, side="left"))
    above = int(ordered.size - np.searchsorted(ordered, clip_high, side="right"))
    whole = _integer_edges(ordered, float(quantiles[0]), float(quantiles[-1]))
    edges = np.asarray(whole or _histogram_edges(float(quantiles[0]), float(quantiles[-1])))
    counts = np.bincount(_bin_index(ordered, edges), minlength=len(edges) + 1)
    histogram: dict[str, Any] = {"edges": edges.tolist(), "counts": [int(c) for c in counts]}
    if whole:
        histogram["integer"] = True
    return {
        "distinct": int(np.count_nonzero(np.diff(ordered)) + 1),
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "mean": float(overflow_safe(np.mean, ordered)),
        "std": float(overflow_safe(np.std, ordered)),
        "quantiles": {_level_name(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        "histogram": histogram,
        "outliers": below + above,
        "clip": {"quantiles": list(CLIP_QUANTILES), "low": clip_low, "high": clip_high},
    }


def _level_name(level: float) -> str:
    """0.05 -> "p5", 0.5 -> "p50"."""
    return f"p{round(level * 100):d}"


# -- categorical and list columns --------------------------------------------------------------------
def _value_counts(strings: pa.Array | pa.ChunkedArray) -> tuple[list[str], np.ndarray, int]:
    """The :data:`TOP_VALUES` most frequent non-null strings (ties by the value), their counts ``[k]``,
    and the number of distinct values."""
    counted = pc.value_counts(strings.drop_null())
    table = pa.table({"values": counted.field("values"), "counts": counted.field("counts")})
    order = pc.sort_indices(table, sort_keys=[("counts", "descending"), ("values", "ascending")])
    top = table.take(order[:TOP_VALUES])
    counts = np.asarray(top.column("counts").to_numpy(), dtype=np.int64)
    return top.column("values").to_pylist(), counts, len(counted)


def _top_profile(values: list[str], counts: np.ndarray, present: int) -> dict[str, Any]:
    """``top`` values with their counts and ``other``: the ``present`` values that are not among them."""
    top = [{"value": v, "count": int(c)} for v, c in zip(values, counts, strict=True)]
    return {"top": top, "other": int(present - counts.sum())}


def _list_parts(column: pa.ChunkedArray, name: str, separator: str, file: str | None) -> tuple[pa.Array, np.ndarray]:
    """The items of a list column ``[t]`` (strings) and the missing mask of its rows ``[n]``."""
    parsed = list_tokens(column, separator=separator, column=name, file=file)
    return parsed.tokens, parsed.missing


# -- the profile -------------------------------------------------------------------------------------
def profile_table(table: pa.Table, schema: Schema | None = None, *, source: str | None = None) -> dict[str, Any]:
    """Describe every column of ``table`` (``n`` rows); the result is JSON-safe.

    Args:
        table: the rows to describe.
        schema: the columns' roles; when None each role is read from the Arrow type (numbers
            "numeric", text and booleans "categorical", lists "multihot", dates and times "datetime").
        source: which rows these are (a file name, "training rows of ..."); default: the table's file.

    Returns:
        ``{"version", "source", "rows", "columns": [...]}``, one entry per column in table order with
        ``name``, ``role``, ``dtype`` (Arrow type), ``kind`` ("numeric", "categorical", "list" or
        "other"), ``missing`` (rows without a value; a numeric column counts text that is not a
        number too), ``missing_share`` (of ``rows``), ``distinct`` (distinct non-missing values) and:

        - numeric: ``min``, ``max``, ``mean``, ``std`` (population), ``quantiles`` (``p1`` ... ``p99``),
          ``histogram`` (``edges``: the :data:`HISTOGRAM_BINS` + 1 edges of equal-width bins from the
          1% to the 99% quantile, or for whole numbers spanning at most :data:`HISTOGRAM_BINS` values
          there one bin per value, its edges half-way between them, and ``integer``: true; ``counts``:
          rows below the first edge, in each bin, above the last edge: they add up to the non-missing
          rows), ``outliers`` (values outside the training
          quantiles the preprocessor clips to by default, :data:`CLIP_QUANTILES`) and ``clip``;
        - categorical: ``top`` (the :data:`TOP_VALUES` most frequent values, ``{"value", "count"}``)
          and ``other`` (rows with any other value);
        - list: ``items`` (items in all rows), ``mean_length`` (items per non-missing row), ``top``
          and ``other`` over the items.
    """
    file = source_of(table)
    rows = table.num_rows
    roles = _roles(table, schema)
    columns = []
    for name in table.column_names:
        column = table.column(name)
        typ = column.type
        role = roles[name]
        kind = _kind(role, typ, schema)
        entry: dict[str, Any] = {"name": name, "role": role, "dtype": str(typ), "kind": kind}
        try:
            entry.update(_column_profile(column, name, kind, _separator(name, schema), file, rows))
        except SchemaError:
            if kind == OTHER:
                raise
            entry["kind"] = OTHER  # e.g. a "numeric" override on a column of structs: count what can be counted
            entry.update(_column_profile(column, name, OTHER, "", file, rows))
        columns.append(entry)
    return {"version": VERSION, "source": source or file, "rows": rows, "columns": columns}


def _column_profile(
    column: pa.ChunkedArray, name: str, kind: str, separator: str, file: str | None, rows: int
) -> dict[str, Any]:
    if kind == NUMERIC:
        values = _numbers(column, name, file)
        missing = int(np.isnan(values).sum())
        stats = _numeric_profile(values)
    elif kind == CATEGORICAL:
        strings = category_strings(column, column=name, file=file)
        missing = int(strings.null_count)
        values, counts, distinct = _value_counts(strings)
        stats = {"distinct": distinct, **_top_profile(values, counts, rows - missing)}
    elif kind == LIST:
        tokens, missing_rows = _list_parts(column, name, separator, file)
        missing = int(missing_rows.sum())
        values, counts, distinct = _value_counts(tokens)
        present = rows - missing
        stats = {
            "distinct": distinct,
            "separator": separator,
            "items": len(tokens),
            "mean_length": len(tokens) / present if present else None,
            **_top_profile(values, counts, len(tokens)),
        }
    elif pa.types.is_null(column.type):
        missing, stats = rows, {"distinct": 0}
    else:
        missing = int(column.null_count)
        try:
            distinct = int(pc.count_distinct(column, mode="only_valid").as_py())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            distinct = None
        stats = {"distinct": distinct}
    return {"missing": missing, "missing_share": missing / rows if rows else 0.0, **stats}


# -- drift -------------------------------------------------------------------------------------------
def psi(expected: np.ndarray | list[float], actual: np.ndarray | list[float]) -> float:
    """Population stability index between two distributions over the same bins.

    Args:
        expected: counts (or shares) per bin of the reference rows ``[b]``.
        actual: counts (or shares) per bin of the new rows ``[b]``.
    Returns: ``sum((a - e) * ln(a / e))`` over the bins, with shares floored at :data:`PSI_EPSILON`;
    0 for identical distributions, larger the more they differ.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1:
        raise DataError(f"the two distributions have {e.shape} and {a.shape} bins; expected the same bins.")
    e = np.maximum(e / max(e.sum(), 1e-300), PSI_EPSILON)
    a = np.maximum(a / max(a.sum(), 1e-300), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_label(value: float) -> str:
    """ "stable" (PSI < 0.1), "moderate" (< 0.25) or "large"."""
    if value < PSI_STABLE:
        return "stable"
    if value < PSI_MODERATE:
        return "moderate"
    return "large"


def _numeric_bins(entry: dict[str, Any], values: np.ndarray) -> tuple[list[str], list[int], list[int]] | None:
    histogram = entry.get("histogram")
    if not histogram:
        return None
    edges = np.asarray(histogram["edges"], dtype=np.float64)
    finite = values[np.isfinite(values)]
    actual = np.bincount(_bin_index(finite, edges), minlength=len(edges) + 1).tolist()
    if histogram.get("integer"):  # one bin per whole number: labelled by it
        labels = [
            f"< {_short(edges[0] + 0.5)}",
            *(_short(lo + 0.5) for lo in edges[:-1]),
            f"> {_short(edges[-1] - 0.5)}",
        ]
    else:
        labels = [f"< {_short(edges[0])}"]
        labels += [f"{_short(lo)} – {_short(hi)}" for lo, hi in itertools.pairwise(edges)]
        labels.append(f"> {_short(edges[-1])}")
    expected = list(histogram["counts"])
    return labels, expected, actual


def _short(value: float) -> str:
    return f"{value:.4g}"


def _top_bins(entry: dict[str, Any], items: pa.Array | pa.ChunkedArray) -> tuple[list[str], list[int], list[int]]:
    """Counts of the profile's top values in ``items`` (strings), the rest as "other"."""
    top = [t["value"] for t in entry.get("top", [])]
    present = items.drop_null()
    if top:
        index = pc.index_in(present, value_set=pa.array(top, type=pa.string()))
        found = np.asarray(pc.fill_null(index, len(top)).to_numpy(zero_copy_only=False), dtype=np.int64)
    else:
        found = np.full(len(present), 0, dtype=np.int64)
    actual = np.bincount(found, minlength=len(top) + 1).tolist()
    expected = [int(t["count"]) for t in entry.get("top", [])] + [int(entry.get("other", 0))]
    return [*top, "other"], expected, actual


def _drift_entry(entry: dict[str, Any], column: pa.ChunkedArray, file: str | None) -> dict[str, Any] | None:
    name, kind = entry["name"], entry["kind"]
    if kind == NUMERIC:
        values = _numbers(column, name, file)
        bins = _numeric_bins(entry, values)
        if bins is None:
            return None
        missing = int(np.isnan(values).sum())
    elif kind == CATEGORICAL:
        strings = pc.cast(category_strings(column, column=name, file=file), pa.string())
        bins = _top_bins(entry, strings)
        missing = int(strings.null_count)
    elif kind == LIST:
        tokens, missing_rows = _list_parts(column, name, _separator_of(entry), file)
        bins = _top_bins(entry, pc.cast(tokens, pa.string()))
        missing = int(missing_rows.sum())
    else:
        return None
    labels, expected, actual = bins
    labels, expected, actual = [*labels, "missing"], [*expected, int(entry["missing"])], [*actual, missing]
    e_total, a_total = sum(expected), sum(actual)
    value = psi(expected, actual) if e_total and a_total else None  # no rows on one side: nothing to compare
    e_total, a_total = max(e_total, 1), max(a_total, 1)
    return {
        "column": name,
        "role": entry["role"],
        "kind": kind,
        "psi": value,
        "label": "no rows" if value is None else psi_label(value),
        "bins": labels,
        "expected": [c / e_total for c in expected],
        "actual": [c / a_total for c in actual],
    }


def _separator_of(entry: dict[str, Any]) -> str:
    return str(entry.get("separator") or MULTIHOT_SEPARATOR)


def drift(train_profile: dict[str, Any], table: pa.Table) -> list[dict[str, Any]]:
    """Per column, how far ``table``'s values moved from those of ``train_profile`` (a :func:`profile_table` dict).

    Numeric columns are binned on the profile's histogram edges (two open outer bins), categorical
    columns on its top values plus "other", list columns on its top items plus "other"; missing
    values (rows, for a list column) are one more bin. Id, date and other columns are left out.

    Returns:
        one dict per compared column, largest PSI first: ``column``, ``role``, ``kind``, ``psi``,
        ``label`` ("stable", "moderate", "large"), ``bins`` (labels ``[b]``), ``expected`` and
        ``actual`` (shares of the profiled rows and of ``table``'s rows per bin, ``[b]`` each). A
        profiled column that ``table`` lacks comes first, with ``psi`` None and ``label`` "absent"; when
        the profile or ``table`` has no rows, ``psi`` is None and ``label`` "no rows" (last).
    """
    if not isinstance(train_profile, dict) or not isinstance(train_profile.get("columns"), list):
        raise DataError(
            "the profile has no 'columns' list; expected the dict that needmap.data.profile.profile_table returns."
        )
    file = source_of(table)
    results: list[dict[str, Any]] = []
    absent: list[dict[str, Any]] = []
    for entry in train_profile["columns"]:
        if entry.get("kind") not in (NUMERIC, CATEGORICAL, LIST):
            continue
        if entry["name"] not in table.column_names:
            absent.append(
                {"column": entry["name"], "role": entry.get("role"), "kind": entry["kind"], "psi": None}
                | {"label": "absent", "bins": [], "expected": [], "actual": []}
            )
            continue
        result = _drift_entry(entry, table.column(entry["name"]), file)
        if result is not None:
            results.append(result)
    results.sort(key=lambda r: (math.inf if r["psi"] is None else -r["psi"], r["column"]))
    return absent + results
