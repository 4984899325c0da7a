"""Numeric bucketization: a numeric column turned into quantile-bucket ids (a categorical field).

With ``bucketize = K`` the inner edges are the training quantiles at levels ``1/K, ..., (K-1)/K``
(linear interpolation), duplicates removed, so a column with few distinct values gets fewer
buckets. A value ``x`` falls in bucket ``b = #(edges <= x)`` (``0 .. len(edges)``) and gets id
``2 + b``; a missing or unparseable value gets id 1 (id 0, out-of-vocabulary, is never produced).
The column then feeds an embedding instead of a scaled number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from needmap.data.values import ParsedNumbers
from needmap.preprocessing import state_checks as checks
from needmap.preprocessing.vocab import MISSING_ID, RESERVED_IDS


@dataclass
class BucketColumn:
    """What one bucketized numeric column learned: its bucket edges.

    Attributes:
        name: column name.
        buckets: number of buckets asked for (K).
        edges: inner bucket edges, strictly increasing, in the column's own unit (at most K - 1).
    """

    name: str
    buckets: int
    edges: list[float] = field(default_factory=list)

    kind: ClassVar[str] = "buckets"

    @property
    def cardinality(self) -> int:
        """Number of ids: ``len(edges) + 1`` buckets plus the two reserved ids (OOV, unused, and missing)."""
        return len(self.edges) + 1 + RESERVED_IDS

    @classmethod
    def fit(cls, name: str, parsed: ParsedNumbers, *, buckets: int) -> tuple[BucketColumn, dict[str, Any]]:
        """Learn the edges from the training values ``[n]`` (NaN = missing); returns the column and its report.

        The report has ``role`` "numeric", ``missing``, ``unparseable``, ``bucketize`` (K),
        ``edges`` and ``bucket_rows`` (training rows per bucket, ``len(edges) + 1`` counts).
        """
        observed = parsed.values[np.isfinite(parsed.values)]
        edges: list[float] = []
        if observed.size:
            levels = np.arange(1, buckets) / buckets
            edges = [float(e) for e in np.unique(np.quantile(observed, levels))]
        column = cls(name, int(buckets), edges)
        ids = column.encode_values(parsed.values)
        rows = np.bincount(ids[ids >= RESERVED_IDS] - RESERVED_IDS, minlength=len(edges) + 1)
        report = {
            "role": "numeric",
            "missing": int(parsed.missing.sum()),
            "unparseable": int(parsed.unparseable.sum()),
            "bucketize": column.buckets,
            "edges": list(edges),
            "bucket_rows": [int(r) for r in rows],
        }
        return column, report

    def encode_values(self, values: np.ndarray) -> np.ndarray:
        """Ids int64 ``[n]`` of float values ``[n]``: ``2 + bucket``, 1 where the value is NaN."""
        edges = np.asarray(self.edges, dtype=np.float64)
        ids = np.searchsorted(edges, values, side="right").astype(np.int64) + RESERVED_IDS
        ids[np.isnan(values)] = MISSING_ID
        return ids

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "buckets": self.buckets, "edges": list(self.edges)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BucketColumn:
        """The bucketized column of :meth:`to_dict`'s output; ValueError when its edges are not finite and
        strictly increasing, or more than ``buckets - 1``."""
        name = checks.text(data, "name", "a bucketized column")
        what = f"bucketized column {name!r}"
        buckets = checks.whole(data, "buckets", what, 1, checks.MAX_IDS)
        edges = checks.numbers(data, "edges", what, strictly=True)
        if len(edges) > buckets - 1:
            raise ValueError(f"{what}: {len(edges)} 'edges' for {buckets} buckets; expected at most {buckets - 1}")
        return cls(name, buckets, edges)
