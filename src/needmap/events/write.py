"""Write a feature table whole or not at all: Parquet keeps its description in the schema metadata; CSV and
JSON lines get it beside them (:func:`needmap.events.table_info.sidecar_path`), and a CSV holds each list
column as ``|``-separated text."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from needmap.data.write import lists_as_text, writable_suffix, write_table
from needmap.events.table_info import info_of, sidecar_path
from needmap.output_files import create_temporary_file


def write_features(table: pa.Table, out: str | os.PathLike[str]) -> Path:
    """Write ``table`` to ``out`` (.parquet, .csv, .jsonl), whole or not at all. A text file's description goes
    to its sidecar: both are written under temporary names, the table moved into place first and the sidecar
    right after it, so that a failed write (a full disk, an interrupt) leaves the files that were there as they
    were, never a new description beside an old table."""
    target = Path(out)
    suffix = writable_suffix(target)
    if suffix == ".parquet":
        return write_table(table, target)
    info = info_of(table)
    if suffix == ".csv":
        table = _lists_as_text(table)
    if info is None:
        return write_table(table, target)
    side = sidecar_path(target)
    tmp = create_temporary_file(side)
    try:
        tmp.write_text(info.to_json(), encoding="utf-8")
        written = write_table(table, target)
        os.replace(tmp, side)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def _lists_as_text(table: pa.Table) -> pa.Table:
    return lists_as_text(table)
