"""The train workflow: a table in, a validated model directory out.

read -> schema (inferred + overrides) -> checks -> split off a test part -> (k-fold cross-validation
of the training part) -> fit preprocessing and the network on the rest (with a validation part for
early stopping, and a calibrator fitted on it) -> test metrics beside two baselines trained on the
same rows, logistic regression and LightGBM (which stops early on the same validation rows) -> a
paired comparison and its verdict, the test curves (``evaluation.json``) -> save the model
directory -> (log the run to MLflow).

Every target is judged on the test rows that have it (:mod:`needmap.workflows.held_out`); a model of several
targets gives each result by target: ``metrics["test"]`` and ``metrics["baseline_test"]`` are then ``{target:
metrics}``, ``metrics["baselines"]`` ``{baseline: {target: metrics}}``, ``evaluation.json`` ``{target:
document}``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap._version import __version__
from needmap.artifact import model_destination
from needmap.data.parquet_rows import ParquetRows
from needmap.data.profile import profile_table
from needmap.data.provenance import source_of
from needmap.errors import ConfigError, SchemaError
from needmap.estimator import CALIBRATION_METHODS, Model
from needmap.model_place import model_path_lock
from needmap.preprocessing.target import target_names
from needmap.runtime.arrow_memory import release_unused_memory
from needmap.schema import Schema
from needmap.training import distributed
from needmap.training.config import TrainConfig
from needmap.training.from_file import SCHEMA_SAMPLE_ROWS
from needmap.workflows.cv import cv_summary
from needmap.workflows.event_split import validation_notes
from needmap.workflows.evidence import record_evidence
from needmap.workflows.held_out import choose_on_cv, choose_scorers, judge_on_test, train_baselines
from needmap.workflows.phases import PhaseClock
from needmap.workflows.selection import SELECTION_FILE, SELECTIONS, selection_document
from needmap.workflows.train_file import fit_streamed, read_test_rows, read_whole, streamed_source
from needmap.workflows.train_table import check_group, describe_test_rows, fit_table, target_notes

#: Training options that only the final network's fit takes (:func:`_checkpointing`).
CHECKPOINT_OPTIONS = ("checkpoint_every", "checkpoint_dir", "resume")


@dataclass
class TrainOutcome:
    """What a training run produced, for printing and for tests."""

    model: Model
    schema: Schema
    metrics: dict[str, Any]
    out: Path | None
    notes: list[str] = field(default_factory=list)  # printed first: rows left out, few rows, no signal (evidence.py)
    test_table: pa.Table | None = None
    run_id: str | None = None  # the MLflow run, when tracked
    replaced: bool = False  # a model was at ``out`` before and was replaced
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase, the writing included (phases.py)
    peak_memory_mb: dict[str, float] = field(default_factory=dict)  # the process's peak when each phase ended


def run_train(
    table: pa.Table | list[pa.Table],
    model: Model,
    *,
    out: str | Path | None,
    test_size: float = 0.2,
    split: str | None = None,
    time_column: str | None = None,
    validation: float = 0.1,
    baseline: bool = True,
    schema: Schema | None = None,
    contact_cost: float = 1.0,
    conversion_value: float = 10.0,
    cv: int | None = None,
    calibrate: str | None = None,
    group_column: str | None = None,
    track: str | None = None,
    n_boot: int = 1000,
    extras: Mapping[str, Any] | None = None,
    phases: Mapping[str, float] | None = None,
    select: str = "auto",
    stream: bool | None = None,
    baseline_rows: int | None = None,
) -> TrainOutcome:
    """Train ``model`` on ``table`` with a held-out test part, compare with the baselines, save.

    Args:
        table: all labelled rows (Arrow table from needmap.read, or a Parquet file as
            :class:`~needmap.data.parquet_rows.ParquetRows`, streamed or read whole as ``stream`` says), or a list
            holding that one table, which the run empties: a caller that keeps no other reference (the command
            line) lets the whole table's memory go once it is split into its training and test parts.
        model: an unfitted Model carrying the options.
        out: the model directory to write (None: do not save).
        test_size: share of rows held out for the test metrics (0 < test_size < 1).
        split: "stratified", "random", "time" (needs ``time_column``: the latest rows are the test) or "cutoff"
            (a table built from an event log: the rows of the latest cutoff are the test, and the training rows
            whose label window reaches past it are left out and counted in ``metrics["split"]``); None: "cutoff"
            for a table built from an event log, else "stratified".
        validation: share of the training part used for early stopping (and calibration).
        baseline: also train logistic regression (Ridge for regression) and LightGBM on the rows that
            trained the network (LightGBM stops early on its validation rows) and report them:
            ``metrics["baselines"]`` = ``{name: test metrics}``, ``metrics["baseline"]`` the best one's name
            and ``metrics["baseline_test"]`` its metrics; each by target for a model of several targets, each
            target's trained on the rows that have it (:func:`needmap.workflows.held_out.judge_on_test`).
        contact_cost, conversion_value: the cost of contacting a customer and the value of a conversion,
            for the profit curve of ``evaluation.json`` (same currency unit).
        cv: k-fold cross-validation of the training part (:func:`needmap.workflows.cv.run_cv`, the test
            rows stay unseen) before the final model trains; its summary goes to ``metrics["cv"]``.
        calibrate: "isotonic" or "platt" to set the model's calibration (see ``Model(calibrate=...)``);
            None keeps the model's own setting.
        group_column: a column of ``table`` (e.g. a customer or campaign id): ``evaluation.json`` gets the
            group AUC of the test rows by it.
        track: an MLflow tracking URI (a folder such as ``mlruns`` or ``http://host:5000``): the run's
            parameters, metrics, per-epoch curves and model directory are logged there
            (:func:`needmap.tracking.log_to_mlflow`); the run id is ``TrainOutcome.run_id``.
        n_boot: bootstrap resamples of the comparison with the baselines (none on many test rows: the
            asymptotic interval, :data:`needmap.metrics.compare.ASYMPTOTIC_CELLS`).
        phases: seconds of what ran before, by phase (the command line's ``{"read": s}``): the first entries of
            ``metrics["phases"]``, where the run adds its own (:mod:`needmap.workflows.phases`).
        extras: further documents to save beside the model, by file name (e.g. ``{"tuning.json": ...}``:
            see :data:`needmap.artifact.OPTIONAL_FILES`).
        stream: for a Parquet file: True reads it in parts (:mod:`needmap.workflows.train_file`: the network
            trains from the file, the baselines, the scorer's choice and the profile read a sample of the training
            rows with the validation rows), False reads it whole, None streams a file of at least
            :data:`needmap.training_rows.STREAM_MIN_ROWS` rows unless the run needs every row in memory
            (cross-validation, a split by time or cutoff, several processes: it says so in a note).
        baseline_rows: most training rows the baselines fit on, a random sample drawn with the seed
            (``metrics["baseline_rows"]``: how many of how many); None: all of them, or
            :data:`needmap.workflows.train_file.STREAMED_BASELINE_ROWS` when streamed.
        select: which scorer the model answers with, per target, chosen on the network's validation rows:
            "auto" (the best there), "network", "lightgbm", "linear" or "blend"
            (:mod:`needmap.workflows.selection`); saved as ``selection.json``, used by predict and evaluate.

    ``model.extras_["evaluation.json"]`` receives the test rows' evaluation
    document of the deep model beside the baselines (:func:`needmap.workflows.evaluation.evaluation_document`),
    and for a binary target ``metrics["verdict"]`` is its paired-interval verdict against the baseline with
    the best test AUC (``metrics["comparisons"]``: one paired comparison per baseline). With
    ``baseline``, ``model.extras_["baselines.json"]`` holds the fitted baselines themselves
    (:func:`needmap.workflows.baseline.baselines_document`), to compare with on new data.

    The model's checkpoint options (``checkpoint_every``, ``checkpoint_dir``, ``resume``) apply to the network
    that is saved, not to the cross-validation folds; the checkpoints go to ``checkpoint_dir``, by default the
    directory being resumed, else ``out`` with ``.checkpoint`` added. While the run lasts it holds ``out``
    (:func:`needmap.model_place.model_path_lock`): a second run writing the same model path is refused at once.

    Run by every process of a distributed run (``torchrun``; :mod:`needmap.training.distributed`), every rank
    splits and encodes the same rows and trains its share of the network's batches; rank 0 alone then trains
    the baselines, judges, saves ``out`` and tracks, while the others wait for it at a barrier and return an
    outcome without a model directory (``out`` None) and with the network's metrics only. Cross-validation and
    checkpoints are refused there.
    """
    arguments = dict(locals())
    given_rows = arguments.pop("table")
    rows = given_rows if isinstance(given_rows, list) else [given_rows]  # emptied by _train_with
    ranks = distributed.current()
    if ranks is not None:
        _check_distributed(model, cv, ranks)
        if not ranks.is_main:  # rank 0 holds the path and writes it
            out = arguments["out"] = None
    given = {name: model.options[name] for name in CHECKPOINT_OPTIONS if name in model.options}
    checkpointing = _checkpointing(model, out)
    try:
        with model_path_lock(Path(out)) if out is not None else contextlib.nullcontext():
            return _train_with(rows, checkpointing=checkpointing, **arguments)
    finally:
        model.options.update(given)  # the model keeps the options it was given


def _check_distributed(model: Model, cv: int | None, ranks: distributed.Ranks) -> None:
    """ConfigError for what a distributed run of ``ranks.world_size`` processes does not do, before any work."""
    if cv is not None:
        raise ConfigError(
            f"cross-validation is not run in distributed training ({ranks.world_size} processes); expected no cv "
            "with several processes.",
            hint="Cross-validate in one process, then train the final model with several.",
        )
    given = [name for name in ("checkpoint_every", "resume") if model.options.get(name) is not None]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} (checkpoints) are not supported in distributed training ({ranks.world_size} "
            "processes); expected them unset with several processes."
        )


def _checkpointing(model: Model, out: str | Path | None) -> dict[str, Any]:
    """The model's checkpoint options, taken off it (they are for the final network only: the folds of a
    cross-validation must not write nor resume its checkpoints), with the default directory filled in."""
    taken = {name: model.options.pop(name) for name in CHECKPOINT_OPTIONS if name in model.options}
    if taken.get("checkpoint_every") is not None and taken.get("checkpoint_dir") is None:
        if taken.get("resume") is not None:
            taken["checkpoint_dir"] = str(taken["resume"])  # a resumed run goes on writing where it left off
        elif out is not None:
            taken["checkpoint_dir"] = f"{Path(out)}.checkpoint"
    return taken


def _train_with(
    rows: list[pa.Table | ParquetRows],
    model: Model,
    *,
    checkpointing: Mapping[str, Any],
    out: str | Path | None,
    test_size: float,
    split: str | None,
    time_column: str | None,
    validation: float,
    baseline: bool,
    schema: Schema | None,
    contact_cost: float,
    conversion_value: float,
    cv: int | None,
    calibrate: str | None,
    group_column: str | None,
    track: str | None,
    n_boot: int,
    extras: Mapping[str, Any] | None,
    phases: Mapping[str, float] | None,
    select: str,
    stream: bool | None,
    baseline_rows: int | None,
) -> TrainOutcome:
    """The body of :func:`run_train`; ``rows``: a list holding the table, taken out here, so that once it is split
    into its training and test parts nothing holds the whole table (unless the caller does); ``checkpointing``:
    the final fit's checkpoint options. A Parquet file (``ParquetRows``) is streamed or read whole here
    (:mod:`needmap.workflows.train_file`)."""
    given_rows = rows.pop()
    # before any training: a path that holds anything but a model is refused, not found out after minutes
    replaced = model_destination(out) if out is not None else False
    if calibrate not in CALIBRATION_METHODS:
        raise ConfigError(
            f"calibrate={calibrate!r} is not a calibration method; expected one of "
            f"{', '.join(repr(m) for m in CALIBRATION_METHODS)}."
        )
    if calibrate is not None:
        model.set_params(calibrate=calibrate)
    if select not in SELECTIONS:
        raise ConfigError(f"select={select!r} is not a way to choose the scorer; expected one of {list(SELECTIONS)}.")
    if not baseline and select not in ("auto", "network"):
        raise ConfigError(
            f"select={select!r} scores with a baseline, and --no-baseline trains none; expected baselines on or "
            "select 'network'."
        )
    clock = PhaseClock()
    for name, seconds in (phases or {}).items():
        clock.add(name, seconds)
    notes: list[str] = []
    streaming = False
    if isinstance(given_rows, ParquetRows):
        streaming, read_note = streamed_source(
            given_rows,
            stream,
            split=split,
            time_column=time_column,
            cv=cv,
            distributed=distributed.current() is not None,
        )
        notes.extend([read_note] if read_note else [])
    elif stream:
        raise ConfigError(
            "stream=True reads a Parquet file in parts; the rows came as a table already read. Expected the path of "
            "a Parquet file (or stream left out)."
        )
    columns = given_rows.column_names
    if group_column is not None and group_column not in columns:
        raise SchemaError(
            f"the group column '{group_column}' is not in the table; expected one of {', '.join(columns)}.",
            file=given_rows.path if isinstance(given_rows, ParquetRows) else source_of(given_rows),
            column=group_column,
        )
    if streaming:
        assert isinstance(given_rows, ParquetRows)
        with clock.phase("infer"):
            schema = schema or model.infer_schema(given_rows.sample(SCHEMA_SAMPLE_ROWS))
        check_group(group_column, schema)
        got = fit_streamed(
            given_rows, model, schema=schema, test_size=test_size, split=split or "stratified", validation=validation,
            seed=int(model.train_options.get("seed", 0)), baseline=baseline, baseline_rows=baseline_rows,
            checkpointing=checkpointing, clock=clock,
        )  # fmt: skip
        fitted, train_table, report, test_file_rows = got.fitted, got.train_table, got.report, got.test_rows
        profile_rows: pa.Table | None = got.profile_rows
        notes.extend(target_notes(report, fitted.schema_))
        notes.extend(got.notes)
        seed, split, by_cutoff, cv_result = int(model.train_options.get("seed", 0)), got.split, None, None
        source, rows_in_table, test_rows = given_rows.path, got.rows_in_table, len(test_file_rows)
        description = describe_test_rows(source, test_size, split, seed, time_column)
        sampled = got.baseline_rows
        max_rows = None  # the sample is drawn already
        del got
    else:
        if isinstance(given_rows, ParquetRows):
            with clock.phase("read"):
                given_rows = read_whole(given_rows)
        whole = [given_rows]  # emptied by _fit_table: once split, nothing here holds the whole table
        del given_rows
        fitted, train_table, test_table, report, outcome_or_parts = fit_table(
            whole, model, schema=schema, test_size=test_size, split=split, time_column=time_column,
            group_column=group_column, validation=validation, baseline=baseline, cv=cv, n_boot=n_boot,
            checkpointing=checkpointing, clock=clock, notes=notes,
        )  # fmt: skip
        if outcome_or_parts is None:  # a distributed rank other than 0, past the barrier: rank 0 judges and writes
            metrics = dict(fitted.metrics_)
            return TrainOutcome(model=model, schema=fitted.schema_, metrics=metrics, out=None, notes=notes)
        seed, split, by_cutoff, cv_result, source, rows_in_table, test_rows, description = outcome_or_parts
        n_train = len((fitted.fit_rows_ or {}).get("train", []))
        sampled = {"trained_on": min(n_train, baseline_rows or n_train), "training_rows": n_train}
        profile_rows = None  # profiled before the fit (fit_table)
        max_rows = baseline_rows
        if baseline and sampled["trained_on"] < n_train:
            notes.append(
                f"The baselines trained on a random sample of {sampled['trained_on']:,} of the {n_train:,} training "
                "rows (--baseline-rows); the network on all of them."
            )
    metrics: dict[str, Any] = dict(fitted.metrics_)
    metrics["split"] = {"method": split, "test_size": test_size, "seed": seed, "time_column": time_column}
    if by_cutoff is not None:  # the test share is that of the latest cutoff; the rows left out are counted
        metrics["split"].update(by_cutoff.describe(), test_size=test_rows / rows_in_table)
    metrics["split"]["read"] = "file in parts" if streaming else "whole"
    if baseline:
        metrics["baseline_rows"] = sampled
    notes.extend(validation_notes(fitted.report_))
    hint = bf16_note(metrics.get("training") or {})
    if hint is not None:
        notes.append(hint)
    if cv_result is not None:
        metrics["cv"] = cv_summary(cv_result)
    if profile_rows is not None:  # a streamed run's sample of whole rows: its memory goes before the baselines
        names = [*fitted.schema_.features, *target_names(fitted.schema_)]
        profiled = [c for c in names if c in profile_rows.column_names]
        with clock.phase("profile"):
            fitted.extras_["profile.json"] = profile_table(
                profile_rows.select(profiled), fitted.schema_, source=_profiled_rows(source, profile_rows)
            )
        profile_rows = None
    release_unused_memory()
    with clock.phase("baselines"):
        bases = train_baselines(fitted, train_table, seed, max_rows) if baseline else None
        if bases is not None:
            fitted.use_baselines([b for per_target in bases for b in per_target])
    with clock.phase("selection"):
        if cv_result is not None and bases is not None:  # every training row scored out of fold: wider evidence
            fitted.selection_ = choose_on_cv(cv_result, fitted.schema_, select, seed)
        else:
            fitted.selection_ = choose_scorers(fitted, train_table, bases, select, seed)
    fitted.encoded_fit_rows_ = None  # the baselines and the choice have used them: their memory is free again
    fitted.extras_[SELECTION_FILE] = selection_document(fitted.selection_)
    importance_rows = None
    if streaming:  # the test rows' targets and ids, their features encoded from the file, and the importance's sample
        with clock.phase("read"):
            test_table, x_test, importance_rows = read_test_rows(
                given_rows, fitted, test_file_rows, group_column=group_column, seed=seed
            )
    else:
        with clock.phase("prepare"):  # the network is trained: every core it used encodes
            threads = (fitted.train_config_ or TrainConfig()).cpu_threads()
            x_test = fitted.preprocessor_.transform(test_table, threads=threads)
    groups = None if group_column is None else test_table.column(group_column).to_numpy(zero_copy_only=False)
    evaluate_started = time.perf_counter()
    judged = judge_on_test(
        fitted,
        test_table,
        x_test,
        bases,
        description=description,
        seed=seed,
        contact_cost=contact_cost,
        conversion_value=conversion_value,
        groups=groups,
        group_column=group_column,
        n_boot=n_boot,
        importance_rows=importance_rows,
    )
    metrics.update(judged.metrics)
    notes.extend(record_evidence(fitted, train_table, metrics))  # few rows, no signal: metrics["evidence"]
    clock.add("evaluate", time.perf_counter() - evaluate_started)
    fitted.extras_["evaluation.json"] = judged.evaluation
    fitted.extras_.update(extras or {})
    metrics["phases"] = clock.as_dict()  # all but the writing, which ends after metrics.json is written
    metrics["peak_memory_mb"] = clock.peaks()
    fitted.metrics_ = metrics
    fitted.report_.update(report)
    fitted.report_["test_rows"] = test_rows
    fitted.report_["source"] = source
    with clock.phase("write"):
        path = fitted.save(out) if out is not None else None
    if distributed.current() is not None:  # the others end once the model directory is in place
        distributed.barrier()
    run_id = _track(track, model, metrics, path, out) if track is not None else None
    return TrainOutcome(
        model=model,
        schema=fitted.schema_,
        metrics=metrics,
        out=path,
        notes=notes,
        test_table=test_table,
        run_id=run_id,
        replaced=replaced,
        phases=clock.as_dict(),
        peak_memory_mb=clock.peaks(),
    )


def _profiled_rows(source: str | None, rows: pa.Table) -> str:
    """Which rows a streamed run's ``profile.json`` describes (a table read whole is profiled whole: fit_table)."""
    where = f"training rows of {source or 'the table'}"
    return f"{where} (a random sample of {rows.num_rows:,} of them, read from the file)"


#: A float32 training on the CPU that took at least this many seconds, on a CPU whose bfloat16 products run at
#: least :data:`BF16_NOTE_SPEEDUP` times as fast, gets a note saying so (:func:`bf16_note`).
BF16_NOTE_SECONDS = 10.0
BF16_NOTE_SPEEDUP = 2.0


def bf16_note(training: Mapping[str, Any]) -> str | None:
    """A note for a float32 training on the CPU long enough to matter, where this CPU's bfloat16 products were
    measured much faster than its float32 ones (AMX, AVX512-BF16: :func:`needmap.runtime.matmul_choice.bf16_speedup`,
    measured once per machine); None otherwise. needmap never switches to bfloat16 by itself: it changes the
    arithmetic, so the user decides."""
    if training.get("device") != "cpu" or training.get("precision") != "fp32":
        return None
    if float(training.get("wall_time_s") or 0.0) < BF16_NOTE_SECONDS:
        return None
    from needmap.runtime.onednn import bf16_speedup

    speedup = bf16_speedup()
    if speedup is None or speedup < BF16_NOTE_SPEEDUP:
        return None
    return (
        f"this CPU multiplies bfloat16 matrices {speedup:.1f}x as fast as float32 ones (measured): precision bf16 "
        "(--precision bf16) would train this network faster, in mixed precision; compare the two runs' test metrics."
    )


def tracked_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numbers of a run worth tracking, flat: validation, test, each baseline's test metrics, the
    cross-validation means, training time and speed (see :func:`needmap.tracking.flat_metrics`)."""
    from needmap.tracking import flat_metrics

    training = metrics.get("training") or {}
    chosen: dict[str, Any] = {
        "validation": metrics.get("validation") or {},
        "test": metrics.get("test") or {},
        "baseline": metrics.get("baselines") or {metrics.get("baseline", "baseline"): metrics.get("baseline_test")},
        "training": {k: training.get(k) for k in ("wall_time_s", "rows_per_s", "epochs_run", "best_epoch")},
    }
    if metrics.get("cv"):
        chosen["cv_mean"] = metrics["cv"].get("mean") or {}
    return flat_metrics({k: v for k, v in chosen.items() if v})


def _track(uri: str, model: Model, metrics: dict[str, Any], path: Path | None, out: str | Path | None) -> str:
    """Log the run to MLflow at ``uri``; returns the run id."""
    from needmap.tracking import log_to_mlflow

    fitted = model.predictor_
    assert fitted is not None
    config = fitted.train_config_.to_dict() if fitted.train_config_ else {}
    params = {
        "architecture": model.model,
        **{f"train.{k}": v for k, v in config.items()},
        **{f"network.{k}": v for k, v in fitted.params.items()},
        **{f"split.{k}": v for k, v in (metrics.get("split") or {}).items()},
        "calibrate": model.calibrate,
    }
    tags = {
        "needmap.version": __version__,
        "target": ",".join(target_names(fitted.schema_)),
        "task": fitted.schema_.task,
        "source": fitted.report_.get("source") or "a table given in Python",
    }
    return log_to_mlflow(
        uri,
        run_name=Path(out).name if out is not None else f"{model.model} {fitted.schema_.target}",
        params=params,
        metrics=tracked_metrics(metrics),
        history=(metrics.get("training") or {}).get("history") or [],
        artifact_dir=path,
        tags=tags,
    )
