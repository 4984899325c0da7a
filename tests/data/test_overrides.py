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
