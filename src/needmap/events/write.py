"""Write a feature table whole or not at all: Parquet keeps its description in the schema metadata; CSV and
JSON lines get it beside them (:func:`needmap.events.table_info.sidecar_path`), and a CSV holds each list
column as ``|``-separated text."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.write import writable_suffix, write_table
from needmap.events.table_info import info_of, sidecar_path
from needmap.output_files import create_temporary_file


def write_features(table: pa.Table, out: str | os.PathLike[str]) -> Path:
    """Write ``table`` to ``out`` (.parquet, .csv, .jsonl); the sidecar of a text file is put in place first,
    each file through a temporary name, so that a table never appears without its description."""
    target = Path(out)
    suffix = writable_suffix(target)
    if suffix == ".parquet":
        return write_table(table, target)
    info = info_of(table)
    if suffix == ".csv":
        table = _lists_as_text(table)
    side = sidecar_path(target)
    if info is not None:
        tmp = create_temporary_file(side)
        try:
            tmp.write_text(info.to_json(), encoding="utf-8")
            os.replace(tmp, side)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return write_table(table, target)


def _lists_as_text(table: pa.Table) -> pa.Table:
    for i, column in enumerate(table.schema):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            text = pc.binary_join(table.column(i), "|")
            table = table.set_column(i, column.name, text)
    return table
