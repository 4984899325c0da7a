"""Reason codes: the columns that raise and that lower each customer's score, in the words of the data.

For each row, the ``top`` columns of largest positive attribution (they raise the score, ranked 1..top) and
the ``top`` of largest negative attribution (they lower it, ranked 1..top of their own), each with the
customer's value and how it compares with the population: the share of the population below the value for
a number ("higher than 91% of customers"), the share with the same value for a category ("as 36% of
customers"). The population is the ``population`` rows (by default the rows explained). One row of the
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


def _text(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class _Population:
    """Where a value stands among the population's values of one column."""

    def __init__(self, values: list[Any]) -> None:
        present = [v for v in values if v is not None]
        self.numeric = bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
        self.n = len(values)
        if self.numeric:
            self.sorted = np.sort(np.asarray(present, dtype=np.float64))
        else:
            keys, counts = np.unique(np.asarray([_text(v) for v in values], dtype=object), return_counts=True)
            self.shares = dict(zip(keys.tolist(), (counts / max(self.n, 1)).tolist(), strict=True))

    def compare(self, value: Any) -> str:
        if value is None:
            return ""
        if self.numeric and isinstance(value, (int, float)) and len(self.sorted):
            below = np.searchsorted(self.sorted, float(value), side="left") / len(self.sorted)
            above = 1.0 - np.searchsorted(self.sorted, float(value), side="right") / len(self.sorted)
            if below >= above:
                return f"higher than {below:.0%} of customers"
            return f"lower than {above:.0%} of customers"
        share = self.shares.get(_text(value), 0.0) if not self.numeric else 0.0
        return f"as {share:.0%} of customers"


def reason_table(
    found: Attributions,
    table: pa.Table,
    *,
    ids: Sequence[str] = (),
    top: int = 5,
    population: pa.Table | None = None,
    outcome: str = "score",
) -> pa.Table:
    """The reason codes of every row of ``table`` from its attributions ``found`` (see the module)."""
    population = table if population is None else population
    stats = {c: _Population(population.column(c).to_pylist()) for c in found.columns if c in population.column_names}
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
