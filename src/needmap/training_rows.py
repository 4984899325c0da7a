"""The rows a fit trains on: a training table (or a Parquet file read in parts) checked, cleaned of rows
without a target, split into training and validation rows, and encoded by a preprocessor fitted on the
training rows only.

:class:`needmap.Model` calls :func:`prepare_table` or :func:`prepare_file` and hands the result to the trainer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from needmap.data.parquet_rows import ParquetRows
from needmap.data.provenance import first_row_of, source_of, take_rows
from needmap.data.read import read
from needmap.data.split import split_indices
from needmap.data.values import parse_numeric, stringify
from needmap.errors import ConfigError, DataError, SchemaError, no_values_error
from needmap.events.cutoffs import cutoff_values, distinct_cutoffs, split_latest
from needmap.events.table_info import FEATURES_KEY, FeatureTableInfo, info_of
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.preprocessing.target import check_target_columns, strata, target_names, target_tasks
from needmap.schema import Schema
from needmap.training.from_file import prepare_file_training
from needmap.training.stream import TrainingStream
from needmap.training.trainer import TrainConfig

TableLike = Any  # a path, an Arrow table, a pandas / polars frame: whatever needmap.read accepts


def as_table(data: TableLike) -> pa.Table:
    """``data`` as an Arrow table: a table as it is, anything else through :func:`needmap.read`."""
    return data if isinstance(data, pa.Table) else read(data)


#: ``Model.fit(stream=None)`` streams a Parquet file of at least this many rows.
STREAM_MIN_ROWS = 2_000_000


def is_parquet_path(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike)) and Path(data).suffix.lower() in (".parquet", ".pq")


def parquet_rows(data: Any, stream: bool | None) -> ParquetRows | None:
    """The Parquet file ``data`` to stream, or None to read ``data`` whole (see ``Model.fit``'s ``stream``)."""
    if stream is None:
        if not is_parquet_path(data) or not Path(data).is_file():
            return None
        rows = ParquetRows(data)
        return rows if rows.num_rows >= STREAM_MIN_ROWS else None
    if not stream:
        return None
    if not is_parquet_path(data):
        raise ConfigError(
            f"stream=True reads a Parquet file a part at a time; got {type(data).__name__} {str(data)[:80]!r}.",
            hint="Convert the data to Parquet first (needmap.read(...) then pyarrow.parquet.write_table), or "
            "use stream=False.",
        )
    if not Path(data).is_file():
        raise DataError("does not exist; expected a Parquet file", file=str(data))
    return ParquetRows(data)


@dataclass
class PreparedRows:
    """What :func:`prepare_table` and :func:`prepare_file` give the trainer.

    Attributes:
        schema: the schema the rows were read with.
        preprocessor: fitted on the training rows only.
        x_train, y_train: the encoded training rows (a stream of them for a large file) and their targets.
        x_valid, y_valid: the encoded validation rows and targets; None without validation rows.
        report: ``rows_in``, ``rows_without_target`` (and, with several targets, ``rows_missing_target``;
            with a validation table, ``validation_rows_without_target``).
        fit_rows: the positions of the training and validation rows in the cleaned table (``"train"``,
            ``"validation"``); None with a validation table of its own or rows read from a file in parts.
    """

    schema: Schema
    preprocessor: Preprocessor
    x_train: FeatureBatch | TrainingStream
    y_train: np.ndarray
    x_valid: FeatureBatch | None
    y_valid: np.ndarray | None
    report: dict[str, Any]
    fit_rows: dict[str, np.ndarray] | None


def prepare_table(
    table: pa.Table | list[pa.Table],
    schema: Schema,
    prep_config: PreprocessConfig,
    config: TrainConfig,
    validation: float | TableLike,
    dropped: Sequence[str],
) -> PreparedRows:
    """The rows of a training table ready for the trainer: checked and cleaned (:func:`clean_training_table`),
    split into training and validation rows (a share of ``table``, stratified for classification; the latest
    cutoff of a table built from an event log, :func:`validation_by_cutoff`; or a table of its own), the
    preprocessor fitted on the training rows and both parts encoded. ``table`` may come in a list it is taken out
    of: where the caller holds no other reference (``Model.fit`` in the train workflow), the whole table's memory
    goes once it is split into its training and validation parts, before they are encoded."""
    if schema.target is None:
        raise SchemaError("the schema has no target column; expected one column with role 'target'.")
    table, report = clean_training_table(
        table.pop() if isinstance(table, list) else table, schema, user_dropped=dropped,
        max_unparseable=prep_config.max_unparseable,
    )  # fmt: skip
    n = table.num_rows
    valid_given = None
    if not isinstance(validation, int | float):
        valid_given, valid_report = clean_training_table(
            as_table(validation), schema, user_dropped=dropped, max_unparseable=prep_config.max_unparseable
        )
        report["validation_rows_without_target"] = valid_report["rows_without_target"]
    if valid_given is not None:
        train_idx, valid_idx = np.arange(n), np.arange(valid_given.num_rows)
    elif validation > 0:
        by_cutoff = validation_by_cutoff(table)
        if by_cutoff is not None:
            train_idx, valid_idx, report["validation_split"] = by_cutoff
        else:
            labels = strata(table, schema)
            method = "random" if schema.task in ("regression", "ltv") else "stratified"
            train_idx, valid_idx = split_indices(n, method=method, test_size=validation, seed=config.seed, y=labels)
            if info_of(table) is not None:
                report["validation_split"] = {
                    "method": method,
                    "why": f"a {method} share: the training rows have a single cutoff, none later to validate on.",
                }
    else:
        train_idx, valid_idx = np.arange(n), np.array([], dtype=np.int64)
    fit_rows = None if valid_given is not None else {"train": train_idx, "validation": valid_idx}
    # Every row in order (validation=0 or a validation table of its own): the table itself, no copy.
    everything = len(train_idx) == n and bool(np.all(train_idx == np.arange(n)))
    train_table = table if everything else take_rows(table, pa.array(train_idx))
    valid_table = None
    if len(valid_idx):
        valid_table = valid_given if valid_given is not None else take_rows(table, pa.array(valid_idx))
    del table  # split: the parts hold the rows from here
    preprocessor = Preprocessor(schema, prep_config)
    threads = config.cpu_threads()  # training has not started: its cores learn and encode
    # ids int32 (compact), as a file's rows are kept: half the memory through training and the baselines
    x_train = preprocessor.fit_transform(train_table, threads=threads).compact()
    y_train = preprocessor.encode_target(train_table)
    del train_table
    x_valid = y_valid = None
    if valid_table is not None:
        x_valid = preprocessor.transform(valid_table, threads=threads).compact()
        y_valid = preprocessor.encode_target(valid_table)
    return PreparedRows(schema, preprocessor, x_train, y_train, x_valid, y_valid, report, fit_rows)


def info_of_parquet(path: str | Path) -> FeatureTableInfo | None:
    """The feature description in the schema metadata of the Parquet file ``path`` (its footer alone is read),
    None for a file not built from a log: a file read in parts is described as a table read whole is."""
    meta = pq.read_schema(path).metadata or {}
    if FEATURES_KEY not in meta:
        return None
    return FeatureTableInfo.from_json(meta[FEATURES_KEY], where=str(path))


def validation_by_cutoff(table: pa.Table) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """The training and validation rows of a table built from an event log: the latest cutoff's rows validate,
    the earlier rows whose label window reaches past it are left out of both (counted in the description, with
    the cutoff and the horizon). None for a table without a feature description or with a single cutoff (the
    validation rows are then a share, as for any table)."""
    info = info_of(table)
    if info is None:
        return None
    cutoffs = cutoff_values(table, info)
    if distinct_cutoffs(cutoffs) < 2:
        return None
    split = split_latest(cutoffs, np.arange(table.num_rows), info.spec.horizon_days)
    if len(split.earlier) == 0:
        raise DataError(
            f"every training row before the validation cutoff {split.cutoff} has a label window "
            f"({split.horizon_days} days) that reaches into it: nothing is left to train on. Expected cutoffs at "
            "least the horizon apart, or validation=0.",
            file=source_of(table),
        )
    return split.earlier, split.latest, {"method": "cutoff", **split.describe()}


def prepare_file(
    rows: ParquetRows,
    schema: Schema,
    prep_config: PreprocessConfig,
    config: TrainConfig,
    validation: float,
    dropped: Sequence[str],
    info: FeatureTableInfo | None = None,
    parts: tuple[np.ndarray, np.ndarray] | None = None,
) -> PreparedRows:
    """:func:`prepare_table` for a Parquet file read in parts (:mod:`needmap.training.from_file`): the training
    rows come back as a stream when they are too many to hold encoded. A feature table built from an event
    log (``info``) validates on its latest cutoff, as a table in memory does (:func:`validation_by_cutoff`,
    from the cutoff column alone); with a single cutoff, on a share. ``parts``: the file's row numbers that
    train and those that validate, chosen by the caller (the other rows are left out)."""
    if schema.target is None:
        raise SchemaError("the schema has no target column; expected one column with role 'target'.")
    split = None
    if parts is None and info is not None and validation > 0:
        from needmap.events.table_info import with_info

        by_cutoff = validation_by_cutoff(with_info(rows.columns([info.cutoff_column]), info))
        if by_cutoff is not None:
            parts, split = (by_cutoff[0], by_cutoff[1]), by_cutoff[2]
        else:
            method = "random" if schema.task in ("regression", "ltv") else "stratified"
            why = f"a {method} share: the file has a single cutoff, none later to validate on."
            split = {"method": method, "why": why}

    def check_targets(targets: pa.Table) -> tuple[pa.Table, dict[str, Any]]:
        return clean_training_table(targets, schema, max_unparseable=prep_config.max_unparseable)

    prepared = prepare_file_training(
        rows,
        schema,
        prep_config,
        validation=validation,
        seed=config.seed,
        check_targets=check_targets,
        user_dropped=list(dropped),
        parts=parts,
    )
    report: dict[str, Any] = {"rows_in": prepared.rows_in, "rows_without_target": prepared.rows_without_target}
    if split is not None:
        report["validation_split"] = split
    return PreparedRows(
        schema,
        prepared.preprocessor,
        prepared.train,
        prepared.y_train,
        prepared.x_valid,
        prepared.y_valid,
        report,
        None,
    )


def clean_training_table(
    table: pa.Table, schema: Schema, *, user_dropped: Sequence[str] = (), max_unparseable: float = 0.05
) -> tuple[pa.Table, dict[str, Any]]:
    """Check a whole training table, before any split, and drop rows without a target, counting them.

    Raises DataError for an empty table, a feature column with no values at all that the user
    did not drop, a numeric column with more than ``max_unparseable`` text values (naming the
    first such row of the file), or a target with a single class. Returns the table and a report dict with
    ``rows_in`` and ``rows_without_target``. With several targets (a multi-task schema), only a row
    without a value for every one of them is dropped and counted; a row that lacks some targets is
    kept (multi-task training leaves those targets out of its loss) and ``rows_missing_target``
    counts, per target, the kept rows without it.
    """
    source = source_of(table)
    if table.num_rows == 0:
        raise DataError("the table has a header but no data rows; expected at least one row.", file=source)
    target = schema.target
    assert target is not None
    targets, tasks = target_names(schema), target_tasks(schema)
    check_target_columns(targets, table.column_names, place="table", file=source)
    for name in table.column_names:
        if name in user_dropped or name in targets:
            continue
        col = table.column(name)
        if col.null_count == table.num_rows:
            raise no_values_error(table.num_rows, file=source, column=name)
    for name in schema.numeric:
        if name in table.column_names:
            parsed = parse_numeric(table.column(name), column=name, file=source)
            parsed.check_unparseable(max_unparseable, column=name, file=source, first_row=first_row_of(table))
    keep = pc.is_valid(table.column(target))
    for name in targets[1:]:
        keep = pc.or_(keep, pc.is_valid(table.column(name)))
    rows_in = table.num_rows
    missing = rows_in - int(pc.sum(keep).as_py() or 0)
    if missing:
        table = table.filter(keep)
    if table.num_rows == 0:
        which = "the target column" if len(targets) == 1 else f"any target column ({', '.join(targets)})"
        raise DataError(f"no row has a value in {which}; expected labelled rows.", file=source)
    for name, task in zip(targets, tasks, strict=True):
        if table.column(name).null_count == table.num_rows:
            raise DataError(
                f"no row has a value in the target column; expected labelled rows for each of {', '.join(targets)}.",
                file=source,
                column=name,
            )
        if task in ("binary", "multiclass"):
            values = pc.unique(stringify(table.column(name)).drop_null())
            if len(values) < 2:
                raise DataError(
                    f"the target has a single class {values.to_pylist()!r} in {table.num_rows} rows; "
                    "expected at least two classes to learn from.",
                    file=source,
                    column=name,
                )
    report: dict[str, Any] = {"rows_in": rows_in, "rows_without_target": missing}
    if len(targets) > 1:
        report["rows_missing_target"] = {name: int(table.column(name).null_count) for name in targets}
    return table, report
