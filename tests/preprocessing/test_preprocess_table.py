"""The preprocessor as a whole: column lookup, duplicates, persistence and options."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import ArtifactError, ConfigError, SchemaError
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor


def mixed_table() -> pa.Table:
    return pa.table(
        {
            "age": [30.0, None, 45.0, 22.0, 61.0, 38.0],
            "balance": ["100", "-20", "3e3", None, "0", "abc"],
            "job": ["admin", "admin", None, "cook", "pilot", "cook"],
            "zip": pa.array([1000, 1000, 2000, 3000, None, 2000], pa.int64()),
        }
    )


def mixed_schema(make_schema):
    return make_schema(numeric=("age", "balance"), categorical=("job", "zip"))


def test_missing_feature_columns_are_a_schema_error_naming_them_and_the_file(make_schema):
    pre = Preprocessor(mixed_schema(make_schema), PreprocessConfig(max_unparseable=0.5)).fit(mixed_table())
    table = mixed_table().drop_columns(["age", "zip"])
    table = table.replace_schema_metadata({b"needmap.source": b"march.csv", b"needmap.first_row": b"2"})
    with pytest.raises(SchemaError) as caught:
        pre.transform(table)
    message = str(caught.value)
    assert "'age'" in message and "'zip'" in message and "march.csv" in message
    with pytest.raises(SchemaError, match="'job'"):
        Preprocessor(mixed_schema(make_schema)).fit(mixed_table().drop_columns(["job"]))


def test_extra_and_reordered_columns_give_identical_output(make_schema):
    table = mixed_table()
    pre = Preprocessor(mixed_schema(make_schema), PreprocessConfig(max_unparseable=0.5)).fit(table)
    reference = pre.transform(table)
    shuffled = table.select(["zip", "job", "balance", "age"]).append_column("extra", pa.array(list("abcdef")))
    shuffled = shuffled.add_column(0, "id", pa.array(range(6)))
    out = pre.transform(shuffled)
    np.testing.assert_array_equal(out.numeric, reference.numeric)
    np.testing.assert_array_equal(out.categorical, reference.categorical)
    assert pre.numeric_names_ == ["age", "balance", "age__missing", "balance__missing"]
    # then the value field of balance (-20, 0, 100, 3000: amounts); age's values fill 5 of 7 points of their grid
    assert pre.categorical_names_ == ["job", "zip", "balance"]


def test_full_row_duplicates_are_counted_not_dropped(make_schema):
    table = pa.table({"x": [1.0, 1.0, 2.0, 1.0, None, None], "c": ["a", "a", "a", "b", None, None]})
    pre = Preprocessor(make_schema(numeric=("x",), categorical=("c",))).fit(table)
    assert pre.report_["rows"] == 6
    assert pre.report_["duplicate_rows"] == 2  # row 1 repeats row 0, row 5 repeats row 4
    assert len(pre.transform(table)) == 6


def test_duplicate_count_matches_a_group_by_on_larger_tables() -> None:
    from needmap.preprocessing.preprocess import _duplicate_rows

    rng = np.random.default_rng(3)
    n = 5000
    table = pa.table(
        {
            "x": pa.array(rng.normal(size=n)),
            "c": pa.array(rng.choice(["a", "b", None], n)),
            "d": pa.array(rng.integers(0, 3, n).astype("datetime64[D]")),
            "flag": pa.array(rng.integers(0, 2, n).astype(bool)),
        }
    )
    assert _duplicate_rows(table) == 0  # every row distinct: settled by the row hashes alone
    repeated = pa.concat_tables([table, table.take(pa.array(rng.choice(n, 37, replace=False)))])
    reference = repeated.num_rows - repeated.group_by(repeated.column_names).aggregate([]).num_rows
    assert _duplicate_rows(repeated) == reference == 37


def test_json_round_trip_gives_identical_output(make_schema):
    schema = make_schema(numeric=("age", "balance", "r"), categorical=("job", "zip"))
    rng = np.random.default_rng(0)
    table = mixed_table().append_column("r", pa.array(rng.lognormal(size=6)))
    config = PreprocessConfig(
        scaling="quantile", n_bins=4, column_scaling={"age": "standard", "r": "log1p"}, max_unparseable=0.5
    )
    pre = Preprocessor(schema, config).fit(table)
    text = json.dumps(pre.to_dict(), allow_nan=False)
    again = Preprocessor.from_dict(json.loads(text))
    probe = table.append_column("extra", pa.array([0] * 6)).take([5, 3, 1, 0])
    a, b = pre.transform(probe), again.transform(probe)
    np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_array_equal(a.categorical, b.categorical)
    assert again.numeric_names_ == pre.numeric_names_ and again.cardinalities_ == pre.cardinalities_
    assert again.report_ == pre.report_ and again.config == config


def test_state_that_is_not_a_preprocessor_is_an_artifact_error(make_schema):
    state = Preprocessor(make_schema(numeric=("x",))).fit(pa.table({"x": [1.0, 2.0]})).to_dict()
    with pytest.raises(ArtifactError, match="version 99"):
        Preprocessor.from_dict({**state, "version": 99})
    del state["numeric"]
    with pytest.raises(ArtifactError, match="incomplete"):
        Preprocessor.from_dict(state)


def test_config_round_trips_and_rejects_bad_values(make_schema):
    config = PreprocessConfig(clip_quantiles=(0.01, 0.99), column_scaling={"x": "none"}, max_categories=5)
    assert PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    for bad in (
        {"scaling": "minmax"},
        {"impute": "mode"},
        {"clip_quantiles": (0.9, 0.1)},
        {"n_bins": 1},
        {"min_frequency": 0},
        {"max_categories": 0},
        {"max_unparseable": 1.5},
        {"column_scaling": {"x": "zscore"}},
    ):
        with pytest.raises(ConfigError):
            PreprocessConfig(**bad)
    with pytest.raises(ConfigError, match="speed"):
        PreprocessConfig.from_dict({"speed": 1})
    with pytest.raises(ConfigError, match="'job'"):
        Preprocessor(
            make_schema(numeric=("x",), categorical=("job",)),
            PreprocessConfig(column_scaling={"job": "none"}),
        )


def test_transform_before_fit_is_refused(make_schema):
    with pytest.raises(RuntimeError, match="not fitted"):
        Preprocessor(make_schema(numeric=("x",))).transform(pa.table({"x": [1.0]}))
