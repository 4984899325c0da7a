"""``needmap tune``: search a model's options with optuna, then retrain the best and save it."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import typer

from needmap.cli.base import Config, Delimiter, Encoding, app, console, friendly_errors, out_console, read_table
from needmap.cli.options import build_model, options_with_file, params_from, with_options
from needmap.cli.outcome import print_outcome
from needmap.data.read_options import ReadOptions
from needmap.data.roles import ColumnRoles
from needmap.errors import ConfigError
from needmap.models.options import NetworkOptions
from needmap.option_text import duration
from needmap.preprocessing.config import PreprocessConfig
from needmap.training.config import TrainConfig
from needmap.workflows.run_options import RunOptions, TuneOptions

#: The run options a search takes: how the rows are split, cross-validation (each trial scored on the folds)
#: and tracking (the baselines, calibration and the profit curve belong to ``needmap train``).
TUNE_RUN_OPTIONS = ("test_size", "split", "time_column", "validation", "cv", "track")
#: The training options of a trial: all but checkpoints and resuming, which belong to one run (a study resumes by
#: its own trials: the same command again adds to it).
TUNE_TRAIN_OPTIONS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("checkpoint_every", "checkpoint_dir", "resume")
)


@app.command(
    epilog=(
        "Example: needmap tune bank.csv --target y --drop duration --model deepfm --trials 30 --out tuning/bank; "
        "the same command again adds 30 trials to the study. With --cv 5 each trial is scored on 5 folds of the "
        "training rows and LightGBM is tuned on the same folds beside it."
    ),
)
@friendly_errors
@with_options(
    ColumnRoles,
    PreprocessConfig,
    NetworkOptions,
    (TrainConfig, TUNE_TRAIN_OPTIONS),
    (RunOptions, TUNE_RUN_OPTIONS),
    TuneOptions,
    ReadOptions,
)
def tune(
    data: str = typer.Argument(..., help="Labelled rows: CSV / Parquet / JSON lines file."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder of the study (study.db) and of the best model (a model directory: model/)."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Architecture name (default: mlp, or the --config file's model)."
    ),
    trials: int | None = typer.Option(
        None,
        help="Trials to ADD to the study: a study run again continues with N more. Its first trial is the default "
        "configuration.",
    ),
    time_: str | None = typer.Option(None, "--time", help="Start no new trial after this long, e.g. 10m, 1h."),
    storage: str | None = typer.Option(
        None, help="Study database URL, e.g. postgresql://user@host:5432/db (default: sqlite in --out)."
    ),
    study: str | None = typer.Option(
        None,
        "--study-name",
        "--study",
        help="Study name: the same name continues a study (default: needmap-<data file>-<target>-<model>).",
    ),
    config: Path | None = Config,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="An option to keep fixed instead of searching it, key=value (repeatable)."
    ),
    options: Any = None,
) -> None:
    """Search a model's options with optuna (one line per trial), then retrain the best and save it. Every
    option given (on the command line, in --config or with -p) stays fixed; the others are searched."""
    from rich.markup import escape

    from needmap.workflows.tune import contenders_line, improvement_line, run_tune, short_params

    started = time.perf_counter()
    try:
        timeout_s = None if time_ is None else duration(time_)
    except ValueError:
        raise ConfigError(f"--time '{time_}' is not a duration; expected seconds or e.g. 90s, 10m, 1h.") from None
    if trials is None and timeout_s is None:
        raise ConfigError("no limit for the search; expected --trials N, --time 10m, or both.")
    reading = options.pop(ReadOptions)
    given, file_model, file_params = options_with_file(options, config)
    if not given[ColumnRoles].get("target"):
        raise ConfigError("no target column given; expected --target COLUMN (or 'target:' in --config).")
    run, tuning = given[RunOptions], given[TuneOptions]
    if tuning.get("tune_lightgbm") and run.get("cv") is None:
        raise ConfigError("--tune-lightgbm tunes LightGBM on the folds of --cv; expected --cv K (e.g. --cv 5) too.")
    params = {**file_params, **params_from(param)}
    estimator = build_model(model, given, file_model=file_model, params=params, skip=(RunOptions, TuneOptions))

    def line(trial: dict[str, Any]) -> None:
        value = "-" if trial["value"] is None else f"{trial['value']:.4f}"
        if trial.get("std") is not None:  # cross-validated: the mean and spread of the folds scored
            value += f" ± {trial['std']:.4f} ({len(trial['folds'])} folds)"
        best = "-" if trial["best"] is None else f"{trial['best']:.4f}"
        state = {"complete": "green", "pruned": "yellow"}.get(trial["state"], "red")
        default = " (default)" if trial.get("default") else ""
        search = f"{trial['search']} " if trial.get("search") else ""
        out_console.print(
            f"{search}trial {trial['number']:>3} [{state}]{trial['state']:<8}[/] {value}  best {best}  "
            f"{trial['seconds'] or 0:.1f} s  {escape(short_params(trial['params']))}{default}",
            highlight=False,
            soft_wrap=True,
        )

    table = read_table(data, delimiter, encoding, reading)
    split = {key: run[key] for key in ("test_size", "split", "time_column", "validation", "cv") if key in run}
    track = run.get("track")
    try:
        outcome = run_tune(
            table, estimator, trials=trials, timeout_s=timeout_s, out=out, storage=storage, study_name=study,
            seed=given[TrainConfig].get("seed", 0), progress=line,
            train_options={"track": track} if track else None, **split, **tuning,
        )  # fmt: skip
    except KeyboardInterrupt:
        # Finished trials are already in the study's database: say so (the shared handler says nothing was written).
        console.print(
            f"[bold red]interrupted[/]: the finished trials are kept in the study "
            f"({escape(str(storage or out / 'study.db'))}); "
            "the same command continues it. No model was saved.",
            soft_wrap=True,
        )
        raise typer.Exit(code=130) from None
    out_console.print(
        f"[bold]{escape(improvement_line(outcome))}[/] over {len(outcome.trials)} trials of "
        f"'{escape(outcome.study_name)}'",
        soft_wrap=True,
    )
    contenders = contenders_line(outcome)
    if contenders is not None:
        out_console.print(f"[bold]{escape(contenders)}[/]", soft_wrap=True, highlight=False)
    print_outcome(outcome.train, started)
    out_console.print(
        f"best model saved to [bold]{escape(str(outcome.model_dir))}[/] (tuning.json inside)"
        f"{' (replaced the model that was there)' if outcome.train.replaced else ''}; study in "
        f"{escape(str(outcome.storage))}",
        soft_wrap=True,
    )
    if outcome.train.run_id:
        out_console.print(
            f"MLflow run {outcome.train.run_id} at {track} (the best model, every trial's value)", markup=False
        )
