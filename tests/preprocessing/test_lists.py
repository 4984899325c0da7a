"""List features: parsing, padding and truncation, vocabularies, shared ids, persistence."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from needmap.data.values import list_tokens
from needmap.errors import ConfigError, SchemaError
from needmap.preprocessing.lists import default_max_len, detect_separator, pad
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.schema import ColumnSpec, Schema


def list_schema(*specs: tuple[str, str, dict], categorical: tuple[str, ...] = ()) -> Schema:
    """A schema with categorical columns and list columns ``(name, role, options)``."""
    columns = [ColumnSpec(n, "categorical", "string", "test") for n in categorical]
    columns += [ColumnSpec(name, role, "string", "test", dict(options)) for name, role, options in specs]
    return Schema(columns)


# -- parsing ----------------------------------------------------------------------------------------
def test_tokens_from_arrow_lists_and_from_delimited_text_agree():
    lists = pa.array([["a", " b "], None, [], ["c", None, ""], ["a"]], pa.list_(pa.string()))
    text = pa.array(["a| b ", None, "", "c||", "a"])
    for array, separator in ((lists, "|"), (text, "|")):
        got = list_tokens(array, separator=separator, column="x", file=None)
        assert got.tokens.to_pylist() == ["a", "b", "c", "a"]
        assert got.rows.tolist() == [0, 0, 3, 4]
        assert got.lengths.tolist() == [2, 0, 0, 1, 1]
        assert got.missing.tolist() == [False, True, False, False, False]


def test_tokens_of_int_lists_large_lists_list_views_and_slices_are_named_like_categories():
    ints = pa.array([[1, 2], [3]], pa.list_(pa.int64()))
    assert list_tokens(ints, separator="|", column="x", file=None).tokens.to_pylist() == ["1", "2", "3"]
    floats = pa.array([[1.0, 2.5]], pa.large_list(pa.float64()))
    assert list_tokens(floats, separator="|", column="x", file=None).tokens.to_pylist() == ["1", "2.5"]
    view = pa.ListViewArray.from_arrays(pa.array([0, 0, 1], pa.int32()), pa.array([2, 0, 2], pa.int32()), [7, 8, 9])
    got = list_tokens(view.take(pa.array([2, 0])), separator="|", column="x", file=None)
    assert (got.tokens.to_pylist(), got.lengths.tolist()) == (["8", "9", "7", "8"], [2, 2])
    sliced = pa.chunked_array([pa.array([["p"], ["q", "r"]]), pa.array([["s"]])])
    got = list_tokens(sliced, separator="|", column="x", file=None)
    assert (got.tokens.to_pylist(), got.rows.tolist()) == (["p", "q", "r", "s"], [0, 1, 1, 2])


def test_a_column_of_nulls_is_all_missing_lists():
    got = list_tokens(pa.nulls(3), separator="|", column="x", file=None)
    assert (len(got.tokens), got.lengths.tolist(), got.missing.tolist()) == (0, [0, 0, 0], [True, True, True])


def test_columns_that_are_not_lists_are_schema_errors_naming_the_column():
    with pytest.raises(SchemaError, match="int64") as caught:
        list_tokens(pa.array([1, 2]), separator="|", column="history", file="f.csv")
    assert caught.value.column == "history" and "f.csv" in str(caught.value)
    with pytest.raises(SchemaError, match="list elements"):
        list_tokens(pa.array([[[1]]]), separator="|", column="history", file=None)


def test_sequence_separator_is_detected_in_order_and_falls_back_to_comma():
    assert detect_separator(pa.array(["1,2", "3 4"])) == ","
    assert detect_separator(pa.array(["1 2", "3|4"])) == "|"
    assert detect_separator(pa.array(["1 2 3", None])) == " "
    assert detect_separator(pa.array(["7", "8"])) == ","
    assert detect_separator(pa.array([[1, 2]])) == ","


# -- padding and truncation -------------------------------------------------------------------------
def test_pad_keeps_the_first_items_of_a_set_and_the_last_items_of_a_sequence():
    ids = np.array([11, 12, 13, 14, 21, 31, 32, 33])
    rows = np.array([0, 0, 0, 0, 1, 3, 3, 3])
    lengths = np.array([4, 1, 0, 3])
    first = pad(ids, rows, lengths, 3, keep_last=False)
    last = pad(ids, rows, lengths, 3, keep_last=True)
    assert first.tolist() == [[11, 12, 13], [21, 0, 0], [0, 0, 0], [31, 32, 33]]
    assert last.tolist() == [[12, 13, 14], [21, 0, 0], [0, 0, 0], [31, 32, 33]]
    assert first.dtype == np.int64


def test_preprocessor_truncates_multihot_at_the_start_and_sequence_at_the_end():
    table = pa.table({"tags": ["a|b|c", "c", None], "seen": ["a b c", "b", ""]})
    schema = list_schema(("tags", "multihot", {"max_len": 2}), ("seen", "sequence", {"max_len": 2}))
    pre = Preprocessor(schema).fit(table)
    tags, seen = pre.transform(table).lists
    tag_id = dict(zip(pre.list_columns_[0].values, range(2, 5), strict=True))
    seen_id = dict(zip(pre.list_columns_[1].values, range(2, 5), strict=True))
    assert tags.tolist() == [[tag_id["a"], tag_id["b"]], [tag_id["c"], 0], [0, 0]]
    assert seen.tolist() == [[seen_id["b"], seen_id["c"]], [seen_id["b"], 0], [0, 0]]
    assert pre.list_columns_[1].separator == " "
    report = pre.report_["columns"]
    assert (report["tags"]["truncated_rows"], report["tags"]["missing"], report["tags"]["max_len_from"]) == (
        1,
        1,
        "option",
    )
    assert (report["seen"]["truncated_rows"], report["seen"]["empty_rows"], report["seen"]["tokens"]) == (1, 1, 4)


def test_default_max_len_is_the_95th_percentile_of_nonempty_lengths_within_1_and_50():
    assert default_max_len(np.array([0, 0, 0])) == 1
    assert default_max_len(np.array([0] * 50 + [2] * 90 + [9] * 10)) == 9
    assert default_max_len(np.array([0] * 200 + [5] * 10)) == 5  # empty lists do not count
    assert default_max_len(np.array([3] * 100)) == 3
    assert default_max_len(np.array([1] * 20 + [400] * 80)) == 50
    lengths = np.array([1] * 96 + [10] * 4)
    assert default_max_len(lengths) == int(np.ceil(np.quantile(lengths, 0.95)))
    table = pa.table({"tags": ["|".join("t" * (i % 4 + 1)) for i in range(40)] + [None]})
    pre = Preprocessor(list_schema(("tags", "multihot", {}))).fit(table)
    assert pre.list_specs_[0]["max_len"] == 4 and pre.report_["columns"]["tags"]["max_len_from"] == "95th percentile"


# -- vocabulary ---------------------------------------------------------------------------------------
def test_vocabulary_by_frequency_with_min_frequency_and_oov_counts():
    train = pa.table({"tags": ["x|y", "y|z", "y", "x|w"]})  # y 3, x 2, w 1, z 1
    pre = Preprocessor(list_schema(("tags", "multihot", {})), PreprocessConfig(min_frequency=2)).fit(train)
    column = pre.list_columns_[0]
    assert column.values == ["y", "x"]
    assert pre.list_specs_ == [
        {"name": "tags", "kind": "multihot", "cardinality": 4, "max_len": 2, "pooling": "mean", "share": None}
    ]
    assert pre.report_["columns"]["tags"]["folded_values"] == 2
    assert pre.report_["columns"]["tags"]["folded_tokens"] == 2
    assert pre.report_["columns"]["tags"]["oov_tokens"] == 2
    out = pre.transform(pa.table({"tags": ["y|new", "z|x", None]})).lists[0]
    assert out.tolist() == [[2, 1], [1, 3], [0, 0]]
    assert pre.last_transform_report_["columns"]["tags"] == {
        "role": "multihot",
        "missing": 1,
        "tokens": 4,
        "truncated_rows": 0,
        "oov_tokens": 2,
    }


def test_shared_vocabulary_gives_the_item_columns_ids_and_the_share_index():
    table = pa.table(
        {
            "user": ["u1", "u2", "u1", "u3"],
            "item": pa.array([10, 20, 20, 30], pa.int64()),
            "history": pa.array([[], [10], [10, 20], [20, 99, 30]], pa.list_(pa.int64())),
        }
    )
    schema = list_schema(("history", "sequence", {"vocabulary_of": "item", "max_len": 3}), categorical=("user", "item"))
    pre = Preprocessor(schema).fit(table)
    batch = pre.transform(table)
    item_ids = dict(zip([10, 20, 30], batch.categorical[[0, 1, 3], 1].tolist(), strict=True))
    assert batch.lists[0].tolist() == [
        [0, 0, 0],
        [item_ids[10], 0, 0],
        [item_ids[10], item_ids[20], 0],
        [item_ids[20], 1, item_ids[30]],
    ]
    spec = pre.list_specs_[0]
    assert spec["share"] == pre.categorical_names_.index("item") == 1
    assert spec["cardinality"] == pre.cardinalities_[1]
    assert pre.list_columns_[0].values == []
    assert pre.report_["columns"]["history"]["oov_tokens"] == 1


def test_shared_hashed_column_hashes_the_list_items_alike():
    table = pa.table({"item": ["a", "b", "c"], "seen": [["a"], ["a", "b"], ["zz"]]})
    schema = Schema(
        [
            ColumnSpec("item", "categorical", "string", "test", {"hash_buckets": 50}),
            ColumnSpec("seen", "sequence", "list<string>", "test", {"vocabulary_of": "item", "max_len": 2}),
        ]
    )
    pre = Preprocessor(schema).fit(table)
    batch = pre.transform(table)
    a, b = batch.categorical[0, 0], batch.categorical[1, 0]
    assert batch.lists[0][:2].tolist() == [[a, 0], [a, b]]
    assert 2 <= batch.lists[0][2, 0] < 52
    assert pre.list_specs_[0]["cardinality"] == 52 == pre.cardinalities_[0]


def test_list_option_and_sharing_errors():
    with pytest.raises(SchemaError, match="vocabulary_of names 'price'") as caught:
        Preprocessor(
            Schema(
                [
                    ColumnSpec("price", "numeric", "double"),
                    ColumnSpec("seen", "sequence", "string", options={"vocabulary_of": "price"}),
                ]
            )
        )
    assert caught.value.column == "seen"
    with pytest.raises(ConfigError, match="'lenght'") as caught:
        Preprocessor(list_schema(("tags", "multihot", {"lenght": 3})))
    assert caught.value.column == "tags" and "separator, max_len, pooling, vocabulary_of" in str(caught.value)
    with pytest.raises(ConfigError, match="pooling"):
        Preprocessor(list_schema(("tags", "multihot", {"pooling": "max"})))


# -- persistence --------------------------------------------------------------------------------------
def test_json_round_trip_gives_identical_lists_specs_and_state():
    table = pa.table(
        {
            "item": ["a", "b", "a", "c"],
            "tags": ["x|y", "y", None, "z|x|y"],
            "seen": pa.array([["a"], ["a", "b"], [], ["c", "a", "b"]], pa.list_(pa.string())),
        }
    )
    schema = list_schema(
        ("tags", "multihot", {"pooling": "sum"}),
        ("seen", "sequence", {"vocabulary_of": "item"}),
        categorical=("item",),
    )
    pre = Preprocessor(schema).fit(table)
    state = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessor.from_dict(state)
    assert again.to_dict() == pre.to_dict()
    assert again.list_specs_ == pre.list_specs_
    for got, want in zip(again.transform(table).lists, pre.transform(table).lists, strict=True):
        np.testing.assert_array_equal(got, want)
    assert [s["pooling"] for s in again.list_specs_] == ["sum", "mean"]
    text = table.set_column(2, "seen", pa.array(["a", "a,b", "", "c,a,b"]))  # new data as text
    np.testing.assert_array_equal(again.transform(text).lists[1], pre.transform(table).lists[1])
