"""The train workflow: a table in, a validated model directory out.

read -> schema (inferred + overrides) -> checks -> split off a test part -> fit preprocessing and
the network on the rest (with a validation part for early stopping) -> test metrics beside a
logistic-regression baseline trained on the same rows -> save the model directory.

A multi-task model (several targets) gets test metrics, a baseline and a verdict per target:
``metrics["test"]`` and ``metrics["baseline_test"]`` are then ``{target: metrics}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap.data.read import source_of, take_rows
from needmap.data.split import split_indices
from needmap.errors import ConfigError, SchemaError
from needmap.estimator import Model, clean_training_table
from needmap.features.preprocess import PreprocessConfig
from needmap.features.target import strata, target_names, target_tasks
from needmap.metrics import task_metrics
from needmap.schema import Schema
from needmap.training.multitask import labelled_metrics
from needmap.workflows.baseline import fit_baseline, fit_baselines

PRIMARY = {"binary": ("auc", True), "multiclass": ("logloss", False), "regression": ("rmse", False)}


@dataclass
class TrainOutcome:
    """What a training run produced, for printing and for tests."""

    model: Model
    schema: Schema
    metrics: dict[str, Any]
    out: Path | None
    notes: list[str] = field(default_factory=list)
    test_table: pa.Table | None = None


def verdict(task: str, deep_name: str, deep: dict[str, Any], base_name: str, base: dict[str, Any]) -> str:
    """One plain sentence saying which model did better on the test rows, and by how much."""
    key, higher_better = PRIMARY[task]
    a, b = deep.get(key), base.get(key)
    if a is None or b is None:
        return f"No comparison: the test {key} is undefined."
    diff = (a - b) if higher_better else (b - a)
    if abs(diff) < 1e-4:
        return f"The {deep_name} and the {base_name} are level on test {key} ({a:.4f})."
    if diff > 0:
        return f"The {deep_name} is better than the {base_name} by {abs(a - b):.4f} test {key} ({a:.4f} vs {b:.4f})."
    return (
        f"The {base_name} is better than the {deep_name} by {abs(a - b):.4f} test {key} ({b:.4f} vs {a:.4f}): "
        f"on this data the simpler model is the better choice."
    )


def run_train(
    table: pa.Table,
    model: Model,
    *,
    out: str | Path | None,
    test_size: float = 0.2,
    split: str = "stratified",
    time_column: str | None = None,
    validation: float = 0.1,
    baseline: bool = True,
    schema: Schema | None = None,
) -> TrainOutcome:
    """Train ``model`` on ``table`` with a held-out test part, compare with the baseline, save.

    Args:
        table: all labelled rows (Arrow table from needmap.read).
        model: an unfitted Model carrying the options.
        out: the model directory to write (None: do not save).
        test_size: share of rows held out for the test metrics (0 < test_size < 1).
        split: "stratified", "random" or "time" (needs ``time_column``: the latest rows are the test).
        validation: share of the training part used for early stopping.
        baseline: also train logistic regression on the same rows and report it.
    """
    schema = schema or model.infer_schema(table)
    max_unparseable = PreprocessConfig.from_dict(model.preprocess_options).max_unparseable
    table, report = clean_training_table(table, schema, user_dropped=model.drop, max_unparseable=max_unparseable)
    notes: list[str] = []
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
    n = table.num_rows
    labels = strata(table, schema)
    seed = int(model.train_options.get("seed", 0))
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
    if schema.task == "regression" and split == "stratified":
        split = "random"
    train_idx, test_idx = split_indices(n, method=split, test_size=test_size, seed=seed, y=labels, time=time_values)
    train_table, test_table = take_rows(table, pa.array(train_idx)), take_rows(table, pa.array(test_idx))
    model.fit(train_table, validation=validation, schema=schema)
    assert model.preprocessor_ is not None and model.schema_ is not None
    x_test = model.preprocessor_.transform(test_table)
    multi = bool(model.schema_.extra_targets)
    y_test = model.preprocessor_.encode_target(test_table)
    task = model.schema_.task or "binary"
    metrics: dict[str, Any] = dict(model.metrics_)
    metrics["test"] = model._score(x_test, y_test)
    metrics["split"] = {"method": split, "test_size": test_size, "seed": seed, "time_column": time_column}
    if baseline:
        x_train = model.preprocessor_.transform(train_table)
        cards = list(model.preprocessor_.cardinalities_)
        list_cards = [int(spec["cardinality"]) for spec in getattr(model.preprocessor_, "list_specs_", [])]
        deep_name = f"{model.model} network"
        if multi:
            names, tasks = target_names(model.schema_), target_tasks(model.schema_)
            y_train = model.preprocessor_.encode_target(train_table)
            bases = fit_baselines(x_train, y_train, tasks, cards, seed=seed, list_cardinalities=list_cards)
            metrics["baseline"] = " / ".join(sorted({b.name for b in bases}))
            metrics["baseline_test"] = {
                name: labelled_metrics(tasks[t], y_test[:, t], bases[t].predict(x_test)) for t, name in enumerate(names)
            }
            verdicts = [
                verdict(tasks[t], deep_name, metrics["test"][name], bases[t].name, metrics["baseline_test"][name])
                for t, name in enumerate(names)
            ]
            metrics["verdict"] = " ".join(f"{name}: {text}" for name, text in zip(names, verdicts, strict=True))
        else:
            y_train = model.preprocessor_.encode_target(train_table)
            base = fit_baseline(x_train, y_train, task, cards, seed=seed, list_cardinalities=list_cards)
            metrics["baseline"] = base.name
            metrics["baseline_test"] = task_metrics(task, y_test, base.predict(x_test))
            metrics["verdict"] = verdict(task, deep_name, metrics["test"], base.name, metrics["baseline_test"])
    model.metrics_ = metrics
    model.report_.update(report)
    model.report_["test_rows"] = len(test_idx)
    model.report_["source"] = source_of(table)
    path = model.save(out) if out is not None else None
    return TrainOutcome(
        model=model, schema=model.schema_, metrics=metrics, out=path, notes=notes, test_table=test_table
    )
