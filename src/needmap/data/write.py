"""Write tables to files atomically (a temporary file beside the target, then a rename), or to a PostgreSQL
table in one transaction (:mod:`needmap.data.postgres`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from needmap.data.masking import redact
from needmap.data.postgres import is_postgres_url
from needmap.data.postgres_write import MODES, write_postgres
from needmap.errors import ConfigError
from needmap.output_files import create_temporary_file, sync_directory, sync_file

WRITABLE = (".parquet", ".csv", ".jsonl")


def writable_suffix(target: Path) -> str:
    """The lower-case extension of ``target`` when needmap writes that format; ConfigError otherwise."""
    suffix = target.suffix.lower()
    if suffix not in WRITABLE:
        raise ConfigError(
            f"cannot write '{target}': the extension '{suffix or '(none)'}' is not supported; "
            f"expected one of {', '.join(WRITABLE)}."
        )
    return suffix


def write_table(
    table: pa.Table,
    path: str | os.PathLike[str],
    *,
    mode: str = "replace",
    model: str | None = None,
    version: str | None = None,
) -> Path | str:
    """Write ``table`` to ``path`` (.parquet, .csv or .jsonl by extension), atomically, or to the PostgreSQL
    table that a ``postgresql://...?table=schema.name`` URL names.

    Nothing appears at ``path`` unless the whole file was written: the data goes to a temporary
    file in the same directory which is renamed into place at the end (:mod:`needmap.output_files`: its
    name, the umask's permissions, a killed run's leftovers removed). Returns the path.

    A PostgreSQL table is written in one transaction by :func:`needmap.data.postgres_write.write_postgres`:
    ``mode`` ``"replace"`` (the default: a new table takes the old one's place) or ``"append"``; ``model``
    and ``version`` (the model that made the rows) add the columns ``model``, ``model_version`` and
    ``scored_at`` there. A file is always written whole, so it takes no other mode, and keeps its columns
    as they are. Returns the URL, its password masked.
    """
    if is_postgres_url(path):
        write_postgres(table, str(path), mode=mode, model=model, version=version)
        return redact(str(path))
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not a way to write a table; expected one of {', '.join(MODES)}.")
    if mode != "replace":
        raise ConfigError(
            f"cannot append to '{path}': a file is written whole (replaced); appending adds rows to a PostgreSQL "
            "table (a postgresql:// URL)."
        )
    target = Path(path)
    suffix = writable_suffix(target)
    tmp_name = create_temporary_file(target)
    try:
        if suffix == ".parquet":
            pq.write_table(table, tmp_name)
        elif suffix == ".csv":
            pacsv.write_csv(lists_as_text(table), tmp_name)
        else:
            _write_jsonl(table, tmp_name)
        sync_file(tmp_name)  # the data on disk before the rename, so a power loss never leaves a short file
        os.replace(tmp_name, target)
        sync_directory(target.parent)
    except BaseException:
        tmp_name.unlink(missing_ok=True)
        raise
    return target


def lists_as_text(table: pa.Table) -> pa.Table:
    """``table`` with each list column as ``|``-separated text (CSV has no lists; needmap reads such text back as
    a multi-hot list). Elements are named as categories are (``stringify``: ``7``, ``true``, ``1.5``)."""
    from needmap.data.values import stringify

    for i, column in enumerate(table.schema):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            values = table.column(i)
            if not (pa.types.is_string(column.type.value_type) or pa.types.is_large_string(column.type.value_type)):
                chunks = [pa.ListArray.from_arrays(c.offsets, stringify(c.values), mask=c.is_null())
                          for c in values.chunks]  # fmt: skip
                values = pa.chunked_array(chunks, type=pa.list_(pa.string()))
            table = table.set_column(i, column.name, pc.binary_join(values, "|"))
    return table


def _write_jsonl(table: pa.Table, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        write_jsonl_rows(table, fh)


def write_jsonl_rows(table: pa.Table, fh: TextIO) -> None:
    """Append the rows of ``table`` to the text file ``fh``, one JSON object per line."""
    import json

    for batch in table.to_batches(max_chunksize=65536):
        for row in batch.to_pylist():
            fh.write(json.dumps(row, default=str))
            fh.write("\n")
