"""Value fields: the exact values of a numeric column as a categorical field, beside its scaled number.

A scaled number lets a network learn smooth functions of a column. Some columns carry their meaning
in particular values instead: amounts fixed by a rule (a tax allowance of exactly 1,902), codes that
look like numbers, indicators that change once a quarter (every row of a period has the same rate).
A network sees such a value only through its scaled number, where it sits between its neighbours;
trees split it out exactly. A value field gives each value its own embedding, so a network can read
particular values as trees do: on census income (Adult), value fields for ``capital_gain`` and
``capital_loss`` turned the MLP from well behind LightGBM to level with it (docs/preprocessing.md; the
measurements in benchmarks/results/HISTORY.md).

With ``PreprocessConfig.value_fields = K``, each numeric column with at most K distinct values in the
training rows that fill less than :data:`MAX_GRID_SHARE` of their grid (:func:`grid_share`: levels or
amounts, not a count range) gets a value field, unless fewer than two of its values are seen
``min_rows`` times (the per-column option ``values: true`` / ``false`` decides for one column). Ids: 0 = a value seen
fewer than ``min_rows`` times in training, or never (out of the vocabulary), 1 = missing, ``2 + i`` =
the i-th kept value in increasing order. By default every value seen in training keeps an id, as
every category does (``min_frequency`` 1): on Adult, pooling the values seen fewer than 10 times into
one id cost test AUC on both targets (benchmarks/results/HISTORY.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from needmap.data.column_values import MAX_GRID_SHARE, grid_share
from needmap.data.values import ParsedNumbers
from needmap.preprocessing import state_checks as checks
from needmap.preprocessing.option_values import DEFAULT_MIN_ROWS
from needmap.preprocessing.vocab import MISSING_ID, OOV_ID, RESERVED_IDS

#: A column chosen by ``value_fields`` whose kept values are fewer than this gets no value field (its
#: report says ``used: false``); the option ``values: true`` makes one anyway.
MIN_KEPT_VALUES = 2


def distinct_values(parsed: ParsedNumbers) -> np.ndarray:
    """The distinct finite values of the column ``[n]``, increasing (NaN, missing or unparseable, left out)."""
    return np.unique(parsed.values[np.isfinite(parsed.values)])


def chooses_value_field(parsed: ParsedNumbers, *, option: bool | None, limit: int | None) -> bool:
    """Whether a numeric column with values ``parsed`` ``[n]`` gets a value field: its ``values`` option
    (``option``) when set, else whether it holds at most ``limit`` distinct values (None: never) that
    fill less than :data:`MAX_GRID_SHARE` of their grid (levels or amounts, not a count range)."""
    if option is not None:
        return bool(option)
    if limit is None:
        return False
    distinct = distinct_values(parsed)
    return 0 < distinct.size <= limit and grid_share(distinct) < MAX_GRID_SHARE


@dataclass
class ValueColumn:
    """What one numeric column's value field learned: the values it keeps.

    Attributes:
        name: the numeric column it reads (its scaled number stays in ``FeatureBatch.numeric``).
        min_rows: training rows a value needs to keep an id of its own.
        values: the kept values, strictly increasing, in the column's own unit.
    """

    name: str
    min_rows: int
    values: list[float] = field(default_factory=list)

    kind: ClassVar[str] = "values"

    @property
    def cardinality(self) -> int:
        """Number of ids: the kept values plus the two reserved ids (out of vocabulary, missing)."""
        return len(self.values) + RESERVED_IDS

    @classmethod
    def fit(cls, name: str, parsed: ParsedNumbers, *, min_rows: int = DEFAULT_MIN_ROWS) -> tuple[ValueColumn, dict]:
        """Keep the values seen at least ``min_rows`` times in the training values ``[n]`` (NaN = missing).

        Returns the column and its report: ``value_field`` with ``values`` (kept), ``rare_values``
        (distinct values seen fewer times) and ``rare_rows`` (training rows that hold them).
        """
        observed = parsed.values[np.isfinite(parsed.values)]
        distinct, counts = np.unique(observed, return_counts=True)
        kept = counts >= min_rows
        column = cls(name, int(min_rows), [float(v) for v in distinct[kept]])
        report = {
            "values": len(column.values),
            "rare_values": int((~kept).sum()),
            "rare_rows": int(counts[~kept].sum()),
            "min_rows": int(min_rows),
        }
        return column, report

    def encode_values(self, values: np.ndarray) -> np.ndarray:
        """Ids int64 ``[n]`` of float values ``[n]``: ``2 + i`` for the i-th kept value, 1 where NaN, else 0."""
        kept = np.asarray(self.values, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        at = np.searchsorted(kept, values)
        inside = at < kept.size
        found = np.zeros(values.shape, dtype=bool)
        found[inside] = kept[at[inside]] == values[inside]
        ids = np.where(found, at + RESERVED_IDS, OOV_ID).astype(np.int64)
        ids[np.isnan(values)] = MISSING_ID
        return ids

    def id_map(self) -> dict[float, int]:
        """Kept value -> id, as :meth:`encode_values` gives them (for one row at a time; a value not in it
        has id 0, a missing one 1)."""
        return {value: i for i, value in enumerate(self.values, start=RESERVED_IDS)}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "min_rows": self.min_rows, "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueColumn:
        """The value field of :meth:`to_dict`'s output; ValueError when its values are not finite and strictly
        increasing or ``min_rows`` is not a positive whole number."""
        name = checks.text(data, "name", "a value field")
        what = f"the value field of {name!r}"
        values = checks.numbers(data, "values", what, strictly=True)
        return cls(name, checks.whole(data, "min_rows", what, 1, 2**62), values)
