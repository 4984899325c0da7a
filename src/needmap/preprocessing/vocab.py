"""Categorical feature columns: category strings and the vocabulary that maps them to ids.

Ids: 0 = out-of-vocabulary (unseen in training, or folded as rare), 1 = missing, 2.. = the
vocabulary in descending training frequency, ties broken by the category string.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.values import MISSING_TOKENS, to_numpy
from needmap.preprocessing import state_checks as checks
from needmap.preprocessing.lookup import SortedHashLookup
from needmap.preprocessing.string_ids import StringIds


class IdMap(Protocol):
    """Category string -> id: a dict, or a :class:`~needmap.preprocessing.string_ids.StringIds`."""

    def get(self, key: str, default: int, /) -> int: ...


OOV_ID = 0
MISSING_ID = 1
RESERVED_IDS = 2

#: Inputs of at most this many rows are encoded by a Python dict built once per vocabulary (online
#: scoring of one row at a time); larger ones by Arrow's ``index_in``, which builds a hash table of the
#: whole vocabulary on each call: cheap against 10^5 rows, most of the time of a one-row call.
SMALL_INPUT_ROWS = 64
#: Vocabularies of at least this many values look larger inputs up by sorted hashes built once
#: (:class:`~needmap.preprocessing.lookup.SortedHashLookup`) instead of ``index_in``, which hashes the whole
#: vocabulary on every call.
HASHED_LOOKUP_MIN_VALUES = 20_000

#: One-row lookups (:meth:`Vocabulary.id_map`) of a vocabulary with more values than this go through a
#: :class:`~needmap.preprocessing.string_ids.StringIds` (12 bytes a value) instead of a Python dict
#: (about 130 bytes a value).
ID_DICT_MAX_VALUES = 100_000


class Vocabulary:
    """The categories of one column kept from the training rows, most frequent first.

    Attributes:
        name: column name.
        values: category strings (a list made on each access; the vocabulary keeps them as one Arrow
            string array, a tenth of the memory of Python strings);
            ``values[k]`` has id ``k + 2``.
    """

    kind: ClassVar[str] = "vocabulary"

    def __init__(self, name: str, values: Sequence[str] | pa.Array | pa.ChunkedArray) -> None:
        self.name = name
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if isinstance(values, pa.Array):
            self._lookup = values if values.type == pa.string() else values.cast(pa.string())
        else:
            self._lookup = pa.array([str(v) for v in values], type=pa.string())
        self._ids: IdMap | None = None
        self._hashed: SortedHashLookup | bool | None = False

    @property
    def values(self) -> list[str]:
        """The category strings ``[cardinality - 2]`` as a new list."""
        return self._lookup.to_pylist()

    def __len__(self) -> int:
        return len(self._lookup)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.name == other.name and self._lookup.equals(other._lookup)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocabulary(name={self.name!r}, {len(self._lookup)} values)"

    @property
    def cardinality(self) -> int:
        """Number of ids, the two reserved ones included."""
        return len(self._lookup) + RESERVED_IDS

    @classmethod
    def fit(
        cls, name: str, strings: pa.ChunkedArray, *, min_frequency: int, max_categories: int | None
    ) -> tuple[Vocabulary, dict[str, Any]]:
        """Count categories in the training strings ``[n]`` and keep the frequent ones.

        A category is kept when it appears at least ``min_frequency`` times and is among the
        ``max_categories`` most frequent (all when None). Returns the vocabulary and its fit report.
        """
        counts = pc.value_counts(strings)
        table = pa.table({"value": counts.field("values"), "count": counts.field("counts")})
        table = table.filter(pc.is_valid(table["value"]))
        table = table.sort_by([("count", "descending"), ("value", "ascending")])
        keep = pc.greater_equal(table["count"], min_frequency)
        kept = table.filter(keep)
        if max_categories is not None:
            kept = kept.slice(0, max_categories)
        folded_rows = int(pc.sum(table["count"]).as_py() or 0) - int(pc.sum(kept["count"]).as_py() or 0)
        vocabulary = cls(name, kept["value"])
        report = {
            "role": "categorical",
            "missing": int(strings.null_count),
            "vocabulary_size": kept.num_rows,
            "folded_categories": table.num_rows - kept.num_rows,
            "folded_rows": folded_rows,
        }
        return vocabulary, report

    def encode(self, strings: pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
        """Ids int64 ``[n]`` of category strings ``[n]``, with the counts of missing and OOV rows."""
        if len(strings) <= SMALL_INPUT_ROWS:
            return self._encode_small(strings)
        hashed = self._hashed_lookup()
        if hashed is not None:
            out = hashed.index(strings) + RESERVED_IDS  # absent: -1 + 2 = OOV_ID + 1, fixed below
            out[out == RESERVED_IDS - 1] = OOV_ID
            out[np.asarray(pc.is_null(strings).to_numpy(zero_copy_only=False), dtype=bool)] = MISSING_ID
        else:
            index = pc.index_in(strings, value_set=self._lookup)
            ids = pc.add(pc.fill_null(pc.cast(index, pa.int64()), OOV_ID - RESERVED_IDS), RESERVED_IDS)
            ids = pc.if_else(pc.is_null(strings), MISSING_ID, ids)
            out = np.asarray(to_numpy(ids), dtype=np.int64)
        return _missing_tokens_missing(out, strings)

    def _hashed_lookup(self) -> SortedHashLookup | None:
        """The sorted-hash lookup of a large vocabulary, built on first use; None for a small one (or one
        with a hash collision), which ``index_in`` serves."""
        if self._hashed is False:
            self._hashed = None
            if len(self._lookup) >= HASHED_LOOKUP_MIN_VALUES:
                try:
                    self._hashed = SortedHashLookup(self._lookup)
                except ValueError:
                    self._hashed = None
        return self._hashed  # type: ignore[return-value]

    def id_map(self) -> IdMap:
        """Category string -> id (``.get(text, default)``), built on the first call and kept: online
        scoring looks ids up here. A dict up to :data:`ID_DICT_MAX_VALUES` values, above it a
        :class:`~needmap.preprocessing.string_ids.StringIds` (unless two values share its hash)."""
        if self._ids is None:
            if len(self._lookup) > ID_DICT_MAX_VALUES:
                with contextlib.suppress(ValueError):  # two values share a hash: a dict below
                    self._ids = StringIds(self._lookup, RESERVED_IDS)
            if self._ids is None:
                self._ids = {value: k + RESERVED_IDS for k, value in enumerate(self._lookup.to_pylist())}
        return self._ids

    def _encode_small(self, strings: pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
        """:meth:`encode` of a few rows by dict lookups."""
        ids = self.id_map()
        values = strings.to_pylist()
        out = np.fromiter(
            (MISSING_ID if v is None else ids.get(v, OOV_ID) for v in values), dtype=np.int64, count=len(values)
        )
        return _missing_tokens_missing(out, strings)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "values": self._lookup.to_pylist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        """The vocabulary of :meth:`to_dict`'s output; ValueError when a value is not a string or repeats."""
        name = checks.text(data, "name", "a vocabulary")
        return cls(name, checks.texts(data, "values", f"the vocabulary of {name!r}"))


def _missing_tokens_missing(out: np.ndarray, strings: pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
    """Ids ``out`` ``[n]`` of ``strings`` ``[n]`` with each unseen value that is a missing token (``NA``,
    ``null``, ...: :data:`needmap.data.values.MISSING_TOKENS`, trimmed, any case) made missing, as a file
    reads it; a category of that spelling learned in training keeps its id. Returns the ids and the counts
    of missing and out-of-vocabulary rows."""
    unseen = out == OOV_ID
    if unseen.any():
        out = out if out.flags.writeable else out.copy()
        tokens = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(strings)), value_set=pa.array(MISSING_TOKENS))
        out[unseen & np.asarray(to_numpy(pc.fill_null(tokens, False)), dtype=bool)] = MISSING_ID
    return out, int((out == MISSING_ID).sum()), int((out == OOV_ID).sum())
