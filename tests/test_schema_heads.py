"""A schema lists its targets as heads; schema JSON of one target written before heads still loads."""

from __future__ import annotations

import json

import pytest

from needmap.errors import SchemaError
from needmap.preprocessing.target import head_schema, target_names, target_tasks
from needmap.schema import ColumnSpec, Head, Schema

COLUMNS = [
    {"name": "age", "role": "numeric", "dtype": "int64", "reason": "numbers", "options": {}},
    {"name": "income", "role": "target", "dtype": "string", "reason": "binary target", "options": {}},
    {"name": "hours", "role": "target", "dtype": "int64", "reason": "target 2", "options": {}},
]


def test_one_target_is_a_list_of_one_head() -> None:
    schema = Schema([ColumnSpec(**COLUMNS[0])], target="income", task="binary", classes=["no", "yes"])
    assert schema.heads == [Head("income", "binary", ["no", "yes"])]
    assert (schema.target, schema.task, schema.classes) == ("income", "binary", ["no", "yes"])
    assert schema.heads[0].n_outputs == 1
    assert Head("k", "multiclass", ["a", "b", "c"]).n_outputs == 3
    empty = Schema([ColumnSpec(**COLUMNS[0])])
    assert (empty.heads, empty.target, empty.task, empty.classes) == ([], None, None, [])
    with pytest.raises(ValueError, match="either heads or target"):
        Schema([], target="income", heads=[Head("income", "binary", ["no", "yes"])])


def test_heads_round_trip_through_json_with_the_first_head_keys_beside() -> None:
    heads = [Head("income", "binary", ["no", "yes"]), Head("hours", "regression", [])]
    schema = Schema([ColumnSpec(**c) for c in COLUMNS], heads=heads)
    data = json.loads(json.dumps(schema.to_dict()))
    assert data["heads"] == [
        {"name": "income", "task": "binary", "classes": ["no", "yes"]},
        {"name": "hours", "task": "regression", "classes": []},
    ]
    assert (data["target"], data["task"], data["classes"]) == ("income", "binary", ["no", "yes"])
    assert Schema.from_dict(data) == schema
    assert target_names(schema) == ["income", "hours"] and target_tasks(schema) == ["binary", "regression"]
    assert head_schema(schema, "hours").heads == [heads[1]]


def test_old_single_target_schema_json_loads() -> None:
    old = {"columns": COLUMNS[:2], "target": "income", "task": "binary", "classes": ["no", "yes"]}
    schema = Schema.from_dict(old)
    assert schema.heads == [Head("income", "binary", ["no", "yes"])]
    assert Schema.from_dict({"columns": COLUMNS[:1], "target": None, "task": None, "classes": []}).heads == []


def test_a_schema_json_with_keys_needmap_does_not_read_is_refused_naming_them() -> None:
    # The form of several targets written before heads: the first target, then the others under extra_targets.
    old = {
        "columns": COLUMNS,
        "target": "income",
        "task": "binary",
        "classes": ["no", "yes"],
        "extra_targets": [{"name": "hours", "task": "regression", "classes": []}],
    }
    with pytest.raises(
        SchemaError,
        match=r"holds the key 'extra_targets', which needmap does not read; expected only "
        r"columns, heads, target, task, classes",
    ) as error:
        Schema.from_dict(old)
    assert "train it again" in error.value.hint
    schema = Schema(
        [ColumnSpec(**COLUMNS[0])],
        heads=[Head("income", "binary", ["no", "yes"]), Head("hours", "regression", [])],
    )
    assert Schema.from_dict(schema.to_dict()) == schema
