"""Permutation importance: how much a target's quality measure worsens when one input column is shuffled.

Shuffling a column's values across rows keeps its distribution and breaks its link with the outcome
and with the other columns; the model is scored again on the shuffled rows and the loss of quality
against the unshuffled rows is that column's importance: the drop of the AUC for a binary target, the
rise of the RMSE for a regression target, the rise of the log loss for a multiclass target
(:data:`QUALITY`). A list column (multi-hot set, sequence) is shuffled as a whole: each row gets another
row's whole list.

A fitted needmap model encodes the rows once: every encoded value is a function of one input column in its
row (:meth:`needmap.preprocessing.preprocess.Preprocessor.column_positions`), so shuffling a column's rows before
encoding and shuffling its encoded values are the same, and only the scoring is repeated per column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.provenance import source_of
from needmap.errors import ConfigError, DataError, SchemaError
from needmap.metrics.classification import multiclass_metrics
from needmap.metrics.compare import weighted_auc
from needmap.metrics.ltv import normalized_gini
from needmap.predictor import Predictor, head_columns
from needmap.preprocessing.target import encode_target, head_schema, target_names
from needmap.runtime.arrow_memory import system_arrow_pool

#: Per task, the measure whose loss is a column's importance and whether higher is better.
QUALITY: dict[str, tuple[str, bool]] = {"binary": ("auc", True), "regression": ("rmse", False),
                                        "multiclass": ("logloss", False),
                                        "ltv": ("normalized_gini", True)}  # fmt: skip


def _quality(task: str, y: np.ndarray, out: np.ndarray) -> float:
    """The task's :data:`QUALITY` measure of outputs ``out`` against encoded targets ``y`` ``[n]``."""
    if task == "binary":
        return weighted_auc(y, out)
    if task == "ltv":  # the expected spend's ranking (column 0 of the head's scores); 0 where undefined
        values = np.asarray(out, dtype=np.float64)
        return normalized_gini(y, values[:, 0] if values.ndim == 2 else values) or 0.0
    if task == "regression":
        return float(np.sqrt(np.mean((np.asarray(out, np.float64) - y) ** 2)))
    return float(multiclass_metrics(y.astype(np.int64), out)["logloss"])


#: Rows a permutation importance scores at most (a seeded random sample): each column costs a scoring of
#: these rows by every model the answer uses, and this many rows rank the columns steadily.
IMPORTANCE_ROWS = 10_000


@dataclass
class Importance:
    """A permutation importance: ``columns`` as :func:`permutation_importance` returns them, and ``rows``, how
    many labelled rows they were measured on (at most its ``max_rows``, a random sample of them)."""

    columns: list[dict[str, Any]]
    rows: int


def permutation_importance(
    model: Any,
    table: pa.Table,
    *,
    target: str | None = None,
    repeats: int = 1,
    seed: int = 0,
    max_rows: int = IMPORTANCE_ROWS,
) -> list[dict[str, Any]]:
    """The loss of quality of a fitted model's target (a :class:`needmap.Model` or a Predictor) per feature
    column of its schema, when that column is shuffled: the AUC drop (binary), the RMSE rise (regression) or
    the log loss rise (multiclass).

    Args:
        model: a fitted model.
        table: labelled rows (the target column present; rows without a target are left out).
        target: which target (its outputs: the model's output for that target); default the first.
        repeats: shuffles per column; the drop is their mean.
        seed: seed of the row sample and the shuffles.
        max_rows: score at most this many rows (a random sample of them, the same for every column).
    Returns:
        ``[{"feature", "drop", <measure>}]``, largest ``drop`` first: ``drop`` = the loss of quality with
        that column shuffled, in the measure's units (the AUC of the rows as given minus the mean shuffled
        AUC; the mean shuffled RMSE or log loss minus that of the rows as given): near 0 or negative, the
        model does not use it; ``auc``, ``rmse`` or ``logloss`` = the mean shuffled measure. Feature columns
        missing from ``table`` are left out. :func:`measure_importance` also says how many rows were scored.
    Raises:
        ConfigError for a target that is not the model's, or options out of range; SchemaError when the
        target column is absent; DataError when a binary target's rows hold one class only.
    """
    return measure_importance(model, table, target=target, repeats=repeats, seed=seed, max_rows=max_rows).columns


def measure_importance(
    model: Any,
    table: pa.Table,
    *,
    target: str | None = None,
    repeats: int = 1,
    seed: int = 0,
    max_rows: int = IMPORTANCE_ROWS,
) -> Importance:
    """:func:`permutation_importance` (the same arguments and checks) with the number of rows it scored."""
    schema = getattr(model, "schema_", None)
    if schema is None or model.preprocessor_ is None:
        raise ConfigError("the model is not fitted; expected a trained model (needmap.load or Model.fit).")
    names = target_names(schema)
    name = names[0] if target is None and names else target
    if name not in names:
        raise ConfigError(f"the model has no target {name!r}; expected one of {', '.join(names)}.")
    t = names.index(name)
    task = str(schema.heads[t].task)
    measure, higher_better = QUALITY[task]
    if repeats < 1 or max_rows < 2:
        raise ConfigError(f"repeats={repeats}, max_rows={max_rows}; expected repeats >= 1 and max_rows >= 2.")
    file = source_of(table)
    if name not in table.column_names:
        raise SchemaError(
            f"the rows have no target column '{name}'; expected labelled rows to measure the {measure} on.",
            file=file,
            column=name,
        )
    # the labelled rows' positions, and a sample of them: only the rows measured on are copied
    labelled = table.column(name)
    positions = np.arange(table.num_rows)
    if labelled.null_count:
        positions = np.flatnonzero(np.asarray(pc.is_valid(labelled).to_numpy(zero_copy_only=False), dtype=bool))
    rng = np.random.default_rng(seed)
    if len(positions) > max_rows:
        positions = positions[np.sort(rng.choice(len(positions), size=max_rows, replace=False))]
    if len(positions) < table.num_rows:
        table = table.take(pa.array(positions))
    y = np.asarray(encode_target(table.column(name), head_schema(schema, name), file=file, first_row=None), np.float64)
    if table.num_rows < 2:
        raise DataError(
            f"{table.num_rows} labelled rows; expected at least 2 to measure the {measure} on.", file=file, column=name
        )
    if task == "binary" and y.min() == y.max():
        raise DataError(
            f"the {table.num_rows} labelled rows hold one class only; expected both classes to measure an AUC.",
            file=file,
            column=name,
        )

    def quality(out: np.ndarray) -> float:
        return _quality(task, y, head_columns(schema, out)[t])

    predictor = getattr(model, "predictor_", model)
    if isinstance(predictor, Predictor):
        outputs = _encoded_outputs(predictor, table, schema.features, repeats, rng)
    else:  # a stand-in that scores tables only
        outputs = _table_outputs(model, table, schema.features, repeats, rng)
    base = quality(next(outputs)[1])
    shuffled: dict[str, list[float]] = {}
    for feature, out in outputs:
        shuffled.setdefault(feature, []).append(quality(out))
    result = []
    for feature, values in shuffled.items():
        mean = float(np.mean(values))
        result.append({"feature": feature, "drop": base - mean if higher_better else mean - base, measure: mean})
    result.sort(key=lambda r: (-r["drop"], r["feature"]))
    return Importance(result, table.num_rows)


def _table_outputs(
    model: Any, table: pa.Table, features: list[str], repeats: int, rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray]]:
    """The model's outputs on ``table`` as given (named ""), then on it with each feature column present
    shuffled, ``repeats`` times per column: the table is encoded again for each."""
    yield "", model.predict_proba(table)
    for name in features:
        if name not in table.column_names:
            continue
        index = table.column_names.index(name)
        column = table.column(name)
        for _ in range(repeats):
            order = pa.array(rng.permutation(table.num_rows))
            yield name, model.predict_proba(table.set_column(index, name, column.take(order)))


def _encoded_outputs(
    predictor: Predictor, table: pa.Table, features: list[str], repeats: int, rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray]]:
    """:func:`_table_outputs` of a fitted model from one encoding of ``table``: a shuffled column's encoded
    values are shuffled in place of the column (the same permutations of the same ``rng``, the same outputs)."""
    with system_arrow_pool():
        x = predictor.preprocessor_.transform(table)
    yield "", predictor.score(x)
    for name in features:
        if name not in table.column_names:
            continue
        positions = predictor.preprocessor_.column_positions(name)
        for _ in range(repeats):
            yield name, predictor.score(x.with_rows_of(rng.permutation(table.num_rows), *positions))
