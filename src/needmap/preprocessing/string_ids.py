"""Category string -> id for one row at a time, for vocabularies too large for a Python dict.

Online scoring looks each category of a row up by itself. A Python dict does that fastest, but holds
a str, an int and a table slot for every value: about 130 bytes a value, over 100 MB for a million
categories, built on the first one-row call on top of the model. A
:class:`StringIds` keeps 12 bytes a value beside the vocabulary's own Arrow array: the values'
64-bit FNV-1a hashes (:func:`needmap.preprocessing.fnv.fnv1a_64`, vectorized over the Arrow buffers),
sorted, and their positions. A lookup hashes the one string in Python, binary-searches the hashes
and compares the candidate's text, so a string that only shares a hash with a value is not found.
A lookup takes microseconds where a dict's takes a fraction of one; the row encoder uses it above
100,000 values only.
"""

from __future__ import annotations

import bisect

import numpy as np
import pyarrow as pa

from needmap.preprocessing.fnv import fnv1a_64
from needmap.preprocessing.lookup import sorted_hash_index

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def fnv1a_64_bytes(raw: bytes) -> int:
    """64-bit FNV-1a of ``raw``, the scalar twin of :func:`fnv1a_64`."""
    value = _FNV_OFFSET
    for byte in raw:
        value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return value


def fnv1a_64_text(text: str) -> int:
    """64-bit FNV-1a of ``text``'s UTF-8 bytes."""
    return fnv1a_64_bytes(text.encode("utf-8"))


class StringIds:
    """Maps the strings of ``values`` (distinct, no nulls) to ``first_id + position``, dict-style.

    Raises ValueError when two values share a 64-bit hash (the caller keeps a dict then).
    Memory: 12 bytes a value besides ``values`` itself.
    """

    def __init__(self, values: pa.Array, first_id: int) -> None:
        self._sorted, self._order = sorted_hash_index(fnv1a_64(values))
        self._first_id = first_id
        # Views of the values' bytes and offsets (the Arrow buffers, no copy; the views keep them alive),
        # to compare a candidate's text without making an Arrow scalar.
        if pa.types.is_string_view(values.type):
            values = values.cast(pa.string())
        offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
        _, offsets, data = values.buffers()
        n = len(values)
        self._offset_view = memoryview(
            np.frombuffer(offsets, dtype=offset_type)[values.offset : values.offset + n + 1]
            if offsets is not None
            else np.zeros(n + 1, dtype=offset_type)
        )
        self._data_view = memoryview(
            np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
        )
        self._hash_view = memoryview(self._sorted)
        self._order_view = memoryview(self._order)

    def __len__(self) -> int:
        return len(self._sorted)

    def get(self, text: str, default: int) -> int:
        """The id of ``text``, or ``default`` when it is not one of the values."""
        raw = text.encode("utf-8")
        value = fnv1a_64_bytes(raw)
        # bisect over memoryviews: Python ints at C speed, no numpy scalar per step (faster for one key
        # than numpy's searchsorted and slicing).
        hashes = self._hash_view
        at = bisect.bisect_left(hashes, value)
        if at == len(hashes) or hashes[at] != value:
            return default
        position = self._order_view[at]
        offsets = self._offset_view
        if self._data_view[offsets[position] : offsets[position + 1]] != raw:
            return default
        return self._first_id + position
