"""Preprocessor.column_positions and FeatureBatch.with_rows_of: shuffling one input column's rows before encoding
gives the batch that shuffling its encoded values gives (what permutation importance encodes once for)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from needmap.preprocessing.preprocess import Preprocessor
from needmap.schema import ColumnSpec, Schema


def _rich() -> tuple[Schema, pa.Table]:
    """Every kind of encoded column: scaled numbers with missing indicators, a zero flag, a value field, quantile
    buckets, a vocabulary, hashed ids, a multi-hot set and a sequence sharing a categorical's vocabulary."""
    n = 600
    rng = np.random.default_rng(0)
    spend = np.where(rng.random(n) < 0.6, 0.0, 10.0 ** rng.uniform(-3, 3, n)).astype(object)
    spend[rng.random(n) < 0.05] = None
    levels = rng.choice([0.0, 1.0, 2.0, 5.0], size=n).astype(object)
    levels[rng.random(n) < 0.05] = None
    items = [f"i{k}" for k in range(8)]
    table = pa.table(
        {
            "spend": pa.array(spend.tolist(), pa.float64()),
            "levels": pa.array(levels.tolist(), pa.float64()),
            "age": rng.normal(40, 10, n),
            "rate": rng.uniform(0.5, 2.0, n),
            "city": rng.choice(["a", "b", "c", "d"], size=n),
            "item": rng.choice(items, size=n),
            "user": [f"u{k}" for k in rng.integers(0, 300, n)],
            "tags": ["|".join(rng.choice(["x", "y", "z"], size=rng.integers(0, 3))) for _ in range(n)],
            "seen": pa.array([list(rng.choice(items, size=rng.integers(0, 4))) for _ in range(n)]),
        }
    )
    schema = Schema(
        [
            ColumnSpec("spend", "numeric", "double", "test", {"zero_flag": True}),
            ColumnSpec("levels", "numeric", "double", "test", {"values": True}),
            ColumnSpec("age", "numeric", "double", "test", {"bucketize": 4}),
            ColumnSpec("rate", "numeric", "double", "test"),
            ColumnSpec("city", "categorical", "string", "test"),
            ColumnSpec("item", "categorical", "string", "test"),
            ColumnSpec("user", "categorical", "string", "test", {"hash_buckets": 50}),
            ColumnSpec("tags", "multihot", "string", "test", {"separator": "|"}),
            ColumnSpec("seen", "sequence", "list<string>", "test", {"vocabulary_of": "item", "max_len": 3}),
        ]
    )
    return schema, table


def test_the_positions_of_the_columns_cover_every_encoded_column_once() -> None:
    schema, table = _rich()
    pre = Preprocessor(schema).fit(table)
    found = {name: pre.column_positions(name) for name in schema.features}
    numeric = sorted(j for positions, _, _ in found.values() for j in positions)
    categorical = sorted(j for _, positions, _ in found.values() for j in positions)
    lists = sorted(k for _, _, positions in found.values() for k in positions)
    assert numeric == list(range(pre.n_numeric_)) and categorical == list(range(len(pre.categorical_names_)))
    assert lists == list(range(len(pre.list_columns_)))
    # the kinds asked for are there: indicators, a zero flag, a value field, buckets, hashed ids, two lists
    assert {"spend__missing", "spend__zero", "levels__missing"} <= set(pre.numeric_names_)
    assert [pre.numeric_names_[j] for j in found["spend"][0]] == ["spend", "spend__missing", "spend__zero"]
    assert found["levels"][1] and found["age"][1] and not found["age"][0] and found["tags"][2] == [0]
    assert pre.column_positions("no such column") == ([], [], [])


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffling_a_column_before_encoding_equals_shuffling_its_encoded_values(seed: int) -> None:
    schema, table = _rich()
    pre = Preprocessor(schema).fit(table)
    x = pre.transform(table)
    rng = np.random.default_rng(seed)
    for name in schema.features:
        order = rng.permutation(table.num_rows)
        index = table.column_names.index(name)
        expected = pre.transform(table.set_column(index, name, table.column(name).take(pa.array(order))))
        got = x.with_rows_of(order, *pre.column_positions(name))
        np.testing.assert_array_equal(got.numeric, expected.numeric, err_msg=name)
        np.testing.assert_array_equal(got.categorical, expected.categorical, err_msg=name)
        assert len(got.lists) == len(expected.lists)
        for mine, theirs in zip(got.lists, expected.lists, strict=True):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)
        changed = [not np.array_equal(got.numeric, x.numeric), not np.array_equal(got.categorical, x.categorical)]
        changed += [not np.array_equal(a, b) for a, b in zip(got.lists, x.lists, strict=True)]
        assert any(changed), name  # the shuffle changed something
    np.testing.assert_array_equal(x.numeric, pre.transform(table).numeric)  # the batch given is left as it was
