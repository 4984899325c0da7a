"""Training rows from a Parquet file without holding the file in memory: what ``Model.fit(stream=True)`` does.

1. The schema is inferred from a sample of the file's row groups (at most :data:`SCHEMA_SAMPLE_ROWS`
   rows, spread over the file), unless one is given.
2. The target columns are read whole (a column or two): rows without a target are counted and left out,
   and the validation rows are drawn by the same split as for a table in memory.
3. The preprocessor learns its statistics one column at a time (Parquet reads a column without the
   others), over the training rows only; duplicate training rows are counted by DuckDB over the file.
4. When the encoded training rows take at most :data:`RESIDENT_MAX_BYTES` (4 bytes per id or value:
   about 160 bytes a Criteo-shaped row), they are encoded once, a slice at a time, into compact arrays
   (ids int32) that training shuffles whole every epoch. Beyond that, training reads the file a slice
   of a row group at a time, row groups in a new random order each epoch, encodes each slice with the
   fitted preprocessor and mixes the rows in a shuffle buffer
   (:class:`~needmap.training.stream.TrainingStream`). The validation rows are encoded once and kept.

Memory then follows one column, the encoded rows or the buffer, the validation rows and the model, not
the raw file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.parquet_rows import ParquetRows
from needmap.data.split import split_indices
from needmap.errors import SchemaError, no_values_error
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.preprocessing.target import check_target_columns, strata, target_names
from needmap.runtime.arrow_memory import release_unused_memory
from needmap.runtime.device import usable_cores
from needmap.schema import Schema
from needmap.training.stream import DEFAULT_BUFFER_ROWS, TrainingStream, encode_threads, read_ahead_chunks

#: Rows that schema inference reads from a streamed file.
SCHEMA_SAMPLE_ROWS = 200_000
#: Encoded training rows up to this size are held in memory (encoded once); larger ones are streamed.
RESIDENT_MAX_BYTES = 1 << 30
#: Memory DuckDB may use to count duplicate rows (it spills to a temporary folder beyond it).
DUCKDB_MEMORY_LIMIT = "1GB"


@dataclass
class FileTraining:
    """What the model trains on, from a file: the fitted preprocessor and the rows, encoded on demand.

    Attributes:
        preprocessor: fitted on the training rows.
        train: the training rows: encoded (ids int32) when they fit in :data:`RESIDENT_MAX_BYTES`, else a
            :class:`TrainingStream` that encodes them again each epoch.
        y_train: their targets, encoded (``preprocessor.encode_target``), in stream position order.
        x_valid, y_valid: the validation rows, encoded (None without validation rows).
        rows_in, rows_without_target: the file's rows and those left out for lack of a target.
    """

    preprocessor: Preprocessor
    train: FeatureBatch | TrainingStream
    y_train: np.ndarray
    x_valid: FeatureBatch | None
    y_valid: np.ndarray | None
    rows_in: int
    rows_without_target: int


class _TrainingColumns(Mapping[str, pa.ChunkedArray]):
    """Feature columns of the training rows, each read from the file when it is looked up (never kept)."""

    def __init__(self, rows: ParquetRows, names: list[str], keep: np.ndarray | None) -> None:
        absent = [name for name in names if name not in rows.column_names]
        if absent:
            raise SchemaError(
                f"found no column {', '.join(map(repr, absent))} in the file, expected every feature column of "
                f"the schema ({len(names)} columns).",
                file=rows.path,
                column=absent[0] if len(absent) == 1 else None,
            )
        self._rows, self._names = rows, names
        self._keep = None if keep is None else pa.array(keep)

    def __getitem__(self, name: str) -> pa.ChunkedArray:
        if name not in self._names:
            raise KeyError(name)
        column = self._rows.column(name)  # columns without any value were refused before (no_values_error)
        return column if self._keep is None else column.filter(self._keep)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def duplicate_rows(rows: ParquetRows, left_out: np.ndarray) -> int:
    """Rows of the file equal in every (non-nested) column to an earlier row, the rows ``left_out``
    (int64 row numbers) excluded; DuckDB reads the file itself, within :data:`DUCKDB_MEMORY_LIMIT`."""
    schema = rows._file.schema_arrow
    names = [f.name for f in schema if not pa.types.is_nested(f.type)]
    if not names:
        return 0
    columns = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
    with tempfile.TemporaryDirectory(prefix="needmap-duckdb-") as spill, duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute("SET preserve_insertion_order = false")
        excluded = pa.table({"r": pa.array(left_out, pa.int64())})
        con.register("excluded", excluded)
        source = (
            "(SELECT * FROM read_parquet(?, file_row_number = true) "
            "WHERE file_row_number NOT IN (SELECT r FROM excluded))"
        )
        counted = con.execute(f"SELECT count(*), count(DISTINCT hash({columns})) FROM {source}", [rows.path])
        total, distinct_hashes = counted.fetchone()
        if distinct_hashes == total:
            return 0
        distinct = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM {source})", [rows.path])
        return int(total) - int(distinct.fetchone()[0])


def _encoded(
    rows: ParquetRows, preprocessor: Preprocessor, wanted: np.ndarray, groups: Iterator[int], threads: int = 1
) -> Iterator:
    """(features, positions in ``wanted``) of the rows ``wanted`` (sorted row numbers), slice by slice
    (:meth:`~needmap.data.parquet_rows.ParquetRows.selected`); ``threads``: see :meth:`Preprocessor.transform`."""
    for lo, hi, table in rows.selected(wanted, groups):
        yield preprocessor.transform(table, threads=threads), np.arange(lo, hi, dtype=np.int64)


def _row_bytes(preprocessor: Preprocessor) -> int:
    """Bytes of one encoded row held compactly: 4 per numeric value, categorical id and list slot."""
    return 4 * (
        preprocessor.n_numeric_ + len(preprocessor.cardinalities_) + sum(s["max_len"] for s in preprocessor.list_specs_)
    )


def encode_rows(rows: ParquetRows, preprocessor: Preprocessor, wanted: np.ndarray) -> FeatureBatch:
    """The rows ``wanted`` (sorted row numbers) encoded into compact arrays (ids int32), a slice at a time,
    each slice's columns on every core (nothing else runs meanwhile)."""
    n = len(wanted)
    numeric = np.empty((n, preprocessor.n_numeric_), dtype=np.float32)
    categorical = np.empty((n, len(preprocessor.cardinalities_)), dtype=np.int32)
    lists = tuple(np.empty((n, spec["max_len"]), dtype=np.int32) for spec in preprocessor.list_specs_)
    for features, positions in _encoded(rows, preprocessor, wanted, iter(range(rows.num_groups)), usable_cores()):
        lo, hi = int(positions[0]), int(positions[-1]) + 1
        numeric[lo:hi] = features.numeric
        categorical[lo:hi] = features.categorical
        for out, part in zip(lists, features.lists, strict=True):
            out[lo:hi] = part
    return FeatureBatch(numeric, categorical, lists)


def prepare_file_training(
    rows: ParquetRows,
    schema: Schema,
    prep_config: PreprocessConfig,
    *,
    validation: float,
    seed: int,
    check_targets: Any,
    user_dropped: Sequence[str] = (),
    buffer_rows: int = DEFAULT_BUFFER_ROWS,
    parts: tuple[np.ndarray, np.ndarray] | None = None,
) -> FileTraining:
    """Fit the preprocessor on the training rows of ``rows`` and set up their stream (module docstring).

    ``validation``: share of the labelled rows held out (stratified for classification) with the split
    of a table in memory. ``parts``: the file's row numbers for training and for validation instead (a split
    by cutoff; rows in neither are left out), of which the rows without a target are dropped.
    ``user_dropped``: columns the user dropped (they may be empty).
    ``check_targets(table)``: the estimator's checks of the target columns, which returns
    ``(table, report)`` like ``clean_training_table``.
    """
    targets = target_names(schema)
    check_target_columns(targets, rows.column_names, place="file", file=rows.path)
    for name in rows.column_names:  # as for a table: a column with no value at all is an error unless dropped
        if name not in targets and name not in user_dropped and rows.null_count(name) == rows.num_rows:
            raise no_values_error(rows.num_rows, file=rows.path, column=name)
    raw_targets = rows.columns(targets)
    keep = pc.is_valid(raw_targets.column(0))
    for k in range(1, len(targets)):
        keep = pc.or_(keep, pc.is_valid(raw_targets.column(k)))
    target_table, report = check_targets(raw_targets)
    del raw_targets
    kept_rows = np.flatnonzero(np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)).astype(np.int64)
    n = len(kept_rows)
    if parts is not None:
        position = np.full(rows.num_rows, -1, dtype=np.int64)
        position[kept_rows] = np.arange(n)
        train_idx, valid_idx = (position[np.asarray(p, dtype=np.int64)] for p in parts)
        train_idx, valid_idx = train_idx[train_idx >= 0], valid_idx[valid_idx >= 0]
    elif validation > 0:
        method = "random" if schema.task in ("regression", "ltv") else "stratified"
        labels = strata(target_table, schema)
        train_idx, valid_idx = split_indices(n, method=method, test_size=validation, seed=seed, y=labels)
    else:
        train_idx, valid_idx = np.arange(n), np.array([], dtype=np.int64)
    train_idx, valid_idx = np.sort(train_idx), np.sort(valid_idx)
    train_rows, valid_rows = kept_rows[train_idx], kept_rows[valid_idx]

    every_row = len(train_rows) == rows.num_rows
    train_mask = None
    if not every_row:
        train_mask = np.zeros(rows.num_rows, dtype=bool)
        train_mask[train_rows] = True
    preprocessor = Preprocessor(schema, prep_config)
    left_out = np.array([], dtype=np.int64) if every_row else np.flatnonzero(~train_mask)
    preprocessor.fit_columns(
        _TrainingColumns(rows, schema.features, train_mask),
        rows=len(train_rows),
        duplicate_rows=duplicate_rows(rows, left_out),
        file=rows.path,
        first_row=0 if every_row else None,
    )
    del train_mask, left_out
    release_unused_memory()
    y_train = preprocessor.encode_target(target_table.take(pa.array(train_idx)))

    # A reader thread beside the training steps where a core is left for it; else the steps and the
    # reading take turns, and each slice is encoded on every core.
    read_ahead = read_ahead_chunks()
    threads = encode_threads(read_ahead)

    def chunks(rng: np.random.Generator) -> Iterator[tuple[FeatureBatch, np.ndarray]]:
        return _encoded(rows, preprocessor, train_rows, iter(rng.permutation(rows.num_groups)), threads)

    train: FeatureBatch | TrainingStream
    if len(train_rows) * _row_bytes(preprocessor) <= RESIDENT_MAX_BYTES:
        train = encode_rows(rows, preprocessor, train_rows)
    else:
        train = TrainingStream(len(train_rows), chunks, buffer_rows, prefetch=read_ahead)
    x_valid = y_valid = None
    if len(valid_rows):
        x_valid = encode_rows(rows, preprocessor, valid_rows)
        y_valid = preprocessor.encode_target(target_table.take(pa.array(valid_idx)))
    release_unused_memory()
    return FileTraining(
        preprocessor=preprocessor,
        train=train,
        y_train=y_train,
        x_valid=x_valid,
        y_valid=y_valid,
        rows_in=int(report["rows_in"]),
        rows_without_target=int(report["rows_without_target"]),
    )
