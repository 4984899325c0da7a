"""Hashed categoricals: the FNV-1a hash, bucket ids and the preprocessor's hashed columns."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import ConfigError
from needmap.preprocessing.hashing import fnv1a_64, hash_ids
from needmap.preprocessing.preprocess import Preprocessor
from needmap.schema import ColumnSpec, Schema


def reference_fnv1a_64(text: str) -> int:
    """FNV-1a 64 written out byte by byte, as the specification gives it."""
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) % (1 << 64)
    return value


def test_published_fnv1a_64_values():
    got = fnv1a_64(pa.array(["", "a", "foobar"]))
    assert got.dtype == np.uint64
    assert [int(v) for v in got] == [0xCBF29CE484222325, 0xAF63DC4C8601EC8C, 0x85944171F73967E8]


def test_vectorized_hash_equals_the_byte_by_byte_reference_on_mixed_strings():
    rng = np.random.default_rng(7)
    alphabet = list("abcXYZ019 _-|é€😀")
    words = ["".join(rng.choice(alphabet, size=int(k))) for k in rng.integers(0, 40, size=300)]
    array = pa.array(words)
    assert [int(v) for v in fnv1a_64(array)] == [reference_fnv1a_64(w) for w in words]
    sliced = pa.chunked_array([array.slice(5, 100), array.slice(200)])  # offsets into shared buffers
    assert [int(v) for v in fnv1a_64(sliced)] == [reference_fnv1a_64(w) for w in words[5:105] + words[200:]]
    large = pa.array(words, pa.large_string())
    np.testing.assert_array_equal(fnv1a_64(large), fnv1a_64(array))


def test_bucket_ids_are_pinned_in_range_and_null_is_the_missing_id():
    ids = hash_ids(pa.array(["a", "foobar", None, "user_42"]), 1000)
    assert ids.tolist() == [
        2 + 0xAF63DC4C8601EC8C % 1000,
        2 + 0x85944171F73967E8 % 1000,
        1,
        2 + reference_fnv1a_64("user_42") % 1000,
    ]
    many = hash_ids(pa.array([f"customer-{i}" for i in range(5000)]), 64)
    assert many.min() >= 2 and many.max() <= 65 and len(np.unique(many)) == 64


def test_preprocessor_hashes_values_named_like_categories_with_n_plus_2_ids():
    schema = Schema([ColumnSpec("user", "categorical", "int64", "test", {"hash_buckets": 97})])
    train = pa.table({"user": pa.array([1, 2, 3, None, 2], pa.int64())})
    pre = Preprocessor(schema).fit(train)
    assert pre.cardinalities_ == [99] and pre.categorical_names_ == ["user"]
    ids = pre.transform(train).categorical[:, 0]
    assert ids.tolist() == [2 + reference_fnv1a_64(s) % 97 if s else 1 for s in ["1", "2", "3", "", "2"]]
    as_float = pre.transform(pa.table({"user": pa.array([2.0, 12345.0])})).categorical[:, 0]
    assert as_float.tolist() == [ids[1], 2 + reference_fnv1a_64("12345") % 97]  # unseen values hash too
    assert pre.last_transform_report_["columns"]["user"] == {"role": "categorical", "missing": 0, "oov": 0}
    assert pre.report_["columns"]["user"] == {
        "role": "categorical",
        "missing": 1,
        "hash_buckets": 97,
        "distinct": 3,
        "colliding_values": 0,
    }
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(train).categorical, pre.transform(train).categorical)
    assert again.to_dict() == pre.to_dict()


def test_collisions_are_counted():
    schema = Schema([ColumnSpec("c", "categorical", "string", "test", {"hash_buckets": 1})])
    pre = Preprocessor(schema).fit(pa.table({"c": ["a", "b", "c", "a"]}))
    assert pre.report_["columns"]["c"]["colliding_values"] == 2
    assert pre.transform(pa.table({"c": ["a", "z"]})).categorical[:, 0].tolist() == [2, 2]


def test_hash_buckets_must_be_a_positive_whole_number():
    for bad in (0, 2.5, "many"):
        schema = Schema([ColumnSpec("c", "categorical", "string", "test", {"hash_buckets": bad})])
        with pytest.raises(ConfigError, match="hash_buckets") as caught:
            Preprocessor(schema)
        assert caught.value.column == "c"
