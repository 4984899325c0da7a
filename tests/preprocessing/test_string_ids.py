"""StringIds: one-row category lookups from sorted 64-bit FNV-1a hashes, checked against a dict."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from needmap.preprocessing import string_ids as module
from needmap.preprocessing.hashing import fnv1a_64
from needmap.preprocessing.string_ids import StringIds, fnv1a_64_text
from needmap.preprocessing.vocab import RESERVED_IDS, Vocabulary


def test_the_scalar_hash_is_the_vectorized_one() -> None:
    texts = ["", "a", "foobar", "é", "日本語", "x" * 300, "0000abcd"]
    assert fnv1a_64_text("foobar") == 0x85944171F73967E8  # the published FNV-1a test value
    assert [fnv1a_64_text(t) for t in texts] == [int(h) for h in fnv1a_64(pa.array(texts))]


def test_lookups_agree_with_a_dict() -> None:
    rng = random.Random(0)
    values = list({"".join(rng.choices("abcdef0123456789éü", k=rng.randint(0, 12))) for _ in range(5000)})
    ids = StringIds(pa.array(values), RESERVED_IDS)
    reference = {v: k + RESERVED_IDS for k, v in enumerate(values)}
    probes = values + ["not there", "ABC", "é" * 13] + [v + "x" for v in values[:200]]
    assert [ids.get(p, 0) for p in probes] == [reference.get(p, 0) for p in probes]
    assert len(ids) == len(values)
    empty = StringIds(pa.array([], type=pa.string()), RESERVED_IDS)
    assert empty.get("a", 0) == 0


def test_a_sliced_array_and_large_strings_are_read_at_their_offsets() -> None:
    values = pa.array(["skip", "a", "bb", "ccc"]).slice(1)
    ids = StringIds(values, 5)
    assert [ids.get(t, -1) for t in ["a", "bb", "ccc", "skip"]] == [5, 6, 7, -1]
    large = StringIds(pa.array(["a", "bb"], type=pa.large_string()), 2)
    assert [large.get("bb", 0), large.get("b", 0)] == [3, 0]


def test_a_string_that_only_shares_a_hash_is_not_found() -> None:
    # Every candidate is checked by its text: make "q" hash to the slot of "a", and it is still absent.
    ids = StringIds(pa.array(["a"]), 2)
    assert ids.get("a", 0) == 2 and ids.get("q", 0) == 0
    ids._sorted = np.array([fnv1a_64_text("q")], dtype=np.uint64)  # "q"'s hash now points at "a"
    ids._hash_view = memoryview(ids._sorted)
    assert ids.get("q", -1) == -1
    assert ids.get("a", -1) == -1  # and "a" no longer matches its (forged) hash


def test_values_sharing_a_hash_are_refused_and_the_vocabulary_keeps_a_dict(monkeypatch) -> None:
    monkeypatch.setattr(module, "fnv1a_64", lambda values: np.zeros(len(values), dtype=np.uint64))
    with pytest.raises(ValueError, match="share a 64-bit hash"):
        StringIds(pa.array(["a", "b"]), 2)
    from needmap.preprocessing import vocab as vocab_module

    monkeypatch.setattr(vocab_module, "ID_DICT_MAX_VALUES", 1)
    vocab = Vocabulary("c", ["a", "b", "c"])
    assert vocab.id_map() == {"a": 2, "b": 3, "c": 4}


def test_vocabularies_switch_to_hashed_ids_above_the_threshold(monkeypatch) -> None:
    from needmap.preprocessing import vocab as vocab_module

    monkeypatch.setattr(vocab_module, "ID_DICT_MAX_VALUES", 2)
    assert isinstance(Vocabulary("c", ["a", "b"]).id_map(), dict)
    big = Vocabulary("c", ["a", "b", "c"])
    assert isinstance(big.id_map(), StringIds)
    assert [big.id_map().get(t, 0) for t in ["a", "b", "c", "d"]] == [2, 3, 4, 0]
