"""``needmap train``: preprocessing, the network, validation, two baselines and a verdict; a model directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from needmap.cli.base import (
    Config,
    Delimiter,
    Encoding,
    Param,
    app,
    friendly_errors,
    out_console,
    read_table,
    reading_notes,
)
from needmap.cli.options import Query, build_model, check_query, options_with_file, params_from, with_options
from needmap.cli.outcome import print_outcome
from needmap.data.read_options import ReadOptions
from needmap.data.roles import ColumnRoles
from needmap.errors import ConfigError
from needmap.models.options import NetworkOptions
from needmap.preprocessing.config import PreprocessConfig
from needmap.recommend.options import RecommendOptions
from needmap.training.config import TrainConfig
from needmap.uplift.options import UpliftOptions
from needmap.workflows.run_options import ModelOptions, RunOptions

#: Every option ``needmap train`` takes, by group (the Python API's keywords and the YAML file's keys).
TRAIN_GROUPS = (ColumnRoles, PreprocessConfig, NetworkOptions, TrainConfig, ModelOptions, RunOptions)


@app.command(
    epilog="Example: needmap train bank.csv --target y --drop duration --hidden 256,128 --epochs 30 --out models/bank; "
    "a PostgreSQL table: needmap train 'postgresql://me@db:5432/crm?table=public.customers' --target y --out models/crm"
)
@friendly_errors
@with_options(*TRAIN_GROUPS, ReadOptions, RecommendOptions, UpliftOptions)
def train(
    data: str = typer.Argument(
        ...,
        help="Labelled rows: CSV / Parquet / JSON lines file, or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=schema.name; with --query, a URL naming the database).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Architecture name (default: mlp, or the --config file's model)."
    ),
    config: Path | None = Config,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    param: list[str] | None = Param,
    query: str | None = Query,
    nproc: int | None = typer.Option(
        None,
        "--nproc",
        min=1,
        metavar="N",
        help="Train with this many processes on this machine (DistributedDataParallel, each its share of every "
        "batch; relaunched under torchrun). Under torchrun itself, leave it out.",
        rich_help_panel="Training options",
    ),
    options: Any = None,
) -> None:
    """Train a model on a table: preprocessing, the network, validation, two baselines and a verdict; save a
    model directory."""
    from needmap.training import distributed

    launched = distributed.launched_world_size() > 1
    if nproc is not None and nproc > 1 and not launched:
        from needmap.workflows.distributed import relaunch

        refused = [
            flag
            for flag, value in (
                ("--cv", options.get(RunOptions, {}).get("cv")),
                ("--checkpoint-every", options.get(TrainConfig, {}).get("checkpoint_every")),
                ("--resume", options.get(TrainConfig, {}).get("resume")),
            )
            if value is not None
        ]
        if refused:  # refused here, before the processes start, rather than by each of them
            one = len(refused) == 1
            raise ConfigError(
                f"{', '.join(refused)} {'runs' if one else 'run'} in one process; expected "
                f"{'it' if one else 'them'} without --nproc {nproc}."
            )

        raise typer.Exit(relaunch(nproc))
    if nproc is not None and launched and nproc != distributed.processes_on_this_machine():
        raise ConfigError(
            f"--nproc {nproc} under a launcher that started {distributed.processes_on_this_machine()} processes "
            "on this machine; expected --nproc left out under torchrun."
        )
    from needmap.data.postgres import is_postgres_url
    from needmap.workflows.phases import phases_line
    from needmap.workflows.train import run_train

    started = time.perf_counter()
    reading = options.pop(ReadOptions)
    recommend = options.pop(RecommendOptions)
    check_query(data, query, "DATA")
    from_database = is_postgres_url(data)
    task = options[ColumnRoles].get("task")
    if launched and task in ("recommend", ["recommend"], "uplift", ["uplift"]):
        raise ConfigError(
            f"--task {task if isinstance(task, str) else task[0]} trains in one process; expected it without "
            "--nproc or torchrun."
        )
    if options[ColumnRoles].get("task") in ("recommend", ["recommend"]):
        from needmap.cli.recommend_outcome import train_recommender_command

        rows = _read_database(data, query, reading) if from_database else data
        train_recommender_command(rows, out, model, options, recommend, params_from(param), started)
        return
    if recommend:
        flags = ", ".join("--" + name.replace("_", "-") for name in recommend)
        raise ConfigError(f"{flags} belong to a recommender; expected --task recommend with them.")
    uplift = options.pop(UpliftOptions)
    if options[ColumnRoles].get("task") in ("uplift", ["uplift"]):
        from needmap.cli.uplift_outcome import train_uplift_command

        rows = _read_database(data, query, reading) if from_database else data
        train_uplift_command(rows, out, model, options, uplift, params_from(param), started)
        return
    if uplift:
        flags = ", ".join("--" + name.replace("_", "-") for name in uplift)
        raise ConfigError(f"{flags} belong to an uplift model; expected --task uplift with them.")
    given, file_model, file_params = options_with_file(options, config)
    if not given[ColumnRoles].get("target"):
        raise ConfigError("no target column given; expected --target COLUMN (or 'target:' in --config).")
    estimator = build_model(
        model, given, file_model=file_model, params={**file_params, **params_from(param)}, skip=(RunOptions,)
    )
    read_started = time.perf_counter()
    # In a list that run_train empties: nothing here keeps a reference, so the whole table's memory is freed once
    # it is split into its training and test parts.
    rows = [_rows(data, query, reading, delimiter, encoding, given[RunOptions].get("stream"), from_database)]
    phases = {"read": time.perf_counter() - read_started}
    ranks = distributed.init_from_env()  # None in one process; a rank of the group torchrun started
    try:
        outcome = run_train(rows, estimator, out=out, phases=phases, **given[RunOptions])
    finally:
        distributed.shutdown()
    if ranks is not None and not ranks.is_main:  # rank 0 reports and writes
        return
    print_outcome(outcome, started)
    out_console.print(phases_line(outcome.phases, outcome.peak_memory_mb), markup=False, highlight=False)
    inside = ", ".join(["metrics.json", "card.md", *sorted(outcome.model.extras_)])
    replaced = " (replaced the model that was there)" if outcome.replaced else ""
    out_console.print(f"model saved to [bold]{escape(str(outcome.out))}[/] ({escape(inside)} inside){replaced}")
    if outcome.run_id:
        track = given[RunOptions].get("track")
        out_console.print(f"run logged to MLflow at {track}: run id {outcome.run_id}", markup=False)


def _rows(
    data: str, query: str | None, reading: dict[str, Any], delimiter: str | None, encoding: str, stream: bool | None,
    from_database: bool,
) -> Any:  # fmt: skip
    """What the run trains on: a Parquet file that it may stream (:mod:`needmap.workflows.train_file` decides), else
    the table read whole."""
    from needmap.training_rows import is_parquet_path

    parquet = not from_database and is_parquet_path(data) and Path(data).is_file()
    if stream and not parquet:
        raise ConfigError(f"--stream reads a Parquet file in parts; got {data!r}. Expected a .parquet file.")
    if parquet and stream is not False and not reading:
        from needmap.data.parquet_rows import ParquetRows

        return ParquetRows(data)
    if from_database:
        return _read_database(data, query, reading)
    return read_table(data, delimiter, encoding, reading)


def _read_database(data: str, query: str | None, reading: dict[str, Any]) -> Any:
    """The rows of a PostgreSQL table, or of ``--query`` run in the database that DATA names."""
    from needmap.data.read import read

    with reading_notes():
        return read(data, sql=query, **reading)
