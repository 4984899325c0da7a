"""needmap.workflows.config_file: reading and checking the YAML file that ``--config`` gives.

read_config keeps the values as the file writes them, under each option's Python name; the option's group
(ColumnRoles for the column roles) turns them into one form when it is made, as the command line does
when it lays its own options over the file's. The expected forms below are written out by hand from the
rules in needmap.data.overrides and needmap.data.options (a bare name gets the default options, a number
under ``hash`` or ``bucketize`` is the buckets).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from needmap.data.options import DEFAULT_BUCKETS, DEFAULT_HASH_BUCKETS
from needmap.data.roles import ColumnRoles
from needmap.errors import ConfigError
from needmap.preprocessing.config import PreprocessConfig
from needmap.workflows.config_file import read_config


def yaml_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roles.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def roles_of(path: Path) -> ColumnRoles:
    """The column roles a file sets, in the one form ColumnRoles converts them to."""
    return ColumnRoles(**read_config(path).options.get(ColumnRoles, {}))


def test_the_column_roles_and_the_nested_preprocess_form(tmp_path: Path) -> None:
    path = yaml_file(
        tmp_path,
        "target: y\n"
        "task: binary\n"
        "drop: [duration]\n"
        "id: customer_id, account_id\n"
        "categorical:\n  - pdays\n  - 2019\n"
        "numeric: ''\n"
        "datetime:\n"
        "preprocess:\n  scaling: quantile\n",
    )
    config = read_config(path)
    # as written, under the Python names; the nested preprocess keys go to the preprocessing options
    assert config.options[ColumnRoles] == {
        "target": "y",
        "task": "binary",
        "drop": ["duration"],
        "id": "customer_id, account_id",
        "categorical": ["pdays", 2019],
        "numeric": "",
        "datetime": None,
    }
    assert config.options[PreprocessConfig] == {"scaling": "quantile"}
    assert config.model is None and config.params == {}
    roles = ColumnRoles(**config.options[ColumnRoles])
    assert (roles.target, roles.task) == ("y", "binary")
    assert roles.drop == ["duration"]
    assert roles.id == ["customer_id", "account_id"]
    assert roles.categorical == ["pdays", "2019"]
    assert roles.numeric == [] and roles.datetime == []


def test_an_empty_file_sets_nothing(tmp_path: Path) -> None:
    config = read_config(yaml_file(tmp_path, "# nothing here\n"))
    assert all(values == {} for values in config.options.values())
    assert config.model is None and config.params == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target: y\nids: [a]\n", "unknown option 'ids'; closest: column role option 'id'"),
        ("multi_hot: [genres]\n", "unknown option 'multi_hot'; closest: column role option 'multihot'"),
        ("options_: {a: {pooling: sum}}\n", "closest: column role option 'column_options'"),
        ("preprocess:\n  numeric: {scaling: quantile}\n", "unknown option 'preprocess.numeric'; it is none of"),
    ],
)
def test_an_unknown_key_names_the_file_the_key_and_the_closest_option(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        read_config(yaml_file(tmp_path, text))
    assert info.value.file is not None and info.value.file.endswith("roles.yaml")


def test_invalid_yaml_gives_the_file_and_the_line(tmp_path: Path) -> None:
    path = yaml_file(tmp_path, "target: y\ndrop: [a, b\nnumeric: c\n")
    with pytest.raises(ConfigError) as info:
        read_config(path)
    text = str(info.value)
    assert "roles.yaml" in text and "line 3" in text and "invalid YAML" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "found a YAML list at the top level"),
        ("task: ranking\n", "task is 'ranking'; expected one of binary, regression, multiclass"),
        ("target: [a, b]\ntask: [binary, ranking]\n", r"task is \['binary', 'ranking'\]"),
        ("drop: {a: 1}\n", r"drop is \{'a': 1\}; expected a comma-separated string or a list of column names"),
        ("target: {a: 1}\n", "target is .*; expected a column name, a comma-separated string of names or a list"),
        ("target: 2019\n", "target is 2019; expected a column name"),
        ("preprocess: [1, 2]\n", "preprocess is a list; expected a mapping"),
        ("preprocess: []\n", "preprocess is a list; expected a mapping"),
        ("preprocess: false\n", "preprocess is a bool; expected a mapping"),
        ("params: 0\n", "params is 0; expected a mapping"),
        ("model: 3\n", "model is 3; expected an architecture name"),
    ],
)
def test_values_of_the_wrong_kind_are_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        read_config(yaml_file(tmp_path, text))
    assert "roles.yaml" in str(info.value)


def test_several_targets_are_a_list(tmp_path: Path) -> None:
    """One name or several: a list of targets makes a model of several targets, each with its task."""
    roles = roles_of(yaml_file(tmp_path, "target: [clicked, bought]\ntask: [binary, binary]\n"))
    assert roles.target == ["clicked", "bought"] and roles.task == ["binary", "binary"]
    assert roles_of(yaml_file(tmp_path, "target: y\n")).target == "y"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found") as info:
        read_config(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(info.value)


def test_feature_type_keys_and_column_options(tmp_path: Path) -> None:
    path = yaml_file(
        tmp_path,
        "target: liked\n"
        "multihot: [genres]\n"
        "sequence: {history: {vocabulary_of: movieId, max_len: 50}}\n"
        "hash: {userId: 100000, zip: {hash_buckets: 64}, shop: }\n"
        "bucketize: {age: 10}\n"
        'options: {genres: {separator: "|", max_len: 20, pooling: sum}}\n',
    )
    written = read_config(path).options[ColumnRoles]
    assert set(written) == {"target", "multihot", "sequence", "hash", "bucketize", "column_options"}
    roles = ColumnRoles(**written)
    assert roles.multihot == {"genres": {}}
    assert roles.sequence == {"history": {"vocabulary_of": "movieId", "max_len": 50}}
    assert roles.hash == {
        "userId": {"hash_buckets": 100000},
        "zip": {"hash_buckets": 64},
        "shop": {"hash_buckets": DEFAULT_HASH_BUCKETS},
    }
    assert roles.bucketize == {"age": {"bucketize": 10}}
    assert roles.column_options == {"genres": {"separator": "|", "max_len": 20, "pooling": "sum"}}
    listed = roles_of(yaml_file(tmp_path, "bucketize: age, income\nsequence: [history]\n"))
    assert listed.bucketize == {"age": {"bucketize": DEFAULT_BUCKETS}, "income": {"bucketize": DEFAULT_BUCKETS}}
    assert listed.sequence == {"history": {}}


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
def test_feature_type_values_of_the_wrong_kind_name_the_file_and_the_column(
    tmp_path: Path, text: str, message: str, column: str | None
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        read_config(yaml_file(tmp_path, text))
    assert info.value.file is not None and info.value.file.endswith("roles.yaml")
    assert info.value.column == column
    if column is not None:
        assert f"column '{column}'" in str(info.value)


def test_an_unknown_column_option_names_the_column_and_the_accepted_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_config(yaml_file(tmp_path, "sequence: {history: {vocab: movieId}}\n"))
    assert info.value.column == "history" and "roles.yaml" in str(info.value)
    assert "separator, max_len, pooling, vocabulary_of" in str(info.value)
