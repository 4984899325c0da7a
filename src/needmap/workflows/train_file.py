"""``needmap train`` on a Parquet file read in parts: what :func:`needmap.workflows.train.run_train` does with a
file too large to hold whole.

A table read whole is held, then its training and test parts, then the encoded rows beside them: several
times the file's size. Streamed, the run holds no more than this at once:

1. The target columns alone decide the rows: those without a target are left out and counted, and the test
   and validation rows are drawn from the rest exactly as for the table read whole (the same seed gives the
   same rows either way).
2. The network trains from the file (``Model.fit(parts=...)``, :mod:`needmap.training.from_file`): statistics
   a column at a time, the training rows encoded in compact arrays or read again each epoch.
3. The baselines, the choice of the scorer, the class evidence and the training profile read a table of a
   random sample of the training rows (``baseline_rows``, stated in ``metrics["baseline_rows"]``) with every
   validation row. Then that table is let go but for its targets, and the test rows are read whole, since
   every one of them is judged.

A split by time or by cutoff, cross-validation and several processes read the table whole
(:func:`stream_refusal` says why).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.parquet_rows import ParquetRows
from needmap.data.provenance import with_source
from needmap.data.split import sample_positions, split_indices
from needmap.errors import ConfigError
from needmap.estimator import Model
from needmap.events.table_info import info_of_file, with_file_info
from needmap.predictor import Predictor
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.target import check_target_columns, strata, target_names
from needmap.schema import Schema
from needmap.training.from_file import SCHEMA_SAMPLE_ROWS, encode_rows
from needmap.training_rows import STREAM_MIN_ROWS, info_of_parquet
from needmap.workflows.importance import IMPORTANCE_ROWS
from needmap.workflows.phases import PhaseClock

#: Most training rows the baselines fit on when the file is streamed and ``baseline_rows`` is not given.
STREAMED_BASELINE_ROWS = 1_000_000
#: Most training rows ``profile.json`` describes when the file is streamed (read whole, every column).
STREAMED_PROFILE_ROWS = 250_000


def kept_columns(rows: ParquetRows, schema: Schema, group_column: str | None) -> pa.Table:
    """Every row of the columns the judging reads from rows it does not encode: the targets, the id columns and
    the group column (each once, in the file's order of columns)."""
    wanted = {*target_names(schema), *schema.ids, *([group_column] if group_column else [])}
    return rows.columns([name for name in rows.column_names if name in wanted])


def read_test_rows(
    rows: ParquetRows, fitted: Predictor, test_rows: np.ndarray, *, group_column: str | None, seed: int
) -> tuple[pa.Table, FeatureBatch, pa.Table]:
    """The test rows of a streamed run: (their targets, ids and group column, their features encoded as the fit
    encodes a file (ids int32), every column of a random sample of at most
    :data:`needmap.workflows.importance.IMPORTANCE_ROWS` of them for the permutation importance)."""
    table = kept_columns(rows, fitted.schema_, group_column).take(pa.array(test_rows))
    encoded = encode_rows(rows, fitted.preprocessor_, test_rows)
    picked = sample_positions(len(test_rows), IMPORTANCE_ROWS, seed)
    importance_rows = rows.take(test_rows if picked is None else test_rows[picked])
    return with_source(table, rows.path, None), encoded, importance_rows


def stream_refusal(rows: ParquetRows, *, split: str | None, time_column: str | None, cv: int | None,
                   distributed: bool) -> str | None:  # fmt: skip
    """Why the run cannot stream ``rows`` (it reads the table whole then), or None when it can."""
    if cv is not None:
        return "cross-validation deals every training row to folds"
    if split in ("time", "cutoff") or time_column is not None:
        return f"a split by {split or 'time'} orders every row"
    if distributed:
        return "several processes each read their share of a table"
    if info_of_parquet(rows.path) is not None or info_of_file(rows.path) is not None:
        return "a table built from an event log splits by its cutoffs"
    return None


def streamed_source(
    rows: ParquetRows, stream: bool | None, *, split: str | None, time_column: str | None, cv: int | None,
    distributed: bool,
) -> tuple[bool, str | None]:  # fmt: skip
    """(whether the run streams ``rows``, a note when a file it would stream by default is read whole).
    ``stream``: True streams (ConfigError where it cannot), False reads whole, None streams a file of at least
    :data:`needmap.training_rows.STREAM_MIN_ROWS` rows where it can."""
    if stream is False:
        return False, None
    why = stream_refusal(rows, split=split, time_column=time_column, cv=cv, distributed=distributed)
    if stream is True:
        if why is not None:
            raise ConfigError(f"--stream reads {rows.path} in parts, and {why}; expected --no-stream here.")
        return True, None
    if rows.num_rows < STREAM_MIN_ROWS:
        return False, None
    if why is not None:
        return False, (
            f"{Path(rows.path).name} ({rows.num_rows:,} rows) was read whole, not in parts, because {why}; "
            "memory grows with the file."
        )
    return True, None


def read_whole(rows: ParquetRows) -> pa.Table:
    """Every row of ``rows``, as :func:`needmap.read` reads the file, with a feature table's description kept
    beside it (``<path>.features.json``) in the schema metadata, as the command line reads a file."""
    from needmap.data.read import read

    return with_file_info(read(rows.path), rows.path)


@dataclass
class StreamedFit:
    """What a streamed run hands on to the judging that a run on a table shares.

    Attributes:
        fitted: the fitted predictor; its ``fit_rows_`` point into ``train_table``, its ``encoded_fit_rows_``
            (with baselines) hold those rows encoded.
        train_table: the targets (and id columns) of the sampled training rows and of every validation row, in
            the file's order; the rows' features are read encoded (``fitted.encoded_fit_rows_``).
        profile_rows: the training rows ``profile.json`` describes, every column: a random sample of
            :data:`STREAMED_PROFILE_ROWS` of the baselines' rows (all of them when fewer).
        test_rows: the file's row numbers of the test rows, increasing (read after the baselines, when the sample's
            memory is free: :meth:`~needmap.data.parquet_rows.ParquetRows.take`).
        report: rows in the file and without a target (``clean_training_table``'s report).
        notes: what the run says of its rows.
        split: the split method used; rows_in_table: the rows with a target.
        baseline_rows: ``{"trained_on": k, "training_rows": n}``, the sample the baselines fit on.
    """

    fitted: Predictor
    train_table: pa.Table
    profile_rows: pa.Table
    test_rows: np.ndarray
    report: dict[str, Any]
    split: str
    rows_in_table: int
    baseline_rows: dict[str, int]
    notes: list[str] = field(default_factory=list)


def fit_streamed(
    rows: ParquetRows,
    model: Model,
    *,
    schema: Schema | None,
    test_size: float,
    split: str,
    validation: float,
    seed: int,
    baseline: bool,
    baseline_rows: int | None,
    checkpointing: Mapping[str, Any],
    clock: PhaseClock,
) -> StreamedFit:
    """Split the rows of ``rows`` by their targets, train ``model`` from the file and read the rows the judging
    needs (module docstring). ``split``: "stratified" or "random"."""
    with clock.phase("infer"):
        schema = schema or model.infer_schema(rows.sample(SCHEMA_SAMPLE_ROWS))
    with clock.phase("split"):
        targets = target_names(schema)
        check_target_columns(targets, rows.column_names, place="file", file=rows.path)
        raw = rows.columns(targets)
        present = pc.is_valid(raw.column(0))
        for k in range(1, len(targets)):
            present = pc.or_(present, pc.is_valid(raw.column(k)))
        kept = np.flatnonzero(np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)).astype(np.int64)
        target_table, report = model.clean(raw, schema)
        del raw
        if schema.task in ("regression", "ltv") and split == "stratified":
            split = "random"
        train_idx, test_idx = split_indices(
            len(kept), method=split, test_size=test_size, seed=seed, y=strata(target_table, schema)
        )
        # the validation rows as the fit of a table draws them from its training part (prepare_table)
        fit_seed = int(model.train_options.get("seed", 0))
        if validation > 0:
            method = "random" if schema.task in ("regression", "ltv") else "stratified"
            labels = strata(target_table.take(pa.array(train_idx)), schema)
            fit_idx, valid_idx = split_indices(
                len(train_idx), method=method, test_size=validation, seed=fit_seed, y=labels
            )
        else:
            fit_idx, valid_idx = np.arange(len(train_idx)), np.array([], dtype=np.int64)
        del target_table
        train_rows, valid_rows = kept[train_idx[fit_idx]], kept[train_idx[valid_idx]]
        test_rows = kept[test_idx]
    fit_started = time.perf_counter()
    fitted = model.fit(
        rows.path, stream=True, parts=(train_rows, valid_rows), validation=validation, schema=schema,
        keep_encoded_rows=True, **checkpointing,
    ).predictor_  # fmt: skip
    assert fitted is not None
    trained_s = float((fitted.metrics_.get("training") or {}).get("wall_time_s") or 0.0)
    at_start = (fitted.metrics_.get("training") or {}).get("peak_memory_mb_at_start")  # before its training loop
    clock.add("prepare", time.perf_counter() - fit_started - trained_s, peak=at_start)
    clock.add("train", trained_s)
    sample = sample_positions(len(train_rows), STREAMED_BASELINE_ROWS if baseline_rows is None else baseline_rows, seed)
    sampled = train_rows if sample is None else train_rows[sample]
    sample = sample_positions(len(sampled), STREAMED_PROFILE_ROWS, seed)
    profiled = sampled if sample is None else sampled[sample]
    with clock.phase("read"):  # the judging reads these rows' targets; their features are read encoded
        held = np.union1d(sampled, valid_rows)
        train_table = kept_columns(rows, schema, None).take(pa.array(held))
        profile_rows = rows.take(profiled)
    fitted.fit_rows_ = {"train": np.searchsorted(held, sampled), "validation": np.searchsorted(held, valid_rows)}
    if baseline:  # the validation rows are kept encoded by the fit, the sampled training rows are encoded here
        assert fitted.encoded_fit_rows_ is not None
        with clock.phase("prepare"):
            fitted.encoded_fit_rows_["train"] = encode_rows(rows, fitted.preprocessor_, sampled)
    notes = [
        f"{Path(rows.path).name} was read in parts ({rows.num_rows:,} rows, --stream): the network trained on all "
        f"{len(train_rows):,} training rows from the file; the baselines{'' if baseline else ' (none here)'} use "
        f"a random sample of {len(sampled):,} of them (--baseline-rows), the training profile {len(profiled):,}."
    ]
    return StreamedFit(
        fitted=fitted,
        train_table=train_table,
        profile_rows=profile_rows,
        test_rows=test_rows,
        report=report,
        split=split,
        rows_in_table=len(kept),
        baseline_rows={"trained_on": len(sampled), "training_rows": len(train_rows)},
        notes=notes,
    )
