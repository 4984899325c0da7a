"""Permutation importance: how much a binary model's AUC drops when one input column is shuffled.

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
from needmap.metrics.compare import weighted_auc


def permutation_importance(
    model: Any, table: pa.Table, *, repeats: int = 1, seed: int = 0, max_rows: int = 20000
) -> list[dict[str, Any]]:
    """The AUC drop of a fitted binary ``model`` (a :class:`needmap.Model`) per feature column of its schema.

    Args:
        model: a fitted binary model (``predict_proba`` gives P(positive) ``[n]``).
        table: labelled rows (the target column present; rows without a target are left out).
        repeats: shuffles per column; the drop is their mean.
        seed: seed of the row sample and the shuffles.
        max_rows: score at most this many rows (a random sample of them, the same for every column).
    Returns:
        ``[{"feature", "drop", "auc"}]``, largest ``drop`` first: ``drop`` = AUC of the rows as given
        minus the mean AUC with that column shuffled (near 0 or negative: the model does not use it);
        ``auc`` = the mean shuffled AUC. Feature columns missing from ``table`` are left out.
    Raises:
        ConfigError for a model that is not binary, or options out of range; SchemaError when the
        target column is absent; DataError when the rows hold one class only.
    """
    schema = getattr(model, "schema_", None)
    if schema is None or model.preprocessor_ is None:
        raise ConfigError("the model is not fitted; expected a trained model (needmap.load or Model.fit).")
    if schema.task != "binary" or len(schema.heads) > 1:
        raise ConfigError(
            f"permutation importance compares AUCs of one binary target; the model's task is {schema.task!r}"
            f"{' with several targets' if len(schema.heads) > 1 else ''}."
        )
    if repeats < 1 or max_rows < 2:
        raise ConfigError(f"repeats={repeats}, max_rows={max_rows}; expected repeats >= 1 and max_rows >= 2.")
    file = source_of(table)
    if schema.target not in table.column_names:
        raise SchemaError(
            f"the rows have no target column '{schema.target}'; expected labelled rows to measure the AUC on.",
            file=file,
            column=schema.target,
        )
    table = table.filter(pc.is_valid(table.column(schema.target)))
    rng = np.random.default_rng(seed)
    if table.num_rows > max_rows:
        table = table.take(pa.array(np.sort(rng.choice(table.num_rows, size=max_rows, replace=False))))
    y = np.asarray(model.preprocessor_.encode_target(table), dtype=np.float64)
    if table.num_rows < 2 or y.min() == y.max():
        raise DataError(
            f"the {table.num_rows} labelled rows hold one class only; expected both classes to measure an AUC.",
            file=file,
            column=schema.target,
        )
    base = weighted_auc(y, model.predict_proba(table))
    result = []
    for name in schema.features:
        if name not in table.column_names:
            continue
        index = table.column_names.index(name)
        column = table.column(name)
        aucs = []
        for _ in range(repeats):
            shuffled = table.set_column(index, name, column.take(pa.array(rng.permutation(table.num_rows))))
            aucs.append(weighted_auc(y, model.predict_proba(shuffled)))
        mean = float(np.mean(aucs))
        result.append({"feature": name, "drop": base - mean, "auc": mean})
    result.sort(key=lambda r: (-r["drop"], r["feature"]))
    return result
