"""Rows set aside on disk while something larger runs: the train workflow's test rows during the fit.

The test rows of a table read whole are split off before the network trains and read only after it: held in
memory, they add their whole size to the peak that training reaches. :class:`SpilledRows` writes them to an Arrow
IPC file in the system's temporary directory and maps it back when they are needed: the same table, schema
metadata included (the source file and the row numbering it carries), whose pages are read from the file only as
they are used (so the rows take no memory through the baselines that follow training either). The file is removed
when the block ends, whether it ends normally or by an error. Where the file cannot be written (a full or
read-only temporary directory), the rows stay in memory and :attr:`SpilledRows.note` says so.
"""

from __future__ import annotations

import os
import tempfile
from types import TracebackType

import pyarrow as pa

#: Tables smaller than this stay in memory: writing and mapping them back would save less than it costs.
SPILL_MIN_BYTES = 16 << 20


class SpilledRows:
    """A table written to a temporary Arrow IPC file while the block runs (``with SpilledRows(table) as rows``),
    read back by :meth:`read`. The caller drops its own reference after entering the block, so that the table's
    memory goes; :meth:`read` returns the same rows, memory-mapped from the file."""

    def __init__(self, table: pa.Table, *, min_bytes: int | None = None) -> None:
        self._table: pa.Table | None = table
        self._min_bytes = SPILL_MIN_BYTES if min_bytes is None else min_bytes
        self.path: str | None = None
        self.note: str | None = None

    def __enter__(self) -> SpilledRows:
        table = self._table
        assert table is not None
        if table.nbytes < self._min_bytes:
            return self
        handle, path = tempfile.mkstemp(prefix="needmap-rows-", suffix=".arrow")
        os.close(handle)
        try:
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        except OSError as exc:  # kept in memory: only the peak is higher
            os.unlink(path)
            self.note = f"the test rows stayed in memory during training: writing them to {path} failed ({exc})."
            return self
        self.path, self._table = path, None
        return self

    def read(self) -> pa.Table:
        """The rows: the table as given (not spilled), or the file's, memory-mapped: their pages are read from the
        file as they are used, so the rows take memory only where they are read. (On Windows, which cannot remove
        a mapped file, they are read into memory.)"""
        if self._table is not None:
            return self._table
        assert self.path is not None, "read() is called inside the with block"
        if os.name == "nt":
            with pa.OSFile(self.path, "rb") as source:
                return pa.ipc.open_file(source).read_all()
        # not closed here: the table's buffers point into the mapping, which lasts as long as they do (removing
        # the file at the end of the block leaves it in place until then)
        return pa.ipc.open_file(pa.memory_map(self.path, "r")).read_all()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.path is not None:
            os.unlink(self.path)
            self.path = None
