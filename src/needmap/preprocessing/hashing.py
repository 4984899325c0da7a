"""Hashed categoricals: ids from a stable hash of the value instead of a learned vocabulary.

For a column with ``hash_buckets = N`` the id of a value is ``2 + fnv1a_64(utf8(value)) mod N``
and id 1 marks a missing value (id 0, out-of-vocabulary, is never produced): ``N + 2`` ids in all.
Values are named by :func:`needmap.data.values.category_strings` first, so ``7``, ``7.0`` and
``"7"`` hash alike.

The hash is 64-bit FNV-1a over the UTF-8 bytes (:mod:`needmap.preprocessing.fnv`): a published, fixed
function, so the same value gets the same id in every process, on every machine and in every later
version of needmap (Python's ``hash()`` is salted per process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.preprocessing import state_checks as checks
from needmap.preprocessing.fnv import fnv1a_64
from needmap.preprocessing.vocab import MISSING_ID, RESERVED_IDS


def hash_ids(strings: pa.Array | pa.ChunkedArray, buckets: int) -> np.ndarray:
    """Ids int64 ``[n]``: ``2 + fnv1a_64(value) mod buckets``, and 1 for a null."""
    ids = (fnv1a_64(strings) % np.uint64(buckets)).astype(np.int64) + RESERVED_IDS
    nulls = strings.is_null()
    if strings.null_count:
        ids[np.asarray(_to_numpy(nulls), dtype=bool)] = MISSING_ID
    return ids


def _to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.to_numpy(zero_copy_only=False)


@dataclass
class HashedColumn:
    """A categorical column encoded by hashing into ``buckets`` buckets (see the module docstring).

    Attributes:
        name: column name.
        buckets: number of hash buckets N; ids lie in ``[1, N + 2)``.
    """

    name: str
    buckets: int

    kind: ClassVar[str] = "hashed"

    @property
    def cardinality(self) -> int:
        """Number of ids: the buckets plus the two reserved ids (OOV, unused, and missing)."""
        return self.buckets + RESERVED_IDS

    @classmethod
    def fit(cls, name: str, strings: pa.ChunkedArray, *, buckets: int) -> tuple[HashedColumn, dict[str, Any]]:
        """A hashed column and its fit report from the training strings ``[n]`` (nulls = missing).

        Nothing is learned; the report counts ``missing`` rows, ``distinct`` training values and
        ``colliding_values`` (distinct values minus the distinct buckets they fill).
        """
        column = cls(name, int(buckets))
        distinct = pc.unique(pc.drop_null(strings))
        used = len(np.unique(column.encode(distinct)[0])) if len(distinct) else 0
        report = {
            "role": "categorical",
            "missing": int(strings.null_count),
            "hash_buckets": column.buckets,
            "distinct": len(distinct),
            "colliding_values": len(distinct) - used,
        }
        return column, report

    def encode(self, strings: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
        """Ids int64 ``[n]`` of category strings ``[n]``, the count of missing rows, and 0 (no OOV)."""
        return hash_ids(strings, self.buckets), int(strings.null_count), 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "buckets": self.buckets}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HashedColumn:
        """The hashed column of :meth:`to_dict`'s output; ValueError when ``buckets`` is not a whole number from
        1 to :data:`~needmap.preprocessing.state_checks.MAX_IDS`."""
        name = checks.text(data, "name", "a hashed column")
        return cls(name, checks.whole(data, "buckets", f"hashed column {name!r}", 1, checks.MAX_IDS))
