"""The command line: ``needmap schema | train | tune | evaluate | predict | report | profile | demo``.

Each command parses its options, calls a workflow and prints. Errors caused by input print one
paragraph (no traceback) and exit with status 2.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from needmap.cli_parse import (
    parse_class_weight,
    parse_clip,
    parse_duration,
    parse_ints,
    parse_params,
    parse_value_fields,
    parse_zero_flags,
)
from needmap.errors import ConfigError, NeedmapError
from needmap.runtime.arrow_memory import prefer_system_arrow_pool, system_arrow_pool

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="needmap: deep models that map what customers did to what they will need next.",
)
console = Console(stderr=True)
out_console = Console()
F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn a NeedmapError into one printed paragraph and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NeedmapError as err:
            console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]: nothing was written.")
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def _merge_list(*values: str | list[str] | None) -> list[str]:
    from needmap.data.overrides import parse_column_list

    merged: list[str] = []
    for value in values:
        if value is None:
            continue
        for name in parse_column_list(value) if isinstance(value, str) else value:
            if name not in merged:
                merged.append(name)
    return merged


# -- shared options ---------------------------------------------------------------------------
Target = typer.Option(
    None, "--target", "-t", help="The outcome column to predict; several (a,b) train a multi-task model."
)
Drop = typer.Option(None, help="Columns to leave out, comma-separated (e.g. duration,contact).")
Ids = typer.Option(None, "--id", help="Identifier columns: kept in the scores, never inputs.")
Categorical = typer.Option(None, help="Columns to treat as categorical, comma-separated.")
Numeric = typer.Option(None, help="Columns to treat as numeric, comma-separated.")
Datetime = typer.Option(None, help="Columns to treat as date/time (not inputs), comma-separated.")
Multihot = typer.Option(None, help="Multi-hot list columns (e.g. genres 'Action|Comedy'), comma-separated.")
Sequence_ = typer.Option(
    None, "--sequence", help="Behaviour-sequence columns, 'name' or 'name:item_column' to share that vocabulary."
)
Hash = typer.Option(None, "--hash", help="Categorical columns to hash, 'name' or 'name:buckets' (default 100000).")
Bucketize = typer.Option(None, help="Numeric columns to turn into quantile buckets, 'name' or 'name:buckets'.")
Config = typer.Option(None, "--config", help="YAML file of column roles and preprocessing options.")
Delimiter = typer.Option(None, help="CSV delimiter (sniffed when not given).")
Encoding = typer.Option("utf-8", help="Text encoding of CSV / JSON files, e.g. latin-1.")
Task = typer.Option(None, help="binary, multiclass or regression (inferred when not given).")


def _read(path: str, delimiter: str | None, encoding: str) -> Any:
    from needmap.data.read import read

    return read(path, delimiter=delimiter, encoding=encoding)


def _colon_items(text: str | None, option: str, value_key: str | None) -> dict[str, Any]:
    """'a:b,c' -> {'a': ..., 'c': None}: the part after ':' is a whole number (value_key None) or an option."""
    items: dict[str, Any] = {}
    for item in _merge_list(text):
        name, _, value = item.partition(":")
        if not value:
            items[name] = None
        elif value_key is not None:
            items[name] = {value_key: value}
        else:
            try:
                items[name] = int(value)
            except ValueError:
                raise ConfigError(f"{option} '{item}': '{value}' is not a whole number of buckets.") from None
    return items


def _merge_features(base: Any, extra: dict[str, Any]) -> Any:
    """YAML feature columns (list or mapping) plus command-line ones (mapping)."""
    if not extra:
        return base
    if base is None:
        return extra
    merged = dict(base) if isinstance(base, dict) else dict.fromkeys(_merge_list(base))
    merged.update(extra)
    return merged


def _roles(
    config: Path | None,
    target: str | None,
    drop: str | None,
    ids: str | None,
    categorical: str | None,
    numeric: str | None,
    datetime: str | None,
    multihot: str | None,
    sequence: str | None,
    hash_: str | None,
    bucketize: str | None,
    task: str | None = None,
) -> dict[str, Any]:
    """needmap.Model keywords for column roles, from the YAML file and the command line (which adds to it)."""
    from needmap.data.overrides import load_overrides

    base: dict[str, Any] = load_overrides(config) if config else {}
    return {
        "target": target or base.get("target"),
        "task": task or base.get("task"),
        "drop": _merge_list(base.get("drop"), drop),
        "id": _merge_list(base.get("id"), ids),
        "categorical": _merge_list(base.get("categorical"), categorical),
        "numeric": _merge_list(base.get("numeric"), numeric),
        "datetime": _merge_list(base.get("datetime"), datetime),
        "multihot": _merge_features(base.get("multihot"), dict.fromkeys(_merge_list(multihot))),
        "sequence": _merge_features(base.get("sequence"), _colon_items(sequence, "--sequence", "vocabulary_of")),
        "hash": _merge_features(base.get("hash"), _colon_items(hash_, "--hash", None)),
        "bucketize": _merge_features(base.get("bucketize"), _colon_items(bucketize, "--bucketize", None)),
        "column_options": dict(base.get("options") or {}),
        "preprocess": dict(base.get("preprocess") or {}),
    }


# -- schema -----------------------------------------------------------------------------------
@app.command(
    epilog="Example: needmap schema bank.csv --target y --drop duration",
)
@friendly_errors
def schema(
    data: str = typer.Argument(..., help="CSV / Parquet / JSON lines file."),
    target: str | None = Target,
    drop: str | None = Drop,
    ids: str | None = Ids,
    categorical: str | None = Categorical,
    numeric: str | None = Numeric,
    datetime: str | None = Datetime,
    multihot: str | None = Multihot,
    sequence: str | None = Sequence_,
    hash_: str | None = Hash,
    bucketize: str | None = Bucketize,
    config: Path | None = Config,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    as_json: bool = typer.Option(False, "--json", help="Print the schema as JSON."),
) -> None:
    """Show each column's inferred role (numeric, categorical, id, datetime, target, ignored) and why."""
    import json

    from needmap.display import schema_table
    from needmap.estimator import Model
    from needmap.features.describe import describe_schema

    roles = _roles(config, target, drop, ids, categorical, numeric, datetime, multihot, sequence, hash_, bucketize)
    table = _read(data, delimiter, encoding)
    sch = Model("mlp", **roles).infer_schema(table)
    if as_json:
        out_console.print_json(json.dumps(sch.to_dict()))
        return
    title = f"{data}: {table.num_rows} rows, {table.num_columns} columns"
    if sch.target:
        title += (
            f"; target '{sch.target}' ({sch.task}, classes {sch.classes})"
            if sch.classes
            else f"; target '{sch.target}' ({sch.task})"
        )
    out_console.print(schema_table(describe_schema(sch, table), title=title))


# -- train ------------------------------------------------------------------------------------
def _build_model(
    roles: dict[str, Any],
    model: str,
    hidden: str | None,
    embedding_dim: int | None,
    dropout: float | None,
    activation: str | None,
    batch_norm: bool | None,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    optimizer: str | None,
    weight_decay: float | None,
    patience: int | None,
    lr_schedule: str | None,
    class_weight: str | None,
    seed: int,
    max_time: str | None,
    scaling: str | None,
    clip: str | None,
    min_frequency: int | None,
    quiet: bool,
    param: list[str] | None = None,
    precision: str | None = None,
    device: str | None = None,
    value_fields: str | None = None,
    zero_flags: str | None = None,
) -> Any:
    from needmap.estimator import Model

    options: dict[str, Any] = {"seed": seed, "progress": not quiet, **parse_params(param)}
    for key, value in (
        ("hidden", parse_ints(hidden, "--hidden")),
        ("embedding_dim", embedding_dim),
        ("dropout", dropout),
        ("activation", activation),
        ("batch_norm", batch_norm),
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("lr", lr),
        ("optimizer", optimizer),
        ("weight_decay", weight_decay),
        ("patience", patience),
        ("lr_schedule", lr_schedule),
        ("max_time", parse_duration(max_time)),
        ("scaling", scaling),
        ("min_frequency", min_frequency),
        ("precision", precision),
        ("device", device),
    ):
        if value is not None:
            options[key] = value
    if class_weight is not None:
        options["class_weight"] = parse_class_weight(class_weight)
    clip_value = parse_clip(clip)
    if clip_value != "default":
        options["clip_quantiles"] = clip_value
    limit = parse_value_fields(value_fields)
    if limit != "default":
        options["value_fields"] = limit
    share = parse_zero_flags(zero_flags)
    if share != "default":
        options["zero_flags"] = share
    return Model(model, **roles, **options)


def _print_outcome(outcome: Any, started: float) -> None:
    from needmap.display import cv_table, metrics_table

    metrics = outcome.metrics
    task = outcome.schema.task
    for note in outcome.notes:
        console.print(f"[yellow]note:[/] {note}")
    columns = {"validation": metrics.get("validation"), f"test ({outcome.model.model})": metrics.get("test")}
    baselines = metrics.get("baselines") or {metrics.get("baseline", "baseline"): metrics.get("baseline_test")}
    columns.update({f"test ({name})": values for name, values in baselines.items()})
    out_console.print(metrics_table(task, columns, title="Held-out metrics"))
    if metrics.get("cv"):
        cv = metrics["cv"]
        out_console.print(cv_table(cv, title=f"{cv['k']}-fold cross-validation of the training part ({cv['metric']})"))
        out_console.print(f"[bold]cross-validation verdict:[/] {cv['verdict']}")
    training = metrics.get("training", {})
    out_console.print(
        f"trained {training.get('epochs_run')} epochs (best {training.get('best_epoch')}, stopped by "
        f"{training.get('stopped_reason')}) in {training.get('wall_time_s', 0):.1f} s, "
        f"{training.get('rows_per_s', 0):,.0f} training rows/s; whole run {time.perf_counter() - started:.1f} s"
    )
    if metrics.get("verdict"):
        out_console.print(f"[bold]verdict:[/] {metrics['verdict']}")


@app.command(
    epilog=(
        "Example: needmap train bank.csv --target y --drop duration --hidden 256,128 --epochs 30 --out models/bank"
    ),
)
@friendly_errors
def train(
    data: str = typer.Argument(..., help="Labelled rows: CSV / Parquet / JSON lines file."),
    target: str | None = Target,
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    model: str = typer.Option("mlp", "--model", "-m", help="Architecture name."),
    drop: str | None = Drop,
    ids: str | None = Ids,
    categorical: str | None = Categorical,
    numeric: str | None = Numeric,
    datetime: str | None = Datetime,
    multihot: str | None = Multihot,
    sequence: str | None = Sequence_,
    hash_: str | None = Hash,
    bucketize: str | None = Bucketize,
    config: Path | None = Config,
    task: str | None = Task,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    hidden: str | None = typer.Option(None, help="Hidden layer sizes, e.g. 400,400,400."),
    embedding_dim: int | None = typer.Option(None, help="Embedding size of each categorical column."),
    dropout: float | None = typer.Option(None, help="Dropout rate of the hidden layers."),
    activation: str | None = typer.Option(None, help="relu, gelu, silu, tanh or prelu."),
    batch_norm: bool | None = typer.Option(None, "--batch-norm/--no-batch-norm", help="Batch normalization."),
    epochs: int | None = typer.Option(None, help="Most epochs (early stopping may end sooner)."),
    batch_size: int | None = typer.Option(None, help="Rows per training step."),
    lr: float | None = typer.Option(None, help="Learning rate."),
    optimizer: str | None = typer.Option(None, help="adam, rmsprop or sgd."),
    weight_decay: float | None = typer.Option(None, help="L2 weight decay."),
    patience: int | None = typer.Option(None, help="Epochs without improvement before early stopping."),
    lr_schedule: str | None = typer.Option(None, help="plateau, cosine or none."),
    class_weight: str | None = typer.Option(None, help="none, balanced, or the positive class's weight."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same model."),
    max_time: str | None = typer.Option(None, help="Stop training after this long, e.g. 10m."),
    scaling: str | None = typer.Option(
        None,
        help="Numeric scaling: auto (log1p for right-skewed columns, else standard), standard, log1p, quantile, none.",
    ),
    clip: str | None = typer.Option(None, help="Outlier clipping quantiles 'low,high', or none."),
    min_frequency: int | None = typer.Option(None, help="Rarer categories go to the out-of-vocabulary id."),
    value_fields: str | None = typer.Option(
        None,
        help="Numeric columns whose values are levels or codes (at most this many distinct values, default 200) "
        "also get an embedding per value; none turns it off.",
    ),
    zero_flags: str | None = typer.Option(
        None,
        help="Numeric columns that are zero in at least this share of training rows (default 0.3, over more "
        "than 200 distinct values) also get a 0/1 'is zero' column; none turns it off.",
    ),
    validation: float = typer.Option(0.1, help="Share of training rows for early stopping."),
    test_size: float = typer.Option(0.2, help="Share of rows held out for the test metrics."),
    split: str = typer.Option("stratified", help="stratified, random or time."),
    time_column: str | None = typer.Option(None, help="Column ordering rows in time (for --split time)."),
    baseline: bool = typer.Option(
        True, "--baseline/--no-baseline", help="Train logistic regression and LightGBM beside it, on the same rows."
    ),
    calibrate: str | None = typer.Option(
        None, help="Recalibrate the probabilities on the validation rows: isotonic or platt (binary targets)."
    ),
    cv: int | None = typer.Option(
        None, "--cv", help="Also cross-validate the training part with this many folds (summary in metrics.json)."
    ),
    contact_cost: float = typer.Option(1.0, help="Cost of contacting one customer, for the profit curve."),
    conversion_value: float = typer.Option(10.0, help="Value of one conversion, for the profit curve."),
    group_column: str | None = typer.Option(None, help="Column grouping rows (e.g. customer id) for the group AUC."),
    track: str | None = typer.Option(
        None, help="Log the run to MLflow: a folder (e.g. mlruns) or a tracking server URL (needs needmap[mlflow])."
    ),
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="Any other model or training option, key=value (repeatable), e.g. cross_layers=4."
    ),
    precision: str | None = typer.Option(
        None, help="fp32 (default) or bf16 (bfloat16 autocast, on CPUs with AVX512-BF16 or AMX, or a GPU)."
    ),
    device: str | None = typer.Option(
        None, help="Where training runs: auto (default: a CUDA GPU when torch sees one, else the CPU), cpu, cuda."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a model on a table: preprocessing, the network, validation, two baselines and a verdict; save a
    model directory."""
    from needmap.workflows.train import run_train

    started = time.perf_counter()
    roles = _roles(
        config, target, drop, ids, categorical, numeric, datetime, multihot, sequence, hash_, bucketize, task
    )
    if not roles["target"]:
        raise ConfigError("no target column given; expected --target COLUMN (or 'target:' in --config).")
    estimator = _build_model(
        roles, model, hidden, embedding_dim, dropout, activation, batch_norm, epochs, batch_size, lr, optimizer,
        weight_decay, patience, lr_schedule, class_weight, seed, max_time, scaling, clip, min_frequency, quiet,
        param, precision, device, value_fields, zero_flags,
    )  # fmt: skip
    table = _read(data, delimiter, encoding)
    outcome = run_train(
        table, estimator, out=out, test_size=test_size, split=split, time_column=time_column,
        validation=validation, baseline=baseline, calibrate=calibrate, cv=cv, contact_cost=contact_cost,
        conversion_value=conversion_value, group_column=group_column, track=track,
    )  # fmt: skip
    _print_outcome(outcome, started)
    inside = ", ".join(["metrics.json", "card.md", *sorted(outcome.model.extras_)])
    out_console.print(f"model saved to [bold]{outcome.out}[/] ({inside} inside)")
    if outcome.run_id:
        out_console.print(f"run logged to MLflow at {track}: run id {outcome.run_id}")


# -- tune -------------------------------------------------------------------------------------
@app.command(
    epilog=(
        "Example: needmap tune bank.csv --target y --drop duration --model deepfm --trials 30 --out tuning/bank; "
        "the same command again adds 30 trials to the study."
    ),
)
@friendly_errors
def tune(
    data: str = typer.Argument(..., help="Labelled rows: CSV / Parquet / JSON lines file."),
    target: str | None = Target,
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder of the study (study.db) and of the best model (a model directory: model/)."
    ),
    model: str = typer.Option("mlp", "--model", "-m", help="Architecture name."),
    trials: int | None = typer.Option(
        None,
        help="Trials to ADD to the study: a study run again continues with N more. Its first trial is the default "
        "configuration.",
    ),
    time_: str | None = typer.Option(None, "--time", help="Start no new trial after this long, e.g. 10m, 1h."),
    storage: str | None = typer.Option(
        None, help="Study database URL, e.g. postgresql://user@host:5432/db (default: sqlite in --out)."
    ),
    study: str | None = typer.Option(None, help="Study name (default: needmap-<data file>-<model>)."),
    drop: str | None = Drop,
    ids: str | None = Ids,
    categorical: str | None = Categorical,
    numeric: str | None = Numeric,
    datetime: str | None = Datetime,
    multihot: str | None = Multihot,
    sequence: str | None = Sequence_,
    hash_: str | None = Hash,
    bucketize: str | None = Bucketize,
    config: Path | None = Config,
    task: str | None = Task,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    epochs: int | None = typer.Option(None, help="Most epochs of each trial (default: the trainer's, early stopping)."),
    patience: int | None = typer.Option(None, help="Epochs without improvement before a trial stops early."),
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="An option to keep fixed instead of searching it, key=value (repeatable)."
    ),
    device: str | None = typer.Option(None, help="Where trials train: auto (default), cpu, cuda."),
    seed: int = typer.Option(0, help="Seed of the split, the sampler and every trial's training."),
    validation: float = typer.Option(0.1, help="Share of training rows each trial is scored on."),
    test_size: float = typer.Option(0.2, help="Share of rows held out (never seen by the search) for the test."),
    split: str = typer.Option("stratified", help="stratified, random or time."),
    time_column: str | None = typer.Option(None, help="Column ordering rows in time (for --split time)."),
    track: str | None = typer.Option(
        None,
        help="Log the best model's run and every trial's value to MLflow: a folder (mlruns) or a server URL "
        "(pip install needmap[mlflow]).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar when the best model is retrained."),
) -> None:
    """Search a model's options with optuna (one line per trial), then retrain the best and save it."""
    from rich.markup import escape

    from needmap.workflows.tune import improvement_line, run_tune, short_params

    started = time.perf_counter()
    try:
        timeout_s = parse_duration(time_)
    except ConfigError:
        raise ConfigError(f"--time '{time_}' is not a duration; expected seconds or e.g. 90s, 10m, 1h.") from None
    if trials is None and timeout_s is None:
        raise ConfigError("no limit for the search; expected --trials N, --time 10m, or both.")
    roles = _roles(
        config, target, drop, ids, categorical, numeric, datetime, multihot, sequence, hash_, bucketize, task
    )
    if not roles["target"]:
        raise ConfigError("no target column given; expected --target COLUMN (or 'target:' in --config).")
    estimator = _build_model(
        roles, model, None, None, None, None, None, epochs, None, None, None, None, patience, None, None, seed,
        None, None, None, None, quiet, param, None, device,
    )  # fmt: skip

    def line(trial: dict[str, Any]) -> None:
        value = "-" if trial["value"] is None else f"{trial['value']:.4f}"
        best = "-" if trial["best"] is None else f"{trial['best']:.4f}"
        state = {"complete": "green", "pruned": "yellow"}.get(trial["state"], "red")
        default = " (default)" if trial.get("default") else ""
        out_console.print(
            f"trial {trial['number']:>3} [{state}]{trial['state']:<8}[/] {value}  best {best}  "
            f"{trial['seconds'] or 0:.1f} s  {escape(short_params(trial['params']))}{default}",
            highlight=False,
            soft_wrap=True,
        )

    table = _read(data, delimiter, encoding)
    try:
        outcome = run_tune(
            table, estimator, trials=trials, timeout_s=timeout_s, out=out, storage=storage, study_name=study,
            test_size=test_size, split=split, time_column=time_column, validation=validation, seed=seed,
            progress=line, train_options={"track": track} if track else None,
        )  # fmt: skip
    except KeyboardInterrupt:
        # Finished trials are already in the study's database: say so (the shared handler says nothing was written).
        console.print(
            f"[bold red]interrupted[/]: the finished trials are kept in the study ({storage or out / 'study.db'}); "
            "the same command continues it. No model was saved.",
            soft_wrap=True,
        )
        raise typer.Exit(code=130) from None
    out_console.print(
        f"[bold]{improvement_line(outcome)}[/] over {len(outcome.trials)} trials of '{outcome.study_name}'",
        soft_wrap=True,
    )
    _print_outcome(outcome.train, started)
    out_console.print(
        f"best model saved to [bold]{outcome.model_dir}[/] (tuning.json inside); study in {outcome.storage}",
        soft_wrap=True,
    )
    if outcome.train.run_id:
        out_console.print(f"MLflow run {outcome.train.run_id} at {track} (the best model, every trial's value)")


# -- evaluate ---------------------------------------------------------------------------------
@app.command(epilog="Example: needmap evaluate models/bank holdout.csv --json-out holdout_metrics.json")
@friendly_errors
def evaluate(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str = typer.Argument(..., help="Labelled rows to evaluate on."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    json_out: Path | None = typer.Option(None, "--json-out", help="Also write the metrics to this JSON file."),
    baselines: bool = typer.Option(
        True,
        "--baselines/--no-baselines",
        help="Score the baselines saved with the model (baselines.json) on the same rows and give the verdict.",
    ),
) -> None:
    """Metrics of a saved model on labelled rows (AUC, logloss, lift, calibration, ...), beside the baselines
    saved with it (logistic regression, LightGBM) and the verdict: does the deep model still beat them?"""
    from needmap.display import metrics_table
    from needmap.estimator import load
    from needmap.workflows.evaluate import evaluate_with_baselines, saved_baselines
    from needmap.workflows.predict import write_json

    loaded = load(model_dir)
    assert loaded.schema_ is not None
    bases = saved_baselines(loaded, file=str(model_dir)) if baselines else []
    table = _read(data, delimiter, encoding)
    result = evaluate_with_baselines(loaded, table, baselines=bases) if bases else None
    metrics = loaded.evaluate(table) if result is None else result["metrics"]
    columns = {"metrics": metrics} if result is None else {result["primary"]: metrics, **result["baselines"]}
    out_console.print(metrics_table(loaded.schema_.task or "binary", columns, title=f"{model_dir} on {data}"))
    per_target = {k: v for k, v in metrics.items() if isinstance(v, dict)} or {loaded.schema_.target: metrics}
    for name, values in per_target.items():
        if values.get("rows_without_target"):
            console.print(f"[yellow]note:[/] {values['rows_without_target']} rows without '{name}' were left out.")
    if baselines and not bases:
        console.print("[yellow]note:[/] the model has no saved baselines (no baselines.json): its metrics alone.")
    if result is not None:
        out_console.print(f"[bold]verdict:[/] {result['verdict']}", soft_wrap=True)
        keys = ("baselines", "comparisons", "verdict")
        metrics = {**metrics, **{key: result[key] for key in keys}}
    if json_out:
        write_json(metrics, json_out)
        out_console.print(f"metrics written to {json_out}")


# -- predict ----------------------------------------------------------------------------------
@app.command(epilog="Example: needmap predict models/bank new_customers.csv --out scores.parquet")
@friendly_errors
def predict(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str = typer.Argument(..., help="Rows to score: CSV / Parquet / JSON lines file."),
    out: Path = typer.Option(..., "--out", "-o", help="Scores file: .parquet, .csv or .jsonl."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
) -> None:
    """Score new rows with a saved model; keeps the id columns, adds the score; writes atomically.

    Rows are scored in chunks of 100,000 (a Parquet file is read a chunk at a time, so files larger than
    memory score too)."""
    from needmap.data.write import WRITABLE
    from needmap.estimator import load
    from needmap.workflows.predict import predict_stream

    if out.suffix.lower() not in WRITABLE:
        raise ConfigError(f"--out '{out}' has an unsupported extension; expected one of {', '.join(WRITABLE)}.")
    loaded = load(model_dir)
    path, rows, report = predict_stream(loaded, data, out, delimiter=delimiter, encoding=encoding)
    for note in transform_notes(report):
        console.print(f"[yellow]note:[/] {note}")
    out_console.print(f"{rows} rows scored, written to [bold]{path}[/]")


def transform_notes(report: dict[str, Any]) -> list[str]:
    """Plain sentences for what preprocessing had to repair in the rows just scored."""
    notes = []
    rows = report.get("rows", 0)
    for name, col in (report.get("columns") or {}).items():
        if col.get("unparseable"):
            notes.append(f"{col['unparseable']} of {rows} values of '{name}' were not numbers; scored as missing.")
        if col.get("oov"):
            notes.append(
                f"{col['oov']} of {rows} rows have a category of '{name}' unseen in training (out-of-vocabulary id)."
            )
    return notes


# -- report, profile --------------------------------------------------------------------------
@app.command(epilog="Example: needmap report models/bank holdout.csv --out bank-report.html")
@friendly_errors
def report(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str | None = typer.Argument(None, help="Labelled rows to evaluate on too (curves, drift, importance)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    title: str | None = typer.Option(None, help="The page's title (default: from the model directory)."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
) -> None:
    """One self-contained HTML page on a model: metrics, training, curves, the baselines and the verdict,
    the training data's profile; with DATA also drift, curves and permutation importance on it."""
    from needmap.report.build import build_report

    table = _read(data, delimiter, encoding) if data is not None else None
    path = build_report(model_dir, table, out=out, title=title)
    out_console.print(f"report written to [bold]{path}[/] (one file, no scripts: open it in any browser)")


@app.command(epilog="Example: needmap profile bank.csv --target y --out bank-profile.html --json-out profile.json")
@friendly_errors
def profile(
    data: str = typer.Argument(..., help="CSV / Parquet / JSON lines file."),
    out: Path = typer.Option(Path("profile.html"), "--out", "-o", help="The HTML file to write."),
    target: str | None = typer.Option(None, "--target", "-t", help="The outcome column: roles are inferred with it."),
    json_out: Path | None = typer.Option(None, "--json-out", help="Also write the profile to this JSON file."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
) -> None:
    """Profile a table: per column its role, missing values, distinct values, quantiles, histogram, top values."""
    from needmap.data.infer import infer_schema
    from needmap.report.build import build_profile_report

    table = _read(data, delimiter, encoding)
    sch = infer_schema(table, target) if target else None
    path = build_profile_report(table, out=out, source=data, schema=sch, json_out=json_out)
    out_console.print(f"profile of {table.num_rows} rows written to [bold]{path}[/]")
    if json_out:
        out_console.print(f"profile JSON written to {json_out}")


# -- demo -------------------------------------------------------------------------------------
@app.command(epilog="Example: needmap demo --out demo-output")
@friendly_errors
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for the model and the scores."),
    seed: int = typer.Option(0, help="Random seed of split and training."),
    epochs: int | None = typer.Option(None, help="Most epochs (default: the model's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """The main job on the bundled UCI Bank Marketing data: schema, preprocessing, the MLP beside
    logistic regression on the same split, scores for the held-out customers, and a summary."""
    from needmap.demo import run_demo

    run_demo(out=out, seed=seed, epochs=epochs, quiet=quiet, console=out_console)


def main() -> None:
    """Entry point of the ``needmap`` command: Arrow allocates from the system's allocator for the whole
    process, chosen here before anything loads pyarrow (:mod:`needmap.runtime.arrow_memory`)."""
    prefer_system_arrow_pool()
    with system_arrow_pool():
        app()


if __name__ == "__main__":
    sys.exit(main())
