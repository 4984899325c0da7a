"""RowEncoder: one raw row in plain Python gives the features of Preprocessor.transform, or defers."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.preprocessing.row import RowEncoder
from needmap.schema import ColumnSpec, Schema


def fitted(table: pa.Table, target: str, **options: object) -> Preprocessor:
    schema = infer_schema(table, target=target)
    return Preprocessor(schema, PreprocessConfig(**options)).fit(table)


@pytest.mark.parametrize("scaling", ["auto", "standard", "log1p", "quantile", "none"])
def test_bank_rows_agree_with_the_batch_path(bank_table: pa.Table, scaling: str, rows_agree) -> None:
    pre = fitted(bank_table.slice(0, 2000), "y", scaling=scaling)
    rows = bank_table.slice(2000, 150).drop(["y"]).to_pylist()
    rows_agree(pre, rows)


def test_shoppers_booleans_and_integer_categories_agree(shoppers_csv, rows_agree) -> None:
    table = read(shoppers_csv)
    pre = fitted(table.slice(0, 2000), "Revenue")
    rows_agree(pre, table.slice(2000, 150).drop(["Revenue"]).to_pylist())


def test_missing_values_text_numbers_and_unseen_categories_agree(rows_agree) -> None:
    train = pa.table(
        {
            "x": [1.0, 2.0, None, 4.0, 100.0, 3.0] * 20,
            "c": ["a", "b", "a", None, "c", "a"] * 20,
            "k": [1, 2, 3, 1, 2, 3] * 20,
            "y": [0, 1, 0, 1, 0, 1] * 20,
        }
    )
    pre = fitted(train, "y")
    assert pre.numeric_columns_[0].indicator  # x had missing values: an indicator column too
    rows = [
        {"x": 2.5, "c": "b", "k": 2},
        {"x": None, "c": None, "k": None},
        {"x": float("nan"), "c": "  ", "k": 3.0},  # NaN is missing, a blank category too, 3.0 names "3"
        {"x": " 7.5 ", "c": "zzz", "k": 99},  # numeric text; unseen category and code: out of vocabulary
        {"x": "NA", "c": "a", "k": True, "extra": "ignored"},
        {"x": 1e9, "c": "c", "k": "1"},  # clipped to the training range
        {"x": -3, "c": "a", "k": 2},
    ]
    rows_agree(pre, rows)


def test_rows_the_fast_path_does_not_take_return_none() -> None:
    train = pa.table({"x": [1.0, 2.0, 3.0, 4.0] * 10, "c": ["a", "b"] * 20, "y": [0, 1] * 20})
    encoder = RowEncoder(fitted(train, "y"))
    assert encoder.encode({"x": "twelve", "c": "a"}) is None  # the batch path counts it (and may raise)
    assert encoder.encode({"x": math.inf, "c": "a"}) is None
    assert encoder.encode({"c": "a"}) is None  # a feature column missing from the row
    assert encoder.encode({"x": 1.0, "c": 2.5}) is None  # a non-whole float as a category
    assert encoder.encode({"x": 1.0, "c": "a"}) is not None
    schema = Schema(
        [
            ColumnSpec("x", "numeric", "double", "test", {"bucketize": 3}),
            ColumnSpec("c", "categorical", "string", "test"),
        ]
    )
    bucketed = RowEncoder(Preprocessor(schema).fit(train))  # buckets take the fast path too
    assert bucketed.covered and bucketed.encode({"x": 1.0, "c": "a"}) is not None


def test_lists_hashed_ids_and_buckets_agree(rows_agree) -> None:
    """Multi-hot lists (text split at '|', or Python lists), a sequence sharing an item column's ids, a sequence
    of its own, a hashed id and a bucketized number: each row's features are the batch path's."""
    items = [f"i{k}" for k in range(12)]
    n = 240
    train = pa.table({
        "tags": ["|".join(items[k % 5 : k % 5 + k % 3]) for k in range(n)],
        "history": [",".join(items[(k + j) % 12] for j in range(k % 7)) for k in range(n)],
        "codes": [[k % 4, (k * 7) % 9] for k in range(n)],
        "item": [items[k % 12] for k in range(n)],
        "user": [f"u{k % 50}" for k in range(n)],
        "age": [18.0 + (k * 13) % 60 for k in range(n)],
        "y": [k % 2 for k in range(n)],
    })  # fmt: skip
    schema = infer_schema(train, target="y", multihot=["tags", "codes"],
                          sequence={"history": {"vocabulary_of": "item", "max_len": 4}},
                          hash={"user": 16}, bucketize={"age": 4})  # fmt: skip
    pre = Preprocessor(schema).fit(train)
    assert {type(e).__name__ for e in pre.vocabularies_} == {"Vocabulary", "HashedColumn", "BucketColumn"}
    rows = train.slice(0, 40).drop(["y"]).to_pylist()
    rows += [
        {**rows[0], "tags": None, "history": None, "codes": None, "user": None, "age": None},
        {**rows[1], "tags": "", "history": "  ", "codes": [], "user": "  ", "age": "NA"},
        {**rows[2], "tags": " i1 | unseen |", "history": ["i3", "i9", "zz", "i1", "i2", "i0"], "codes": [3, None, 8]},
        {**rows[3], "tags": ["i2", "i2", "i4", "i0", "i1", "i3", "i4", "i0"], "history": "i5", "user": 7,
         "age": " 44 ", "item": "new"},
        {**rows[4], "tags": "?", "history": "#N/A", "user": True, "age": 1e9},
    ]  # fmt: skip
    rows_agree(pre, rows)
    encoder = RowEncoder(pre)
    assert encoder.encode({**rows[0], "codes": [1.5]}) is None  # a float's name is Arrow's: the batch path
    assert encoder.encode({**rows[0], "tags": ["a", 1]}) is None  # one type per list: the batch path decides


def test_large_vocabularies_serve_rows_from_hashed_ids_that_agree(monkeypatch, rows_agree) -> None:
    # Above ID_DICT_MAX_VALUES a vocabulary answers one-row lookups from sorted FNV-1a hashes, not a dict.
    from needmap.preprocessing import vocab as vocab_module
    from needmap.preprocessing.string_ids import StringIds

    monkeypatch.setattr(vocab_module, "ID_DICT_MAX_VALUES", 10)
    values = [f"v{i}" for i in range(40)] + ["é-ü", "", "7"]
    train = pa.table({"c": values * 3, "small": ["a", "b", "c"] * 43, "y": [0, 1, 1] * 43})
    pre = fitted(train, "y")
    encoder = RowEncoder(pre)
    kinds = {e.name: type(e.id_map()) for e in pre.vocabularies_}
    assert kinds == {"c": StringIds, "small": dict}
    rows = [{"c": v, "small": "a"} for v in values] + [{"c": "unseen", "small": "zz"}, {"c": None, "small": "b"}]
    rows_agree(pre, rows)
    assert (
        encoder.encode({"c": "v3", "small": "c"}).categorical.tolist()
        == pre.transform(read([{"c": "v3", "small": "c"}])).categorical.tolist()
    )
