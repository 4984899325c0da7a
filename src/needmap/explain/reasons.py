"""Reason codes: the columns that raise and that lower each customer's score, in the words of the data.

For each row, the ``top`` columns of largest positive attribution (they raise the score, ranked 1..top) and
the ``top`` of largest negative attribution (they lower it, ranked 1..top of their own), each with the
customer's value and how it compares with the population: the share of the population below the value for
a number ("higher than 91% of customers"), the share with the same value for a category ("as 36% of
customers"). The population is the ``population`` rows, or a model's saved population summary
(:mod:`needmap.explain.population`), by default the rows explained. One row of the
result per reason:

    <id columns> | rank | effect ("raises" / "lowers") | column | value | compared | attribution | reason

``reason`` is the sentence a marketer reads: ``"euribor3m 1.3, lower than 28% of customers: raises the
score"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.explain.attributions import Attributions
from needmap.explain.population import Population, column_stats


def _text(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def reason_table(
    found: Attributions,
    table: pa.Table,
    *,
    ids: Sequence[str] = (),
    top: int = 5,
    population: pa.Table | Population | None = None,
    outcome: str = "score",
) -> pa.Table:
    """The reason codes of every row of ``table`` from its attributions ``found`` (see the module). ``population``:
    rows, or a model's saved :class:`~needmap.explain.population.Population` (default: ``table``)."""
    population = table if population is None else population
    if isinstance(population, Population):
        stats = population.stats(list(found.columns))
    else:
        stats = {
            c: column_stats(population.column(c).to_pylist()) for c in found.columns if c in population.column_names
        }
    values = {c: table.column(c).to_pylist() for c in found.columns if c in table.column_names}
    id_values = {name: table.column(name) for name in ids if name in table.column_names}
    rows_at, rank, effect, column, value, compared, attribution, reason = [], [], [], [], [], [], [], []
    for r in range(len(found.values)):
        a = found.values[r]
        order = np.argsort(-a, kind="stable")
        raising = [j for j in order if a[j] > 0][:top]
        lowering = [j for j in order[::-1] if a[j] < 0][:top]
        for k, j in [*enumerate(raising), *enumerate(lowering)]:
            name = found.columns[j]
            v = values[name][r] if name in values else None
            shown = _text(v) if not isinstance(v, list) else f"{len(v)} items"
            where = stats[name].compare(v) if name in stats and not isinstance(v, list) else ""
            word = "raises" if a[j] > 0 else "lowers"
            rows_at.append(r)
            rank.append(k + 1)
            effect.append(word)
            column.append(name)
            value.append(shown)
            compared.append(where)
            attribution.append(float(a[j]))
            reason.append(f"{name} {shown}" + (f", {where}" if where else "") + f": {word} the {outcome}")
    take = pa.array(np.asarray(rows_at, dtype=np.int64))
    columns: dict[str, Any] = {name: col.take(take) for name, col in id_values.items()}
    if not id_values:
        columns["row"] = pa.array(np.asarray(rows_at, dtype=np.int64) + 1)
    columns.update({
        "rank": pa.array(rank, type=pa.int32()), "effect": pa.array(effect, type=pa.string()),
        "column": pa.array(column, type=pa.string()), "value": pa.array(value, type=pa.string()),
        "compared": pa.array(compared, type=pa.string()), "attribution": pa.array(attribution, type=pa.float64()),
        "reason": pa.array(reason, type=pa.string()),
    })  # fmt: skip
    return pa.table(columns)
