"""64-bit FNV-1a over Arrow strings: the stable hash of hashed categoricals and one-row string lookups.

The hash is 64-bit FNV-1a (offset basis ``0xcbf29ce484222325``, prime ``0x100000001b3``) over the
UTF-8 bytes: a published, fixed function, so the same value gets the same hash in every process, on
every machine and in every later version of needmap (Python's ``hash()`` is salted per process).
It is computed with numpy straight on the Arrow string buffers (offsets and bytes): the strings are
sorted by length and step ``k`` updates, in one vectorized operation, every string longer than ``k``
bytes; so the Python loop runs over byte positions (the longest value's length), never over rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


def _string_buffers(strings: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytes (uint8), start offsets (int64 ``[n]``) and byte lengths (int64 ``[n]``, 0 for nulls)."""
    array = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise TypeError(f"expected an Arrow string array, got {array.type}")
    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    if n == 0 or offsets_buffer is None:
        empty = np.zeros(n, dtype=np.int64)
        return np.zeros(0, dtype=np.uint8), empty, empty
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[array.offset : array.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, dtype=np.uint8)
    lengths = np.diff(offsets)
    if array.null_count:
        lengths[np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = 0
    return data, offsets[:-1], lengths


def fnv1a_64(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit FNV-1a of the UTF-8 bytes of each string: uint64 ``[n]``; a null hashes like ``""``.

    Known values: ``""`` -> ``0xcbf29ce484222325``, ``"a"`` -> ``0xaf63dc4c8601ec8c``,
    ``"foobar"`` -> ``0x85944171f73967e8``.
    """
    data, starts, lengths = _string_buffers(strings)
    n = len(lengths)
    hashes = np.full(n, FNV_OFFSET, dtype=np.uint64)
    if n == 0 or not lengths.any():
        return hashes
    order = np.argsort(-lengths, kind="stable")
    sorted_starts = starts[order]
    descending = -lengths[order]
    longest = int(-descending[0])
    # active[k] = how many strings are longer than k bytes: a prefix of the length-sorted order.
    active = np.searchsorted(descending, -np.arange(longest), side="left")
    state = hashes.copy()
    for k in range(longest):
        m = int(active[k])
        head = state[:m]
        head ^= data[sorted_starts[:m] + k]
        head *= FNV_PRIME  # uint64 arithmetic wraps modulo 2**64, as FNV requires
    hashes[order] = state
    return hashes
