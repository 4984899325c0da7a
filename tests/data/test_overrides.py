"""needmap.data.overrides: comma-separated column lists. The YAML file's reading and its feature-type keys
are tested through needmap.workflows.config_file in tests/test_config_file.py."""

from __future__ import annotations

from needmap.data.overrides import parse_column_list


def test_parse_column_list() -> None:
    assert parse_column_list("a,b, c") == ["a", "b", "c"]
    assert parse_column_list(" a ,, b ,") == ["a", "b"]
    assert parse_column_list(["x ", "y"]) == ["x", "y"]
    assert parse_column_list(None) == [] and parse_column_list("") == []
