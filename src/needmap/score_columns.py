"""The columns of a scores table: the rows' ids as they came in, then the model's outputs, under names that
never hide an id.

Each head gives ``score`` (binary), ``predicted`` and ``proba_<class>`` (multiclass), ``expected_spend``,
``buy_probability`` and ``spend_if_bought`` (lifetime value: the expected spend over the horizon, the chance
to buy in it and the expected spend of a buyer) or ``prediction`` (other tasks); with several heads each name ends
in ``_<target>``. The id columns come first, and so do
the categorical inputs named like an identifier (``customer_id``). An id column keeps its name and its
values whatever they are (the scores join back on it); when an output would take the name of an id column
(an id column called ``score``), the output is written as ``needmap_<name>`` instead, and
:func:`scores_notes` says so. Rows without the model's id columns are scored all the same, in their
order, and :func:`scores_notes` says that the ids are missing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.data.infer import looks_like_identifier
from needmap.schema import Schema

#: The output columns of a lifetime-value head, in the order of its scores.
LTV_COLUMNS = ("expected_spend", "buy_probability", "spend_if_bought")
#: Put before an output's name when an id column of the rows has that name.
OUTPUT_PREFIX = "needmap_"


def head_columns(schema: Schema, out: np.ndarray) -> list[np.ndarray]:
    """The outputs ``out`` of ``Predictor.score`` cut per head: ``[n]`` for a head of one output,
    ``[n, K]`` for a head of K (a multiclass target)."""
    values = np.asarray(out).reshape(len(out), -1)
    parts, start = [], 0
    for head in schema.heads:
        part = values[:, start : start + head.n_outputs]
        parts.append(part[:, 0] if head.n_outputs == 1 else part)
        start += head.n_outputs
    return parts


def _outputs(schema: Schema, out: np.ndarray | None) -> Iterator[tuple[str, Any]]:
    """Each output column's name and (with ``out``) its values, in order."""
    parts = head_columns(schema, out) if out is not None else [None] * len(schema.heads)
    for head, values in zip(schema.heads, parts, strict=True):
        suffix = f"_{head.name}" if len(schema.heads) > 1 else ""
        if head.task == "binary":
            yield f"score{suffix}", None if values is None else pa.array(values.astype(np.float64))
        elif head.task == "multiclass":
            classes = np.asarray(head.classes, dtype=object)
            chosen = None if values is None else pa.array(classes[values.argmax(axis=1)].tolist(), type=pa.string())
            yield f"predicted{suffix}", chosen
            for k, name in enumerate(head.classes):
                yield f"proba{suffix}_{name}", None if values is None else pa.array(values[:, k].astype(np.float64))
        elif head.task == "ltv":
            for k, label in enumerate(LTV_COLUMNS):
                yield f"{label}{suffix}", None if values is None else pa.array(values[:, k].astype(np.float64))
        else:
            yield f"prediction{suffix}", None if values is None else pa.array(values.astype(np.float64))


def _free(name: str, ids: Collection[str]) -> str:
    """``name``, or ``needmap_<name>`` (prefixed again as often as needed) when an id column has it."""
    while name in ids:
        name = OUTPUT_PREFIX + name
    return name


def key_columns(schema: Schema) -> list[str]:
    """The columns a scores table carries to join back on: the id columns, then the categorical inputs named
    like an identifier (``customer_id`` of a purchase log, whose values repeat: an input of the model and
    the key its scores join on)."""
    return [*schema.ids, *(name for name in schema.categorical if looks_like_identifier(name))]


def present_ids(schema: Schema, names: Collection[str]) -> list[str]:
    """The model's key columns (:func:`key_columns`) that the rows, with columns ``names``, have."""
    return [name for name in key_columns(schema) if name in names]


def scores_table(table: pa.Table, schema: Schema, out: np.ndarray) -> pa.Table:
    """Id columns of ``table`` followed by the output column(s) for ``out`` (see the module docstring)."""
    ids = present_ids(schema, table.column_names)
    columns: dict[str, Any] = {name: table.column(name) for name in ids}
    for name, values in _outputs(schema, out):
        columns[_free(name, ids)] = values
    return pa.table(columns)


def scores_notes(schema: Schema, names: Collection[str]) -> list[str]:
    """Sentences about the scores of rows with columns ``names``: id columns of the model that they lack
    (scores without ids), outputs renamed because an id column has their name."""
    notes = []
    ids = present_ids(schema, names)
    absent = [name for name in schema.ids if name not in ids]
    if absent:
        shown = ", ".join(f"'{name}'" for name in absent)
        notes.append(
            f"the rows have no id column {shown} (the model's id{'s' if len(absent) > 1 else ''}): the scores "
            "are in the order of the rows, without it; add the column to join the scores back."
        )
    for name, _ in _outputs(schema, None):
        if name in ids:
            notes.append(
                f"an id column of the rows is named '{name}': it keeps its name and values, the model's "
                f"'{name}' is written as '{_free(name, ids)}'."
            )
    return notes
