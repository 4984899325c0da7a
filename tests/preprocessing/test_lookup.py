"""Large vocabularies look strings up by sorted hashes: the same ids as index_in."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from needmap.preprocessing import lookup as lookup_module
from needmap.preprocessing import vocab as vocab_module
from needmap.preprocessing.lookup import SortedHashLookup
from needmap.preprocessing.vocab import Vocabulary


def test_hashed_lookup_finds_what_index_in_finds() -> None:
    rng = np.random.default_rng(0)
    values = pa.array([f"v{x}" for x in rng.choice(10**9, 5000, replace=False)])
    probe = pa.chunked_array(
        [values.take(pa.array(rng.integers(0, 5000, 3000))), pa.array(["absent", None, "", "v"]), values.slice(0, 7)]
    )
    found = SortedHashLookup(values).index(probe)
    expected = pc.fill_null(pc.index_in(probe, value_set=values), -1).to_numpy()
    assert np.array_equal(found, expected)
    assert (found[3000:3004] == -1).all()
    assert SortedHashLookup(pa.array([], pa.string())).index(probe).tolist() == [-1] * len(probe)


def test_keys_that_share_their_top_bits_are_found_as_others(monkeypatch) -> None:
    """The lookup orders its keys by their hash's top 16 bits only: keys that all share those bits, in no order
    below them, are found as index_in finds them."""
    real = lookup_module.string_hashes
    low = np.uint64((1 << 48) - 1)
    monkeypatch.setattr(lookup_module, "string_hashes", lambda s: real(s) & low)
    rng = np.random.default_rng(1)
    values = pa.array([f"w{x}" for x in rng.choice(10**9, 3000, replace=False)])
    probe = pa.chunked_array([values.take(pa.array(rng.integers(0, 3000, 4000))), pa.array(["absent", None])])
    expected = pc.fill_null(pc.index_in(probe, value_set=values), -1).to_numpy()
    assert np.array_equal(SortedHashLookup(values).index(probe), expected)


def test_a_string_with_a_known_hash_but_other_text_is_not_found(monkeypatch) -> None:
    lookup = SortedHashLookup(pa.array(["a", "b", "c"]))
    real = lookup_module.string_hashes
    # Every probe hashes like "b": only the text "b" itself may be found.
    monkeypatch.setattr(lookup_module, "string_hashes", lambda s: np.repeat(real(pa.array(["b"])), len(s)))
    assert lookup.index(pa.array(["b", "x", "a"])).tolist() == [1, -1, -1]
    monkeypatch.setattr(lookup_module, "string_hashes", lambda s: np.zeros(len(s), dtype=np.uint64))
    with pytest.raises(ValueError, match="share a 64-bit hash"):
        SortedHashLookup(pa.array(["a", "b"]))


def test_large_vocabularies_encode_as_small_ones(monkeypatch) -> None:
    monkeypatch.setattr(vocab_module, "HASHED_LOOKUP_MIN_VALUES", 100)
    values = [f"cat{i}" for i in range(500)]
    strings = pa.chunked_array([pa.array([*values[::3], "unseen", None, *values[:50]])])
    hashed = Vocabulary("c", values)
    ids, missing, oov = hashed.encode(strings)
    assert isinstance(hashed._hashed, SortedHashLookup)
    monkeypatch.setattr(vocab_module, "HASHED_LOOKUP_MIN_VALUES", 10**9)
    plain = Vocabulary("c", values)
    expected = plain.encode(strings)
    assert plain._hashed is None
    assert np.array_equal(ids, expected[0]) and (missing, oov) == expected[1:] == (1, 1)
    assert ids[0] == vocab_module.RESERVED_IDS and ids[167] == vocab_module.OOV_ID
    assert ids[168] == vocab_module.MISSING_ID


def test_a_vocabulary_keeps_its_values_in_arrow_not_as_python_strings() -> None:
    import gc
    import tracemalloc

    strings = pa.chunked_array([pa.array([f"value-{i:07d}" for i in range(200_000)] * 2)])
    gc.collect()
    tracemalloc.start()
    try:
        vocabulary, _ = Vocabulary.fit("c", strings, min_frequency=1, max_categories=None)
        gc.collect()
        python_bytes, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 200,000 Python strings and their list would take about 14 MB; the Arrow array lives outside Python's heap.
    assert python_bytes < 2_000_000
    assert len(vocabulary) == 200_000 and vocabulary.cardinality == 200_002
    assert vocabulary.values[:2] == ["value-0000000", "value-0000001"]  # a list on demand, most frequent first
    assert Vocabulary.from_dict(vocabulary.to_dict()) == vocabulary
