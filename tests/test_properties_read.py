"""Generated tables (hypothesis) written as CSV, Parquet and JSON lines and given as dict rows, read by
``needmap.read``: every reading ends in a table or a :class:`~needmap.errors.NeedmapError`, never another exception;
a table keeps every row, in order, its ids exactly as written; the four sources give the same cells; and an error
about a row names the same data row in every format, counted by each format's rule (docs/reliability.md).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from needmap.data.provenance import first_row_of, source_of
from needmap.data.read import read
from needmap.data.values import parse_numeric
from needmap.errors import DataError, NeedmapError, ReadingNote
from property_tables import FIXED, canonical_rows, tables

FORMATS = ("csv", "parquet", "jsonl", "records")
#: What each property tried and how it ended, printed by the last test of the module (``pytest -s``).
TRIED: Counter[str] = Counter()


def _json_value(value: Any) -> Any:
    """JSON has no NaN or infinity: a writer puts null there."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write(table: pa.Table, folder: Path, fmt: str) -> Any:
    """``table`` as the source ``read`` gets in format ``fmt``: a file path, or dict rows for ``records``."""
    if fmt == "records":
        return table.to_pylist()
    path = folder / f"t.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:  # written by hand: a repeated key stays repeated, as in a file a program wrote
        lines = []
        for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
            fields = (
                f"{json.dumps(k)}: {json.dumps(_json_value(v))}" for k, v in zip(table.column_names, row, strict=True)
            )
            lines.append("{" + ", ".join(fields) + "}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_as(table: pa.Table, folder: Path, fmt: str) -> pa.Table | NeedmapError:
    """The table ``read`` returns for ``table`` written as ``fmt``, or the NeedmapError it raises (any other
    exception fails the test); a CSV whose header reads as data (with a ReadingNote) is returned as read."""
    source = write(table, folder, fmt)
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", ReadingNote)
            got = read(source)
    except NeedmapError as err:
        event(f"{fmt}: {type(err).__name__}")
        TRIED[f"{fmt} error"] += 1
        return err
    TRIED[f"{fmt} table"] += 1
    if any(issubclass(n.category, ReadingNote) for n in notes):
        event(f"{fmt}: header read as data")
        got = got.replace_schema_metadata({**(got.schema.metadata or {}), b"header_as_data": b"1"})
    return got


def expected_names(table: pa.Table, fmt: str) -> list[str]:
    """Column names as each format keeps them: a CSV header is stripped of spaces (a blank name kept)."""
    return [n.strip() or n for n in table.column_names] if fmt == "csv" else table.column_names


@settings(FIXED, max_examples=100)
@given(table=tables())
@example(table=pa.table({"row_id": ["r000"], "big": [2**62]}).append_column("huge", pa.array([None], pa.null())))
def test_every_format_reads_every_row_in_order_or_raises_a_needmap_error(table: pa.Table) -> None:
    """Rows are never lost, added or reordered silently: a result keeps the row count and the ids as written."""
    TRIED["read rows"] += 1
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            if fmt == "records" and len(set(table.column_names)) < table.num_columns:
                continue  # a dict holds each key once
            got = read_as(table, Path(folder), fmt)
            if isinstance(got, NeedmapError):
                continue
            if (got.schema.metadata or {}).get(b"header_as_data"):  # the header row is a data row, named so
                assert got.num_rows == table.num_rows + 1
                assert got.column(0).to_pylist() == ["row_id", *table.column("row_id").to_pylist()]
                continue
            assert got.num_rows == table.num_rows, fmt
            assert got.column_names == expected_names(table, fmt), fmt
            assert got.column("row_id").to_pylist() == table.column("row_id").to_pylist(), fmt


@settings(FIXED, max_examples=100)
@given(table=tables(unique_names=True))
def test_the_same_table_from_each_format_gives_the_same_cells(table: pa.Table) -> None:
    """CSV, Parquet, JSON lines and dict rows agree cell by cell, each cell read canonically (a missing marker,
    blank text and NaN are missing; a number in text is that number; text is compared stripped)."""
    TRIED["same cells"] += 1
    if len({n.strip() for n in table.column_names}) < table.num_columns:
        return  # names that are one name once a CSV header is stripped: the read property covers them
    with tempfile.TemporaryDirectory() as folder:
        read_tables = {fmt: read_as(table, Path(folder), fmt) for fmt in FORMATS}
    rows = {
        fmt: canonical_rows(got)
        for fmt, got in read_tables.items()
        if isinstance(got, pa.Table) and not (got.schema.metadata or {}).get(b"header_as_data")
    }
    expected = canonical_rows(table)
    # JSON has no infinity: written as null (a float column's; the text "inf" stays text)
    as_json = pa.table(
        {n: [_json_value(v) for v in c.to_pylist()] for n, c in zip(table.column_names, table.columns, strict=True)}
    )
    TRIED["same cells compared"] += len(rows)
    for fmt, got in rows.items():
        assert got == (canonical_rows(as_json) if fmt == "jsonl" else expected), fmt


@settings(FIXED, max_examples=10)
@given(rows=st.integers(1, 8), bad=st.data())
@example(rows=1, bad=None)
def test_a_row_named_in_an_error_is_the_same_data_row_in_every_format(rows: int, bad: Any) -> None:
    """The first text in a numeric column is named by its row: data row k is row k + 2 of a CSV file (line
    numbers, the header is row 1), row k + 1 of a JSON-lines file (line numbers) and row k of a Parquet file or
    dict rows (positions from 0, as an Arrow table's rows): the offset depends on the format only."""
    k = rows - 1 if bad is None else bad.draw(st.integers(0, rows - 1), label="k")
    values: list[Any] = [str(i) for i in range(rows)]
    values[k] = "forty"
    table = pa.table({"row_id": [f"r{i}" for i in range(rows)], "v": values})
    offsets = {}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            got = read_as(table, Path(folder), fmt)
            assert isinstance(got, pa.Table)
            parsed = parse_numeric(got.column("v"), column="v", file=source_of(got))
            with pytest.raises(DataError) as caught:
                parsed.check_unparseable(0.0, column="v", file=source_of(got), first_row=first_row_of(got))
            assert caught.value.column == "v" and "'forty'" in str(caught.value)
            offsets[fmt] = caught.value.row - k
    TRIED["row numbers"] += 1
    assert offsets == {"csv": 2, "jsonl": 1, "parquet": 0, "records": 0}


def test_report_cases_tried() -> None:
    """Print how many cases each property tried and how the readings ended (seen with ``pytest -s``)."""
    print("\nproperties of reading:", dict(sorted(TRIED.items())))
