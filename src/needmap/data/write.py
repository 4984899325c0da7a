"""Write tables to files atomically: a temporary file beside the target, then a rename."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from needmap.errors import ConfigError
from needmap.output_files import create_temporary_file

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


def write_table(table: pa.Table, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` to ``path`` (.parquet, .csv or .jsonl by extension), atomically.

    Nothing appears at ``path`` unless the whole file was written: the data goes to a temporary
    file in the same directory which is renamed into place at the end (:mod:`needmap.output_files`: its
    name, the umask's permissions, a killed run's leftovers removed). Returns the path.
    """
    target = Path(path)
    suffix = writable_suffix(target)
    tmp_name = create_temporary_file(target)
    try:
        if suffix == ".parquet":
            pq.write_table(table, tmp_name)
        elif suffix == ".csv":
            pacsv.write_csv(table, tmp_name)
        else:
            _write_jsonl(table, tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        tmp_name.unlink(missing_ok=True)
        raise
    return target


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
