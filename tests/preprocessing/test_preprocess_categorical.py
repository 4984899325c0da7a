"""Categorical columns: vocabulary order, rare and unseen categories, missing values, typed codes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor

TRAIN = pa.table({"c": ["b", "a", "c", "a", "b", "d", "b", "c"]})  # b:3, a:2, c:2, d:1


def fitted(schema, table: pa.Table, **options) -> Preprocessor:
    return Preprocessor(schema, PreprocessConfig(**options)).fit(table)


def test_vocabulary_is_ordered_by_descending_frequency_then_value(make_schema):
    pre = fitted(make_schema(categorical=("c",)), TRAIN)
    assert pre.vocabularies_[0].values == ["b", "a", "c", "d"]
    assert pre.cardinalities_ == [6]
    assert pre.categorical_names_ == ["c"]
    out = pre.transform(pa.table({"c": ["a", "b", "c", "d"]}))
    assert out.categorical[:, 0].tolist() == [3, 2, 4, 5]
    assert out.numeric.shape == (4, 0)


def test_categories_below_min_frequency_go_to_oov(make_schema):
    pre = fitted(make_schema(categorical=("c",)), TRAIN, min_frequency=2)
    assert pre.vocabularies_[0].values == ["b", "a", "c"]
    assert pre.transform(pa.table({"c": ["d", "c"]})).categorical[:, 0].tolist() == [0, 4]
    assert pre.report_["columns"]["c"] == {
        "role": "categorical",
        "missing": 0,
        "vocabulary_size": 3,
        "folded_categories": 1,
        "folded_rows": 1,
    }


def test_max_categories_keeps_the_most_frequent(make_schema):
    pre = fitted(make_schema(categorical=("c",)), TRAIN, max_categories=2)
    assert pre.vocabularies_[0].values == ["b", "a"]
    assert pre.transform(TRAIN).categorical[:, 0].tolist() == [2, 3, 0, 3, 2, 0, 2, 0]
    assert pre.report_["columns"]["c"]["folded_rows"] == 3


def test_unseen_category_gets_the_oov_id(make_schema):
    pre = fitted(make_schema(categorical=("c",)), TRAIN)
    out = pre.transform(pa.table({"c": ["zebra", "a", "zebra"]}))
    assert out.categorical[:, 0].tolist() == [0, 3, 0]
    assert pre.last_transform_report_["columns"]["c"] == {"role": "categorical", "missing": 0, "oov": 2}


def test_missing_and_blank_categories_get_the_missing_id(make_schema):
    pre = fitted(make_schema(categorical=("c",)), pa.table({"c": ["a", None, "a", " "]}))
    assert pre.vocabularies_[0].values == ["a"]
    assert pre.report_["columns"]["c"]["missing"] == 2
    out = pre.transform(pa.table({"c": pa.array([None, "a", ""], pa.string())}))
    assert out.categorical[:, 0].tolist() == [1, 2, 1]
    assert pre.last_transform_report_["columns"]["c"] == {"role": "categorical", "missing": 2, "oov": 0}


def test_numeric_and_boolean_categories_are_named_like_stringify(make_schema):
    schema = make_schema(categorical=("code", "flag"))
    train = pa.table({"code": pa.array([7, 3, 3], pa.int64()), "flag": [True, False, True]})
    pre = fitted(schema, train)
    assert pre.vocabularies_[0].values == ["3", "7"]
    assert pre.vocabularies_[1].values == ["true", "false"]
    # the same codes read as floats elsewhere still find their category
    other = pa.table({"code": pa.array([7.0, 3.0, 5.0], pa.float64()), "flag": [False, None, True]})
    assert pre.transform(other).categorical.tolist() == [[3, 3], [2, 1], [0, 2]]


def test_dictionary_encoded_categories_match_plain_strings(make_schema):
    schema = make_schema(categorical=("c",))
    pre = fitted(schema, pa.table({"c": pa.array(["x", "y", "x"]).dictionary_encode()}))
    assert pre.transform(pa.table({"c": ["y", "x", "w"]})).categorical[:, 0].tolist() == [3, 2, 0]


def test_small_inputs_encode_as_large_ones() -> None:
    # Inputs of up to SMALL_INPUT_ROWS rows take the dict path, larger ones Arrow's index_in: same ids.
    from needmap.preprocessing import vocab

    rng = np.random.default_rng(0)
    values = [f"v{i}" for i in range(500)]
    vocabulary = vocab.Vocabulary("c", values[:300])
    strings = pa.chunked_array([pa.array([None if k % 17 == 0 else values[k] for k in rng.integers(0, 500, 400)])])
    large_ids, large_missing, large_oov = vocabulary.encode(strings)
    parts = [vocabulary.encode(strings.slice(i, vocab.SMALL_INPUT_ROWS)) for i in range(0, 400, vocab.SMALL_INPUT_ROWS)]
    assert all(len(ids) <= vocab.SMALL_INPUT_ROWS for ids, _, _ in parts)
    assert np.concatenate([ids for ids, _, _ in parts]).tolist() == large_ids.tolist()
    assert sum(m for _, m, _ in parts) == large_missing > 0
    assert sum(o for _, _, o in parts) == large_oov > 0
    assert {0, 1} < set(large_ids.tolist())


def test_columns_encoded_in_parallel_match_the_serial_loop(make_schema, monkeypatch) -> None:
    """transform(threads=2) gives the same ids, numerics and report as one thread, and raises the error
    of the first failing column in column order."""
    import pytest

    from needmap.errors import DataError
    from needmap.preprocessing import preprocess
    from needmap.schema import ColumnSpec, Schema

    rng = np.random.default_rng(0)
    n = 30_000
    table = pa.table(
        {
            "a": pa.array(rng.integers(0, 50, n).astype(str)),
            "b": pa.array(rng.integers(0, 3000, n).astype(str)),
            "c": pa.array([None if i % 7 == 0 else f"v{i % 11}" for i in range(n)]),
            "x": pa.array(rng.normal(size=n)),
            "k": pa.array(rng.exponential(size=n)),
        }
    )
    schema = make_schema(categorical=("a", "b", "c"), numeric=("x",))
    schema = Schema([*schema.columns, ColumnSpec("k", "numeric", "double", "test", {"bucketize": 5})])
    pre = fitted(schema, table)
    unseen = table.set_column(1, "b", pa.array(rng.integers(0, 6000, n).astype(str)))
    serial = pre.transform(unseen, threads=1)
    report = pre.last_transform_report_
    parallel = pre.transform(unseen, threads=2)
    assert np.array_equal(serial.categorical, parallel.categorical)
    assert np.array_equal(serial.numeric, parallel.numeric)
    assert pre.last_transform_report_ == report and report["columns"]["b"]["oov"] > 0

    calls = []
    real = preprocess.ThreadPoolExecutor
    monkeypatch.setattr(preprocess, "ThreadPoolExecutor", lambda **kw: calls.append(kw) or real(**kw))
    pre.transform(unseen.slice(0, preprocess.PARALLEL_MIN_ROWS - 1), threads=2)
    assert calls == []  # a small table stays in one thread
    bad = unseen.set_column(4, "k", pa.array(["not a number"] * n))
    with pytest.raises(DataError, match="'k'"):
        pre.transform(bad, threads=2)
    assert len(calls) == 1


def test_vocabularies_learned_in_parallel_match_the_serial_loop(make_schema, monkeypatch) -> None:
    """fit(threads=2) learns the same state and report as one thread (vocabularies, folded categories, hashed
    columns), and raises the error of the first failing categorical column in column order."""
    import pytest

    from needmap.errors import SchemaError
    from needmap.preprocessing import preprocess
    from needmap.schema import ColumnSpec, Schema

    rng = np.random.default_rng(1)
    n = 30_000
    table = pa.table(
        {
            "a": pa.array(rng.integers(0, 50, n).astype(str)),
            "b": pa.array(rng.zipf(1.5, n).astype(str)),  # many rare values: folded below min_frequency
            "c": pa.array([None if i % 7 == 0 else f"v{i % 11}" for i in range(n)]),
            "h": pa.array(rng.integers(0, 10_000, n).astype(str)),
            "x": pa.array(rng.normal(size=n)),
        }
    )
    schema = make_schema(categorical=("a", "b", "c"), numeric=("x",))
    schema = Schema([*schema.columns, ColumnSpec("h", "categorical", "string", "test", {"hash_buckets": 64})])
    config = PreprocessConfig(min_frequency=3)
    serial = Preprocessor(schema, config).fit(table, threads=1)
    calls = []
    real = preprocess.ThreadPoolExecutor
    monkeypatch.setattr(preprocess, "ThreadPoolExecutor", lambda **kw: calls.append(kw) or real(**kw))
    parallel = Preprocessor(schema, config).fit(table, threads=2)
    assert len(calls) == 1  # the categorical columns went to the pool
    assert parallel.to_dict() == serial.to_dict()
    assert parallel.report_ == serial.report_ and serial.report_["columns"]["b"]["folded_categories"] > 0
    assert list(parallel.report_["columns"]) == list(serial.report_["columns"])

    Preprocessor(schema, config).fit(table.slice(0, preprocess.PARALLEL_MIN_ROWS - 1), threads=2)
    assert len(calls) == 1  # a small table stays in one thread
    nested = pa.array([[1]] * n)
    bad = table.set_column(1, "b", nested).set_column(2, "c", nested)
    with pytest.raises(SchemaError, match="'b'"):
        Preprocessor(schema, config).fit(bad, threads=2)
