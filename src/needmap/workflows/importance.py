"""Permutation importance: how much a binary target's AUC drops when one input column is shuffled.

Shuffling a column's values across rows keeps its distribution and breaks its link with the outcome
and with the other columns; the model is scored again on the shuffled rows and the drop of the AUC
against the unshuffled rows is that column's importance. A list column (multi-hot set, sequence) is
shuffled as a whole: each row gets another row's whole list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.provenance import source_of
from needmap.errors import ConfigError, DataError, SchemaError
from needmap.features.target import encode_target, head_schema, target_names
from needmap.metrics.compare import weighted_auc
from needmap.predictor import head_columns


def permutation_importance(
    model: Any,
    table: pa.Table,
    *,
    target: str | None = None,
    repeats: int = 1,
    seed: int = 0,
    max_rows: int = 20000,
) -> list[dict[str, Any]]:
    """The AUC drop of a fitted model's binary target (a :class:`needmap.Model` or a Predictor) per feature
    column of its schema.

    Args:
        model: a fitted model with a binary target.
        table: labelled rows (the target column present; rows without a target are left out).
        target: which target's AUC (its scores: the model's output for that target); default the first.
        repeats: shuffles per column; the drop is their mean.
        seed: seed of the row sample and the shuffles.
        max_rows: score at most this many rows (a random sample of them, the same for every column).
    Returns:
        ``[{"feature", "drop", "auc"}]``, largest ``drop`` first: ``drop`` = AUC of the rows as given
        minus the mean AUC with that column shuffled (near 0 or negative: the model does not use it);
        ``auc`` = the mean shuffled AUC. Feature columns missing from ``table`` are left out.
    Raises:
        ConfigError for a target that is not the model's or not binary, or options out of range; SchemaError
        when the target column is absent; DataError when the rows hold one class only.
    """
    schema = getattr(model, "schema_", None)
    if schema is None or model.preprocessor_ is None:
        raise ConfigError("the model is not fitted; expected a trained model (needmap.load or Model.fit).")
    names = target_names(schema)
    name = names[0] if target is None and names else target
    if name not in names:
        raise ConfigError(f"the model has no target {name!r}; expected one of {', '.join(names)}.")
    t = names.index(name)
    if schema.heads[t].task != "binary":
        raise ConfigError(
            f"permutation importance compares AUCs of a binary target; the target '{name}' is {schema.heads[t].task}."
        )
    if repeats < 1 or max_rows < 2:
        raise ConfigError(f"repeats={repeats}, max_rows={max_rows}; expected repeats >= 1 and max_rows >= 2.")
    file = source_of(table)
    if name not in table.column_names:
        raise SchemaError(
            f"the rows have no target column '{name}'; expected labelled rows to measure the AUC on.",
            file=file,
            column=name,
        )
    table = table.filter(pc.is_valid(table.column(name)))
    rng = np.random.default_rng(seed)
    if table.num_rows > max_rows:
        table = table.take(pa.array(np.sort(rng.choice(table.num_rows, size=max_rows, replace=False))))
    y = np.asarray(encode_target(table.column(name), head_schema(schema, name), file=file, first_row=None), np.float64)
    if table.num_rows < 2 or y.min() == y.max():
        raise DataError(
            f"the {table.num_rows} labelled rows hold one class only; expected both classes to measure an AUC.",
            file=file,
            column=name,
        )

    def auc(rows: pa.Table) -> float:
        return weighted_auc(y, head_columns(schema, model.predict_proba(rows))[t])

    base = auc(table)
    result = []
    for name in schema.features:
        if name not in table.column_names:
            continue
        index = table.column_names.index(name)
        column = table.column(name)
        aucs = []
        for _ in range(repeats):
            shuffled = table.set_column(index, name, column.take(pa.array(rng.permutation(table.num_rows))))
            aucs.append(auc(shuffled))
        mean = float(np.mean(aucs))
        result.append({"feature": name, "drop": base - mean, "auc": mean})
    result.sort(key=lambda r: (-r["drop"], r["feature"]))
    return result
