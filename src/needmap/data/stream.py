"""Tables in chunks: read a source a slice of rows at a time, write a file a chunk at a time, atomically.

Scoring does not need every row in memory at once: :func:`iter_chunks` yields tables of at most
``chunk_rows`` rows, and :class:`ChunkWriter` appends each chunk of scores to a temporary file that is
renamed into place only when every chunk was written. A Parquet file is read row group by row group
(memory stays at a chunk, whatever the file's size). A CSV or JSON-lines file is read whole by
:func:`needmap.data.read.read` first (its column types come from the whole file, as in training) and
then handed out in slices; an in-memory table is sliced without a copy.

Every chunk carries the source name and its first row number in its schema metadata (as
:func:`~needmap.data.read.read` sets them), so an error in chunk k still names the file and the row.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from needmap.data.provenance import first_row_of, source_of, with_source
from needmap.data.read import layout_options_not_for, read
from needmap.data.read_options import ReadOptions
from needmap.data.write import writable_suffix, write_jsonl_rows
from needmap.errors import ConfigError, DataError
from needmap.output_files import create_temporary_file, sync_directory, sync_file

DEFAULT_CHUNK_ROWS = 100_000


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pa.Table]:
    name = str(path)
    try:
        parquet = pq.ParquetFile(name)
        if parquet.metadata.num_rows == 0:
            raise DataError("has no data rows; expected at least one row", file=name)
        start = 0
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            # read() on an in-memory table checks and normalizes it as it does a file's rows.
            table = read(pa.Table.from_batches([batch]))
            yield with_source(table, name, start)
            start += batch.num_rows
    except (pa.ArrowException, OSError, EOFError, zlib.error) as err:
        raise DataError(f"could not be read as Parquet ({err}); expected a valid Parquet file", file=name) from None


def iter_chunks(
    source: Any,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    *,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    reading: Mapping[str, Any] | None = None,
) -> Iterator[pa.Table]:
    """Tables of at most ``chunk_rows`` rows, in order, that together hold every row of ``source``.

    ``source``: a path (a plain ``.parquet`` file streams by row groups; CSV, JSON lines and
    gzipped files are read whole, then sliced) or anything :func:`~needmap.data.read.read` accepts;
    ``reading``: :func:`~needmap.data.read.read`'s keywords of :class:`~needmap.data.read_options.ReadOptions`
    (header, names, strip, missing), so that new rows are read by the rules their model's rows were.
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows is {chunk_rows!r}; expected a positive number of rows.")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix.lower() == ".parquet" and path.is_file():
            layout_options_not_for(str(path), "a Parquet file", ReadOptions(**dict(reading or {})))
            yield from _parquet_chunks(path, chunk_rows)
            return
    table = read(source, delimiter=delimiter, encoding=encoding, **dict(reading or {}))
    name, first = source_of(table) or "table", first_row_of(table)
    for start in range(0, table.num_rows, chunk_rows):
        chunk = table.slice(start, chunk_rows)
        yield with_source(chunk, name, None if first is None else first + start)


class ChunkWriter:
    """Write tables of one schema to ``path`` (.parquet, .csv or .jsonl) chunk by chunk, atomically.

    Used as a context manager: the chunks go to a temporary file beside ``path``, renamed into place
    when the block ends without an error; on an error the temporary file is removed and ``path`` is
    left as it was. ``rows`` counts the rows written.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.suffix = writable_suffix(self.path)
        self.rows = 0
        self._tmp: Path | None = None
        self._writer: Any = None
        self._jsonl: Any = None

    def __enter__(self) -> ChunkWriter:
        self._tmp = create_temporary_file(self.path)
        return self

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (the same columns and types as the first chunk)."""
        assert self._tmp is not None, "use ChunkWriter as a context manager"
        table = table.replace_schema_metadata(None)
        if self.suffix == ".jsonl":
            if self._jsonl is None:
                self._jsonl = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
            write_jsonl_rows(table, self._jsonl)
        else:
            if self._writer is None:
                maker = pq.ParquetWriter if self.suffix == ".parquet" else pacsv.CSVWriter
                self._writer = maker(str(self._tmp), table.schema)
            self._writer.write_table(table)
        self.rows += table.num_rows

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._tmp is not None
        try:
            for handle in (self._writer, self._jsonl):
                if handle is not None:
                    handle.close()
        finally:
            if kind is None:
                sync_file(self._tmp)  # the data on the disk before the name: a crash never leaves a short file
                os.replace(self._tmp, self.path)
                sync_directory(self.path.parent)
            else:
                self._tmp.unlink(missing_ok=True)
