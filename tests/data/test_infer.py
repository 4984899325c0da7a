"""needmap.data.infer: feature roles, target task and classes, overrides; needmap.preprocessing.describe."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.datasets import bank_marketing_path
from needmap.errors import ConfigError, SchemaError
from needmap.preprocessing.describe import describe_schema
from needmap.schema import Schema

BANK = bank_marketing_path()  # the whole file, as needmap ships it
DATASETS = Path(__file__).resolve().parents[1] / "datasets"  # slices of public datasets, in the repository
SHOPPERS = DATASETS / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"

N = 40


def features_table() -> pa.Table:
    """40 rows, one column per inference rule."""
    half = [i % 2 == 0 for i in range(N)]
    return pa.table(
        {
            "age": pa.array([20 + i % 7 for i in range(N)], pa.int64()),
            "score": pa.array([i / 3 for i in range(N)], pa.float64()),  # unique but float: not an id
            "city": pa.array(["paris", "lyon", None, "nice"] * (N // 4)),
            "member": pa.array(half),
            "country": pa.array(["fr"] * (N - 2) + [None, None]),
            "empty": pa.array([None] * N, pa.float64()),
            "row_key": pa.array([f"k{i:03d}" for i in range(N)]),  # unique text, n > 20: id
            "amount_text": pa.array([f"{i}.5" for i in range(N - 1)] + ["n/a"]),
            "code_text": pa.array(["1", "2", "x", "y"] * (N // 4)),
            "signup": pa.array([f"2024-01-{1 + i % 28:02d}" for i in range(N)]),
            "seen_at": pa.array([dt.datetime(2024, 1, 1, i % 24) for i in range(N)], pa.timestamp("s")),
            "tags": pa.array([[1, 2]] * N, pa.list_(pa.int64())),
            "meta": pa.array([{"a": i} for i in range(N)]),
            "y": pa.array(["yes", "no", "no", "no"] * (N // 4)),
        }
    )


def roles(schema: Schema) -> dict[str, str]:
    return {c.name: c.role for c in schema.columns}


def test_feature_roles_and_reasons() -> None:
    schema = infer_schema(features_table(), "y")
    assert roles(schema) == {
        "age": "numeric",
        "score": "numeric",
        "city": "categorical",
        "member": "categorical",
        "country": "ignored",
        "empty": "ignored",
        "row_key": "id",
        "amount_text": "numeric",
        "code_text": "categorical",
        "signup": "datetime",
        "seen_at": "datetime",
        "tags": "multihot",
        "meta": "ignored",
        "y": "target",
    }
    reason = {c.name: c.reason for c in schema.columns}
    assert reason["country"].startswith("constant: every row is 'fr'")
    assert reason["empty"].startswith("all values missing")
    assert reason["row_key"] == "all 40 values unique"
    assert "39 of 40" in reason["amount_text"] and "1 did not" in reason["amount_text"]
    assert "'n/a'" in reason["amount_text"]
    assert reason["tags"] == "Arrow list column (list<item: int64>)"
    assert "not supported" in reason["meta"]
    assert schema.column("city").dtype == "string" and schema.column("seen_at").dtype == "timestamp[s]"
    assert schema.features == ["age", "score", "amount_text", "city", "member", "code_text", "tags"]


def test_numeric_parse_ratio_decides_text_columns() -> None:
    table = pa.table({"v": ["1", "2", "3", "x"] * 5})  # 75% numbers
    assert infer_schema(table).column("v").role == "categorical"
    assert infer_schema(table, numeric_parse_ratio=0.7).column("v").role == "numeric"


def test_id_by_name_on_small_tables_and_not_without_uniqueness() -> None:
    table = pa.table(
        {
            "customer_id": [3, 1, 2, 5],
            "CustomerID": ["a", "b", "c", "d"],
            "ref": [3, 1, 2, 5],  # unique but n <= 20 and not named like an id
            "store_id": [1, 1, 2, 3],  # named like an id but repeated: an entity, learned per value
            "paid": [10, 20, 30, 40],  # ends in 'id' without a separator
        }
    )
    got = roles(infer_schema(table))
    assert got == {
        "customer_id": "id",
        "CustomerID": "id",
        "ref": "numeric",
        "store_id": "categorical",
        "paid": "numeric",
    }


def test_repeated_integers_named_like_an_identifier_are_categories() -> None:
    n = 60
    table = pa.table(
        {
            "userId": [i % 7 for i in range(n)],
            "movie_ID": [str(1000 + i % 11) for i in range(n)],  # text holding integers
            "shop_id": [float(i % 5) for i in range(n)],  # floats: not labels of an entity
            "visits": [i % 7 for i in range(n)],  # the same integers, not named like an identifier
            "order_id": list(range(n)),  # unique: the row's key
        }
    )
    schema = infer_schema(table)
    assert roles(schema) == {
        "userId": "categorical",
        "movie_ID": "categorical",
        "shop_id": "numeric",
        "visits": "numeric",
        "order_id": "id",
    }
    assert schema.column("userId").reason.startswith("integers named like an identifier, 7 distinct in 60 rows")


# -- target ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "classes"),
    [
        (["yes", "no", "no"], ["no", "yes"]),
        (["No", "Yes", "No"], ["No", "Yes"]),
        ([True, False, False], ["false", "true"]),
        ([1, 0, 0], ["0", "1"]),
        ([1.0, 0.0, 0.0], ["0", "1"]),
        (["Y", "N", "N"], ["N", "Y"]),
        (["positive", "negative", "negative"], ["negative", "positive"]),
        (["TRUE", "FALSE", "FALSE"], ["FALSE", "TRUE"]),
        (["churn", "stay", "stay"], ["churn", "stay"]),
        (["b", "a", "b"], ["a", "b"]),
    ],
)
def test_binary_targets_put_the_positive_class_last(values: list, classes: list[str]) -> None:
    schema = infer_schema(pa.table({"t": values * 4, "x": list(range(12))}), "t")
    assert schema.task == "binary"
    assert schema.classes == classes
    assert f"positive class '{classes[1]}'" in schema.column("t").reason


def test_multiclass_regression_and_missing_targets() -> None:
    table = pa.table(
        {
            "grade": ["b", "a", "c", None] * 5,
            "rating": [1, 10, 2, 3] * 5,
            "spend": [float(i) for i in range(20)],
            "visits": list(range(20)),
        }
    )
    grade = infer_schema(table, "grade")
    assert (grade.task, grade.classes) == ("multiclass", ["a", "b", "c"])
    assert "5 rows with a missing target will be dropped" in grade.column("grade").reason
    rating = infer_schema(table, "rating")
    assert (rating.task, rating.classes) == ("multiclass", ["1", "2", "3", "10"])  # numbers by value
    spend = infer_schema(table, "spend")
    assert (spend.task, spend.classes) == ("regression", [])
    assert infer_schema(table, "visits", task="regression").task == "regression"
    many = pa.table({"n": list(range(60)), "s": [str(i) for i in range(60)]})
    assert infer_schema(many, "n").task == "regression"
    assert infer_schema(many, "s").task == "regression"  # text that is all numbers


def test_target_errors() -> None:
    table = pa.table(
        {
            "one": ["yes"] * 4 + [None],
            "none": pa.array([None] * 5, pa.string()),
            "three": ["a", "b", "c", "a", "b"],
            "words": ["x", "y", "z", "x", "y"],
            "stamp": pa.array([dt.date(2024, 1, d) for d in range(1, 6)]),
        }
    )
    with pytest.raises(SchemaError) as info:
        infer_schema(table, "one")
    assert info.value.column == "one" and "'yes'" in str(info.value) and "two classes" in str(info.value)
    with pytest.raises(SchemaError, match="all 5 rows are missing"):
        infer_schema(table, "none")
    with pytest.raises(SchemaError, match="3 classes") as info:
        infer_schema(table, "three", task="binary")
    assert "multiclass" in str(info.value.hint)
    with pytest.raises(SchemaError, match="'x', which is not a number"):
        infer_schema(table, "words", task="regression")
    with pytest.raises(SchemaError, match="type date32"):
        infer_schema(table, "stamp")
    with pytest.raises(ConfigError, match="task 'ranking'"):
        infer_schema(table, "three", task="ranking")
    wide = pa.table({"w": [f"w{i}" for i in range(80)]})
    with pytest.raises(SchemaError, match="80 distinct text values"):
        infer_schema(wide, "w")
    assert infer_schema(wide, "w", task="multiclass").classes[:2] == ["w0", "w1"]


def test_missing_target_lists_columns_and_closest_name(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"age,Converted,city\n1,yes,a\n2,no,b\n")
    with pytest.raises(SchemaError) as info:
        infer_schema(read(path), "converted")
    text = str(info.value)
    assert "'converted'" in text and "age, Converted, city" in text and "c.csv" in text
    assert info.value.hint == "Did you mean 'Converted'?"


# -- overrides ------------------------------------------------------------------------------------------
def test_overrides_win_with_reason() -> None:
    schema = infer_schema(
        features_table(),
        "y",
        drop=["age"],
        ids="city",
        categorical="score, member",
        numeric=["code_text"],
        datetime=("row_key",),
    )
    got = roles(schema)
    assert (got["age"], got["city"], got["score"], got["member"]) == (
        "ignored",
        "id",
        "categorical",
        "categorical",
    )
    assert (got["code_text"], got["row_key"]) == ("numeric", "datetime")
    assert all(schema.column(n).reason == "set by user" for n in ("age", "city", "score", "code_text", "row_key"))


def test_override_errors() -> None:
    table = features_table()
    with pytest.raises(SchemaError) as info:
        infer_schema(table, "y", drop=["duraton", "age"])
    assert "'duraton'" in str(info.value) and "drop" in str(info.value) and "age, score" in str(info.value)
    with pytest.raises(SchemaError) as info:
        infer_schema(table, "y", categorical=["age"], numeric=["age"])
    assert info.value.column == "age" and "categorical" in str(info.value) and "numeric" in str(info.value)
    with pytest.raises(SchemaError, match="target"):
        infer_schema(table, "y", drop="y")


# -- describe and real data ----------------------------------------------------------------------------
def test_describe_schema_rows() -> None:
    table = features_table()
    rows = {r["name"]: r for r in describe_schema(infer_schema(table, "y"), table)}
    assert list(rows["city"]) == ["name", "role", "type", "distinct", "missing", "reason"]
    assert (rows["city"]["distinct"], rows["city"]["missing"]) == (3, 10)
    assert (rows["empty"]["distinct"], rows["empty"]["missing"]) == (0, N)
    assert rows["y"]["role"] == "target" and rows["y"]["type"] == "string"
    assert rows["tags"]["distinct"] is None


def test_bank_marketing_schema() -> None:
    table = read(BANK)
    schema = infer_schema(table, "y", drop="duration")
    assert (schema.task, schema.classes) == ("binary", ["no", "yes"])
    assert schema.column("duration").role == "ignored"
    assert len(schema.numeric) == 9 and len(schema.categorical) == 10
    # the schema table says which numerics will also get a value field: levels and codes, not counts
    valued = [r["name"] for r in describe_schema(schema, table) if "+ a value field" in r["reason"]]
    assert valued == ["pdays", "emp.var.rate", "cons.price.idx", "cons.conf.idx", "nr.employed"]
    columns = [dataclasses.replace(c, options={"values": True}) if c.name == "age" else c for c in schema.columns]
    asked = dataclasses.replace(schema, columns=columns)  # the column option decides for one column
    assert "+ a value field" in describe_schema(asked, table)[0]["reason"]


def test_online_shoppers_schema() -> None:
    schema = infer_schema(read(SHOPPERS), "Revenue")
    assert (schema.task, schema.classes) == ("binary", ["false", "true"])
    assert schema.column("Weekend").role == "categorical"


# -- feature types: lists, hashing, buckets -------------------------------------------------------------
def typed_table() -> pa.Table:
    return pa.table(
        {
            "user": pa.array([i % 7 for i in range(N)], pa.int64()),
            "item": pa.array([f"m{i % 5}" for i in range(N)]),
            "age": pa.array([20 + i % 30 for i in range(N)], pa.int64()),
            "genres": pa.array(["Drama|Comedy", "Comedy", "Action|Drama|War", None] * (N // 4)),
            "history": pa.array(["m1 m2", "m3", "", "m2 m4 m1"] * (N // 4)),
            "y": pa.array(["yes", "no"] * (N // 2)),
        }
    )


def test_feature_type_overrides_give_roles_options_and_reasons() -> None:
    schema = infer_schema(
        typed_table(),
        "y",
        categorical=["item"],
        sequence={"history": {"vocabulary_of": "item", "max_len": 5}},
        hash={"user": 1000},
        bucketize=["age"],
        options={"genres": {"max_len": 3, "pooling": "sum"}},
    )
    got = {c.name: (c.role, c.options) for c in schema.columns}
    assert got["history"] == ("sequence", {"vocabulary_of": "item", "max_len": 5})
    assert got["user"] == ("categorical", {"hash_buckets": 1000})
    assert got["age"] == ("numeric", {"bucketize": 10})
    assert got["genres"] == ("multihot", {"separator": "|", "max_len": 3, "pooling": "sum"})  # inferred + options
    assert schema.column("user").reason == "set by user: hashed into 1,000 buckets"
    assert schema.column("age").reason == "set by user: 10 quantile buckets"
    assert schema.features == ["age", "user", "item", "genres", "history"]
    named = infer_schema(
        typed_table(), "y", multihot="genres, history", hash="user", bucketize={"age": {"bucketize": 4}}
    )
    assert named.column("history").role == "multihot" and named.column("genres").reason == "set by user"
    assert named.column("user").options == {"hash_buckets": 100_000}
    assert named.column("age").options == {"bucketize": 4}


def test_pipe_text_is_multihot_only_when_most_values_hold_pipes_and_tokens_repeat() -> None:
    table = pa.table(
        {
            "genres": ["a|b", "b|c", "a", "c|a|b"] * 10,
            "codes": [f"A{i}|X{i}" for i in range(N)],  # tokens never repeat: an identifier
            "notes": ["x|y"] * 10 + ["x", "y", "z"] * 10,  # a quarter hold '|'
        }
    )
    schema = infer_schema(table)
    assert schema.column("genres").role == "multihot" and schema.column("genres").options == {"separator": "|"}
    assert schema.column("genres").reason.startswith("lists separated by '|' (30 of 40 values hold '|'; 3 distinct")
    assert schema.column("codes").role == "id"
    assert schema.column("notes").role == "categorical"
    one_token = infer_schema(pa.table({"t": ["a|a", "a|", "a|a|a"] * 10}))
    assert one_token.column("t").role == "categorical"  # one distinct token is no list


def test_feature_type_errors() -> None:
    table = typed_table()
    with pytest.raises(SchemaError, match="whose role is numeric") as info:
        infer_schema(table, "y", numeric=["age"], sequence={"history": {"vocabulary_of": "age"}})
    assert info.value.column == "history"
    with pytest.raises(SchemaError, match="'movie'") as info:
        infer_schema(table, "y", sequence={"history": {"vocabulary_of": "movie"}})
    assert info.value.column == "history"
    with pytest.raises(SchemaError, match="'item', whose role is numeric"):
        infer_schema(table, "y", bucketize=["item"], sequence={"history": {"vocabulary_of": "item"}})
    with pytest.raises(ConfigError) as info:
        infer_schema(table, "y", multihot={"genres": {"max_length": 3}})
    assert info.value.column == "genres" and "'max_length'" in str(info.value)
    assert "separator, max_len, pooling, vocabulary_of" in str(info.value)
    with pytest.raises(ConfigError, match="expected only these keys: bucketize") as info:
        infer_schema(table, "y", options={"age": {"separator": "|"}})
    assert info.value.column == "age"
    with pytest.raises(SchemaError, match="two roles"):
        infer_schema(table, "y", multihot=["genres"], sequence=["genres"])
    with pytest.raises(SchemaError, match="two roles"):
        infer_schema(table, "y", hash=["user"], numeric=["user"])
    assert infer_schema(table, "y", hash=["user"], categorical=["user"]).column("user").role == "categorical"
    with pytest.raises(SchemaError, match="'genre'") as info:
        infer_schema(table, "y", options={"genre": {"max_len": 2}})
    assert info.value.hint == "Did you mean 'genres'?"
    with pytest.raises(ConfigError, match="max_len is 0"):
        infer_schema(table, "y", sequence={"history": {"max_len": 0}})


def test_an_item_column_read_as_integers_becomes_categorical_when_a_sequence_shares_it() -> None:
    table = pa.table(  # 'movie' is not named like an identifier: the shared vocabulary alone makes it categorical
        {
            "movie": pa.array([1, 2, 3, 4, 5, 6] * 5),
            "history": pa.array(["1 2", "3", "2 4 5", "", "6 1", "3 3"] * 5),
            "y": pa.array([0, 1] * 15),
        }
    )
    schema = infer_schema(table, "y", sequence={"history": {"vocabulary_of": "movie"}})
    assert schema.column("movie").role == "categorical"
    assert "shares its vocabulary" in schema.column("movie").reason
    with pytest.raises(SchemaError, match="whose role is numeric"):
        infer_schema(table, "y", numeric=["movie"], sequence={"history": {"vocabulary_of": "movie"}})
