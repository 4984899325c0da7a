"""needmap.data.overrides: YAML role files and comma-separated column lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from needmap.data.overrides import load_overrides, parse_column_list, schema_options
from needmap.errors import ConfigError


def yaml_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roles.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_column_list() -> None:
    assert parse_column_list("a,b, c") == ["a", "b", "c"]
    assert parse_column_list(" a ,, b ,") == ["a", "b"]
    assert parse_column_list(["x ", "y"]) == ["x", "y"]
    assert parse_column_list(None) == [] and parse_column_list("") == []


def test_load_all_keys(tmp_path: Path) -> None:
    path = yaml_file(
        tmp_path,
        "target: y\n"
        "task: binary\n"
        "drop: [duration]\n"
        "id: customer_id, account_id\n"
        "categorical:\n  - pdays\n  - 2019\n"
        "numeric: ''\n"
        "datetime:\n"
        "preprocess:\n  numeric: {scaling: quantile}\n",
    )
    got = load_overrides(path)
    assert got == {
        "target": "y",
        "task": "binary",
        "drop": ["duration"],
        "id": ["customer_id", "account_id"],
        "categorical": ["pdays", "2019"],
        "numeric": [],
        "datetime": [],
        "preprocess": {"numeric": {"scaling": "quantile"}},
    }
    assert schema_options(got) == {
        "target": "y",
        "task": "binary",
        "drop": ["duration"],
        "ids": ["customer_id", "account_id"],
        "categorical": ["pdays", "2019"],
        "numeric": [],
        "datetime": [],
    }


def test_empty_file_sets_nothing(tmp_path: Path) -> None:
    assert load_overrides(yaml_file(tmp_path, "# nothing here\n")) == {}


def test_unknown_key_names_file_key_and_allowed_keys(tmp_path: Path) -> None:
    path = yaml_file(tmp_path, "target: y\nids: [a]\n")
    with pytest.raises(ConfigError) as info:
        load_overrides(path)
    text = str(info.value)
    assert "roles.yaml" in text and "'ids'" in text and "target, task, drop, id" in text
    assert info.value.hint == "Did you mean 'id'?"


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    path = yaml_file(tmp_path, "target: y\ndrop: [a, b\nnumeric: c\n")
    with pytest.raises(ConfigError) as info:
        load_overrides(path)
    assert "roles.yaml" in str(info.value) and "line 3" in str(info.value) and "invalid YAML" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "top level"),
        ("task: ranking\n", "task 'ranking'"),
        ("drop: {a: 1}\n", "expected a list of column names"),
        ("preprocess: [1, 2]\n", "expected a mapping"),
        ("target: [a, b]\n", "expected one name"),
    ],
)
def test_values_of_the_wrong_kind(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_overrides(yaml_file(tmp_path, text))
    assert "roles.yaml" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as info:
        load_overrides(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(info.value)


def test_feature_type_keys_and_options(tmp_path: Path) -> None:
    path = yaml_file(
        tmp_path,
        "target: liked\n"
        "multihot: [genres]\n"
        "sequence: {history: {vocabulary_of: movieId, max_len: 50}}\n"
        "hash: {userId: 100000, zip: {hash_buckets: 64}, shop: }\n"
        "bucketize: {age: 10}\n"
        'options: {genres: {separator: "|", max_len: 20, pooling: sum}}\n',
    )
    got = load_overrides(path)
    assert got == {
        "target": "liked",
        "multihot": {"genres": {}},
        "sequence": {"history": {"vocabulary_of": "movieId", "max_len": 50}},
        "hash": {"userId": {"hash_buckets": 100000}, "zip": {"hash_buckets": 64}, "shop": {"hash_buckets": 100000}},
        "bucketize": {"age": {"bucketize": 10}},
        "options": {"genres": {"separator": "|", "max_len": 20, "pooling": "sum"}},
    }
    assert schema_options(got) == got  # the keys are infer_schema's keyword names
    listed = load_overrides(yaml_file(tmp_path, "bucketize: age, income\nsequence: [history]\n"))
    assert listed == {"bucketize": {"age": {"bucketize": 10}, "income": {"bucketize": 10}}, "sequence": {"history": {}}}


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("hash: {userId: [1, 2]}\n", "expected a whole number of buckets or a mapping", "userId"),
        ("hash: {userId: 0}\n", "hash_buckets is 0", "userId"),
        ("bucketize: {age: {buckets: 4}}\n", "'buckets'", "age"),
        ("sequence: {history: {max_len: -1}}\n", "max_len is -1", "history"),
        ("multihot: {genres: {pooling: max}}\n", "pooling is 'max'", "genres"),
        ("options: {genres: {seperator: '|'}}\n", "'seperator'", "genres"),
        ("options: {genres: 3}\n", "expected a mapping of option names", "genres"),
        ("multihot: 5\n", "expected a list of column names or a mapping", None),
        ("options: [genres]\n", "expected a mapping from column name to options", None),
    ],
)
def test_feature_type_values_of_the_wrong_kind(tmp_path: Path, text: str, message: str, column: str | None) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_overrides(yaml_file(tmp_path, text))
    assert "roles.yaml" in str(info.value) and info.value.column == column


def test_unknown_option_names_the_column_and_the_accepted_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_overrides(yaml_file(tmp_path, "sequence: {history: {vocab: movieId}}\n"))
    assert "column 'history'" in str(info.value)
    assert "separator, max_len, pooling, vocabulary_of" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_overrides(yaml_file(tmp_path, "multi_hot: [genres]\n"))
    assert info.value.hint == "Did you mean 'multihot'?"
