"""A Parquet file read a column or a slice of rows at a time: training data larger than memory.

Parquet stores each column of each row group on its own, so one column of every row (what a
vocabulary or a numeric statistic needs) can be read without the others, and the rows of one row group
without the rest of the file. :class:`ParquetRows` gives both, each normalized as
:func:`needmap.data.read.read` normalizes a whole table (dictionaries decoded, text as ``string``),
with the file's name and row numbers in the schema metadata so that errors still name them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from needmap.data.provenance import take_rows, with_source
from needmap.data.read import read
from needmap.errors import DataError

#: Rows of one slice of a row group handed out by :meth:`ParquetRows.slices` (a file written as one huge
#: row group is still read a slice at a time).
SLICE_ROWS = 100_000


def _unreadable(path: str, err: BaseException) -> DataError:
    return DataError(f"could not be read as Parquet ({err}); expected a valid Parquet file", file=path)


class ParquetRows:
    """One Parquet file, read in parts.

    Attributes:
        path: the file, as given.
        num_rows: rows of the file.
        column_names: its columns, in order.
        group_starts: int64 ``[G + 1]``: the first row of each row group, then ``num_rows``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._file = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError, EOFError, zlib.error) as err:
            raise _unreadable(self.path, err) from None
        meta = self._file.metadata
        self.num_rows = int(meta.num_rows)
        if self.num_rows == 0:
            raise DataError("has no data rows; expected at least one row", file=self.path)
        self.column_names = list(self._file.schema_arrow.names)
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self.group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @property
    def num_groups(self) -> int:
        return len(self.group_starts) - 1

    def _read(self, table: pa.Table, first_row: int | None) -> pa.Table:
        return with_source(read(table), self.path, first_row)

    def null_count(self, name: str) -> int:
        """Missing values of column ``name``: from the file's statistics where every row group has them
        (a flat schema, a column of scalars), else by reading the column (a list column's statistics count
        its missing items, not its missing rows)."""
        meta = self._file.metadata
        scalar = not pa.types.is_nested(self._file.schema_arrow.field(name).type)
        if scalar and meta.num_columns == len(self.column_names):
            i = self.column_names.index(name)
            stats = [meta.row_group(g).column(i).statistics for g in range(self.num_groups)]
            if all(s is not None and s.has_null_count for s in stats):
                return sum(int(s.null_count) for s in stats)
        return int(self.column(name).null_count)

    def columns(self, names: Sequence[str]) -> pa.Table:
        """Every row of the columns ``names`` (row numbers of the file kept)."""
        try:
            table = self._file.read(columns=list(names))
        except (pa.ArrowException, OSError, EOFError, zlib.error) as err:
            raise _unreadable(self.path, err) from None
        return self._read(table, 0)

    def column(self, name: str) -> pa.ChunkedArray:
        """Every row of one column."""
        return self.columns([name]).column(0)

    def group(self, g: int, columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of row group ``g`` (all columns, or ``columns``)."""
        try:
            table = self._file.read_row_group(g, columns=None if columns is None else list(columns))
        except (pa.ArrowException, OSError, EOFError, zlib.error) as err:
            raise _unreadable(self.path, err) from None
        return self._read(table, int(self.group_starts[g]))

    def slices(self, g: int, rows: int = SLICE_ROWS) -> Iterator[tuple[int, pa.Table]]:
        """(first row, table) of the slices of at most ``rows`` rows that make up row group ``g``, in order."""
        start = int(self.group_starts[g])
        try:
            for batch in self._file.iter_batches(batch_size=rows, row_groups=[g]):
                yield start, self._read(pa.Table.from_batches([batch]), start)
                start += batch.num_rows
        except (pa.ArrowException, OSError, EOFError, zlib.error) as err:
            raise _unreadable(self.path, err) from None

    def selected(self, rows: np.ndarray, groups: Iterable[int] | None = None) -> Iterator[tuple[int, int, pa.Table]]:
        """``(lo, hi, table)``: the rows at the file's row numbers ``rows[lo:hi]`` (``rows`` sorted), read a slice
        of a row group at a time, for the row groups ``groups`` in that order (default: every one, in order).
        A row group holding none of them is not read; a slice's table is itself when every row of it is wanted,
        else its rows taken (the file named, row numbers unknown)."""
        for g in range(self.num_groups) if groups is None else groups:
            lo, hi = np.searchsorted(rows, self.group_starts[g : g + 2])
            if hi == lo:
                continue
            for start, table in self.slices(int(g)):
                a, b = np.searchsorted(rows, [start, start + table.num_rows])
                if b > a:
                    local = rows[a:b] - start
                    yield int(a), int(b), table if len(local) == table.num_rows else take_rows(table, pa.array(local))

    def take(self, rows: np.ndarray) -> pa.Table:
        """The rows at the file's row numbers ``rows`` (int64, strictly increasing), in that order, every column:
        read a slice of a row group at a time (:meth:`selected`), so that memory holds the rows taken and one
        slice. Row numbers are unknown in the result (it names the file)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows[0] < 0 or rows[-1] >= self.num_rows or np.any(np.diff(rows) <= 0)):
            raise ValueError(f"row numbers must increase strictly within 0..{self.num_rows - 1}")
        parts = [table.replace_schema_metadata(None) for _, _, table in self.selected(rows)]
        if not parts:  # no row: the columns as a read gives them (one slice read, none of its rows kept)
            parts = [next(self.slices(0))[1].slice(0, 0).replace_schema_metadata(None)]
        return with_source(pa.concat_tables(parts), self.path, None)

    def sample(self, max_rows: int) -> pa.Table:
        """``max_rows`` rows from row groups spread evenly over the file (every row when the file is that
        small): what schema inference looks at. Row numbers are unknown in the result."""
        if self.num_rows <= max_rows:
            return self._read(self._file.read(), 0)
        sizes = np.diff(self.group_starts)
        # The fewest evenly spaced row groups that hold max_rows rows, the last one cut short.
        for k in range(max(1, self.num_groups * max_rows // self.num_rows), self.num_groups + 1):
            picks = np.unique(np.linspace(0, self.num_groups - 1, k).round().astype(int))
            if sizes[picks].sum() >= max_rows:
                break
        parts, left = [], max_rows
        for g in picks:
            table = self.group(int(g)).slice(0, left)
            parts.append(table.replace_schema_metadata(None))
            left -= table.num_rows
            if left <= 0:
                break
        return with_source(pa.concat_tables(parts), self.path, None)
