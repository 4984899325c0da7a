"""Numeric bucketization: quantile edges, bucket ids, missing values, the preprocessor layout."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from needmap.data.values import parse_numeric
from needmap.errors import ConfigError
from needmap.preprocessing.buckets import BucketColumn
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.schema import ColumnSpec, Schema


def parsed(values: list) -> object:
    return parse_numeric(pa.array(values), column="x", file=None)


def test_edges_are_training_quantiles_and_ids_follow_them():
    column, report = BucketColumn.fit("x", parsed([float(v) for v in range(1, 101)]), buckets=4)
    np.testing.assert_allclose(column.edges, np.quantile(np.arange(1, 101), [0.25, 0.5, 0.75]))
    assert column.cardinality == 4 + 2
    ids = column.encode_values(np.array([-5.0, 25.75, 26.0, 50.5, 1000.0, np.nan]))
    assert ids.tolist() == [2, 3, 3, 4, 5, 1]  # a value equal to an edge goes to the upper bucket
    assert report["bucket_rows"] == [25, 25, 25, 25] and report["edges"] == column.edges


def test_repeated_values_give_fewer_deduplicated_edges():
    column, report = BucketColumn.fit("x", parsed([0.0] * 80 + [1.0] * 10 + [5.0] * 10), buckets=10)
    assert column.edges == sorted(set(column.edges)) and len(column.edges) < 9
    assert column.edges[0] == 0.0 and report["bucket_rows"][0] == 0  # no value lies below the first edge
    assert sum(report["bucket_rows"]) == 100


def test_preprocessor_puts_bucket_ids_among_the_categorical_fields():
    schema = Schema(
        [
            ColumnSpec("age", "numeric", "double", "test", {"bucketize": 3}),
            ColumnSpec("income", "numeric", "double", "test"),
            ColumnSpec("city", "categorical", "string", "test"),
        ]
    )
    table = pa.table(
        {
            "age": [20.0, 30.0, None, 40.0, 50.0, 60.0, 70.0],
            "income": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "city": ["a", "b", "a", "b", "a", "b", "a"],
        }
    )
    pre = Preprocessor(schema).fit(table)
    assert pre.numeric_names_ == ["income"] and pre.n_numeric_ == 1
    # categorical columns, then bucketized ones (income's values 1..7 fill their grid: no value field)
    assert pre.categorical_names_ == ["city", "age"]
    edges = pre.report_["columns"]["age"]["edges"]
    np.testing.assert_allclose(edges, np.quantile([20, 30, 40, 50, 60, 70], [1 / 3, 2 / 3]))
    assert pre.cardinalities_[1] == len(edges) + 3
    batch = pre.transform(table)
    assert batch.numeric.shape == (7, 1)
    assert batch.categorical[:, 1].tolist() == [2, 2, 1, 3, 3, 4, 4]
    unparseable = pa.table({"age": ["35", "n/a", "oops"], "income": [1.0, 1.0, 1.0], "city": ["a", "a", "a"]})
    pre_lenient = Preprocessor(schema, PreprocessConfig(max_unparseable=0.5)).fit(table)
    assert pre_lenient.transform(unparseable).categorical[:, 1].tolist() == [2, 1, 1]
    assert pre_lenient.last_transform_report_["columns"]["age"] == {"role": "numeric", "missing": 1, "unparseable": 1}
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(table).categorical, batch.categorical)
    assert again.cardinalities_ == pre.cardinalities_


def test_bucketize_needs_at_least_two_buckets():
    schema = Schema([ColumnSpec("x", "numeric", "double", "test", {"bucketize": 1})])
    with pytest.raises(ConfigError, match="bucketize is 1") as caught:
        Preprocessor(schema)
    assert caught.value.column == "x"
