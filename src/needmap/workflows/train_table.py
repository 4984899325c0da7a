"""The rows of a training run read whole: the test rows held out of a table and the model fitted on the rest.

:func:`needmap.workflows.train.run_train` runs these for a table in memory; a Parquet file it streams goes
through :mod:`needmap.workflows.train_file` instead, and both hand the same things on to the judging.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.data.profile import profile_table
from needmap.data.provenance import source_of, take_rows
from needmap.data.spill import SpilledRows
from needmap.data.split import split_indices
from needmap.errors import ConfigError, SchemaError
from needmap.estimator import Model, fit_taking
from needmap.events.table_info import BTYD_COLUMNS
from needmap.predictor import Predictor
from needmap.preprocessing.target import strata, target_names
from needmap.runtime.arrow_memory import release_unused_memory
from needmap.schema import Schema
from needmap.training import distributed
from needmap.workflows.cv import run_cv
from needmap.workflows.event_split import CUTOFF, cutoff_split, default_split, split_notes
from needmap.workflows.phases import PhaseClock


def split_rows(
    table: pa.Table, schema: Schema, *, test_size: float, split: str, time_column: str | None, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """The training and test row positions of ``table`` (cleaned: every row has a target) and the split
    method used: "stratified" by the target's classes, "random", "time" (the latest rows by
    ``time_column`` are the test), or "cutoff" (a table built from an event log: the rows of its latest cutoff
    are the test, the earlier rows within the label horizon of it are in neither part,
    :func:`needmap.workflows.event_split.cutoff_split`); a regression target is split at random when
    "stratified" is asked.
    ``needmap train`` and ``needmap tune`` hold out the same rows with the same options."""
    if split == CUTOFF:  # the latest cutoff's rows; the earlier rows within the horizon gap train nothing
        by_cutoff = cutoff_split(table)
        return by_cutoff.earlier, by_cutoff.latest, split
    time_values = None
    if split == "time":
        if not time_column:
            raise ConfigError("split 'time' needs a time column; expected --time-column NAME.")
        if time_column not in table.column_names:
            raise SchemaError(
                f"the time column '{time_column}' is not in the table; expected one of {table.column_names}.",
                file=source_of(table),
            )
        time_values = table.column(time_column).to_numpy(zero_copy_only=False)
    if schema.task in ("regression", "ltv") and split == "stratified":
        split = "random"
    train_idx, test_idx = split_indices(
        table.num_rows, method=split, test_size=test_size, seed=seed, y=strata(table, schema), time=time_values
    )
    return train_idx, test_idx, split


def check_group(group_column: str | None, schema: Schema) -> None:
    """ConfigError, before training, for a group column beside a target that is not binary."""
    other = [h for h in schema.heads if h.task != "binary"]
    if group_column is not None and other:
        raise ConfigError(
            f"a group AUC (group column '{group_column}') ranks a binary target's scores within groups; the "
            f"target '{other[0].name}' is {other[0].task}. Expected no group column."
        )


def target_notes(report: Mapping[str, Any], schema: Schema) -> list[str]:
    """What the cleaning of the training rows says of their targets (:func:`clean_training_table`'s report)."""
    notes = []
    if report["rows_without_target"]:
        notes.append(
            f"{report['rows_without_target']} of {report['rows_in']} rows have no value in the target "
            f"{' nor '.join(repr(t) for t in target_names(schema))} and were left out."
        )
    for name, count in report.get("rows_missing_target", {}).items():
        if count:
            notes.append(
                f"{count} of the rows kept have no value in the target {name!r}: they train the other targets only."
            )
    return notes


def fit_table(
    rows: list[pa.Table],
    model: Model,
    *,
    schema: Schema | None,
    test_size: float,
    split: str | None,
    time_column: str | None,
    group_column: str | None,
    validation: float,
    baseline: bool,
    cv: int | None,
    n_boot: int,
    checkpointing: Mapping[str, Any],
    clock: PhaseClock,
    notes: list[str],
) -> tuple[Predictor, pa.Table, pa.Table, dict[str, Any], Any]:
    """Split a table read whole, cross-validate when asked, fit ``model`` on the training part.

    Returns the predictor (its ``profile.json`` the training rows' profile, made before the fit), the columns of
    the training part read after the fit (:func:`judged_columns`: the fit keeps the rows encoded), the test part,
    the cleaning report and (seed, split, the cutoff split,
    the cross-validation, the source, the rows with a target, the test rows, the test description), or None in
    its place on a distributed rank other than 0 (the network is trained and the rank has waited at the barrier:
    rank 0 judges and writes it). Adds what it says of the rows to ``notes``. ``rows``: a list holding the
    table, taken out here, so that its memory is freed once it is split."""
    table = rows.pop()
    with clock.phase("infer"):
        schema = schema or model.infer_schema(table)
    check_group(group_column, schema)
    with clock.phase("split"):
        table, report = model.clean(table, schema)
    notes.extend(target_notes(report, schema))
    seed = int(model.train_options.get("seed", 0))
    asked, split = split, default_split(split, table)
    if cv is not None and split in ("time", CUTOFF):
        raise ConfigError(
            f"cross-validation deals rows to folds at random or by class, which a {split} split rules out; "
            "expected --split stratified or random with --cv."
        )
    with clock.phase("split"):
        train_idx, test_idx, split = split_rows(
            table, schema, test_size=test_size, split=split, time_column=time_column, seed=seed
        )
        by_cutoff = cutoff_split(table) if split == CUTOFF else None
        notes.extend(split_notes(table, asked, split, by_cutoff))
        train_table, test_table = take_rows(table, pa.array(train_idx)), take_rows(table, pa.array(test_idx))
    source, rows_in_table = source_of(table), table.num_rows
    description = describe_test_rows(source, test_size, split, seed, time_column)
    del table  # split: the parts hold the rows from here, and the whole table's memory is free for the fit
    # ... and handed back to the system: the fit allocates from the system pool (uses_system_arrow_pool), so
    # Arrow's own pool would otherwise keep the whole table's pages resident through training, unused
    release_unused_memory()
    cv_result = None
    if cv is not None:
        with clock.phase("cross-validation"):
            cv_result = run_cv(
            train_table, model, cv, split=split, seed=seed, baseline=baseline, validation=validation, schema=schema,
            n_boot=n_boot,
        )  # fmt: skip
    with clock.phase("profile"):  # before the fit, which is then the only holder of the raw training rows
        profile = profile_table(
            train_table.select([c for c in [*schema.features, *target_names(schema)] if c in train_table.column_names]),
            schema,
            source=f"training rows of {source or 'the table'}",
        )
    # what is read of the training rows after the fit: the features are read encoded from there on
    judged, fitted_rows = judged_columns(train_table, schema), [train_table]
    del train_table  # the fit takes them out of the list and lets them go once encoded, before training
    fit_started = time.perf_counter()
    with SpilledRows(test_table) as test_rows:  # on disk while the network trains, read again after
        del test_table
        fitted = fit_taking(
            model, fitted_rows, validation=validation, schema=schema, keep_encoded_rows=True, **checkpointing
        ).predictor_
        test_table = test_rows.read()
    notes.extend([test_rows.note] if test_rows.note else [])
    assert fitted is not None
    fitted.extras_["profile.json"] = profile
    ranks = distributed.current()
    if ranks is not None and not ranks.is_main:  # the network is trained: rank 0 judges and writes it
        distributed.barrier()
        return fitted, judged, test_table, report, None
    trained_s = float((fitted.metrics_.get("training") or {}).get("wall_time_s") or 0.0)
    at_start = (fitted.metrics_.get("training") or {}).get("peak_memory_mb_at_start")  # before its training loop
    clock.add("prepare", time.perf_counter() - fit_started - trained_s, peak=at_start)  # fit less its training loop
    clock.add("train", trained_s)
    described = (seed, split, by_cutoff, cv_result, source, rows_in_table, len(test_idx), description)
    return fitted, judged, test_table, report, described


def describe_test_rows(source: str | None, test_size: float, split: str, seed: int, time_column: str | None) -> str:
    """Which rows an evaluation document describes, e.g. "test rows (20% of bank.csv, stratified, seed 0)";
    ``source``: the file the rows came from (None: a table)."""
    what = Path(source).name if source else "the table"
    if split == CUTOFF:
        return f"test rows (the latest cutoff of {what})"
    how = f"the latest by {time_column}" if split == "time" else f"{split}, seed {seed}"
    return f"test rows ({test_size:.0%} of {what}, {how})"


def judged_columns(train_table: pa.Table, schema: Schema) -> pa.Table:
    """The columns of the training rows that the baselines, the choice of scorer and the evidence read once the
    fit has kept those rows encoded: every column but the features, less the targets and BTYD columns (a
    lifetime-value baseline's) that are also features. Dropping the rest lets their memory go before the
    baselines fit (the encoded rows stand in for them)."""
    dropped = set(schema.features) - set(target_names(schema)) - set(BTYD_COLUMNS)
    return train_table.select([c for c in train_table.column_names if c not in dropped])
