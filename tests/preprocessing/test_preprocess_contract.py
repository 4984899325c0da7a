"""The preprocessor's fit/transform boundary: what fit learns comes from the training rows alone, and
transform applies it without learning anything, to any table with those columns. Expected values are
worked out by hand from the rows written here."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import DataError, SchemaError
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.schema import ColumnSpec, Head, Schema

TRAIN = pa.table(
    {
        "age": pa.array([20.0, 30.0, None, 50.0], pa.float64()),
        "job": pa.array(["a", "b", "a", None], pa.string()),
    }
)
OTHER = pa.table(
    {
        "age": pa.array([1000.0, -5.0, None], pa.float64()),
        "job": pa.array(["c", "c", "b"], pa.string()),
    }
)


def _fitted(make_schema: Callable[..., Schema], **options: object) -> Preprocessor:
    config = PreprocessConfig(clip_quantiles=None, scaling="standard", **options)  # type: ignore[arg-type]
    return Preprocessor(make_schema(numeric=("age",), categorical=("job",)), config).fit(TRAIN)


def test_transform_learns_nothing_from_the_rows_it_transforms(make_schema: Callable[..., Schema]) -> None:
    pre = _fitted(make_schema)
    state = json.dumps(pre.to_dict(), sort_keys=True)
    before = pre.transform(TRAIN)
    pre.transform(OTHER)  # other rows, unseen categories, values far outside the training range
    assert json.dumps(pre.to_dict(), sort_keys=True) == state
    after = pre.transform(TRAIN)
    np.testing.assert_array_equal(after.numeric, before.numeric)
    np.testing.assert_array_equal(after.categorical, before.categorical)
    # the training rows by hand: median of 20, 30, 50 imputes 30; mean 32.5 and std sqrt(118.75) of the
    # imputed column 20, 30, 30, 50; then the missing indicator
    std = np.sqrt(((20 - 32.5) ** 2 + 2 * (30 - 32.5) ** 2 + (50 - 32.5) ** 2) / 4)
    expected = np.array([[(v - 32.5) / std, m] for v, m in ((20, 0), (30, 0), (30, 1), (50, 0))], np.float32)
    np.testing.assert_allclose(before.numeric, expected, rtol=1e-6)
    assert pre.numeric_names_ == ["age", "age__missing"] and pre.n_numeric_ == 2
    other = pre.transform(OTHER)
    expected = [(1000 - 32.5) / std, (-5 - 32.5) / std, (30 - 32.5) / std]  # the missing age imputes 30 again
    np.testing.assert_allclose(other.numeric[:, 0], expected, rtol=1e-6)
    assert other.numeric[:, 1].tolist() == [0.0, 0.0, 1.0]
    # job: ids 0 (unseen), 1 (missing), then the training categories; "c" was never seen in training
    assert other.categorical[:, 0].tolist()[:2] == [0, 0]
    assert other.categorical[2, 0] == before.categorical[1, 0]  # "b" keeps its training id
    assert pre.last_transform_report_["rows"] == 3
    assert pre.last_transform_report_["columns"]["job"] == {"role": "categorical", "missing": 0, "oov": 2}
    assert pre.report_["rows"] == 4  # the fit report still describes the training rows


def test_encode_target_of_a_multi_task_schema_gives_one_column_per_target(make_schema) -> None:
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("no", "yes"))
    schema.columns.append(ColumnSpec("spend", "target", "double", "test"))
    schema.heads = [*schema.heads, Head("spend", "regression")]
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": ["yes", "no", None], "spend": [10.5, None, 3.0]})
    y = Preprocessor(schema).encode_target(table)
    assert y.dtype == np.float32 and y.shape == (3, 2)
    np.testing.assert_array_equal(y, [[1.0, 10.5], [0.0, np.nan], [np.nan, 3.0]])


def test_a_missing_target_column_is_named_with_the_file(make_schema) -> None:
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("no", "yes"))
    table = pa.table({"x": [1.0, 2.0]}).replace_schema_metadata({b"needmap.source": b"leads.csv"})
    with pytest.raises(SchemaError, match="found no target column 'y'") as error:
        Preprocessor(schema).encode_target(table)
    assert error.value.file == "leads.csv" and error.value.column == "y"


def _rich_schema() -> Schema:
    """Every kind of learned state: a zero flag, a value field, a log1p override, a categorical column, a
    multi-hot list and a sequence that shares the categorical column's ids."""
    columns = [
        ColumnSpec("spend", "numeric", "double", "test", {"zero_flag": True}),
        ColumnSpec("visits", "numeric", "double", "test", {"values": True}),
        ColumnSpec("age", "numeric", "double", "test"),
        ColumnSpec("job", "categorical", "string", "test"),
        ColumnSpec("tags", "multihot", "string", "test", {"separator": "|"}),
        ColumnSpec("jobs_before", "sequence", "string", "test", {"separator": "|", "vocabulary_of": "job"}),
        ColumnSpec("y", "target", "string", "test"),
    ]
    return Schema(columns, target="y", task="binary", classes=["no", "yes"])


def _rich_table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    jobs = np.array(["clerk", "nurse", "cook", "pilot"])
    return pa.table(
        {
            "spend": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(50.0, n) * 100),
            "visits": rng.integers(0, 5, n).astype(float),
            "age": rng.normal(40.0, 12.0, n) * (1 + 9 * (rng.random(n) < 0.05)),
            "job": rng.choice(jobs, n),
            "tags": ["|".join(rng.choice(["a", "b", "c"], rng.integers(0, 3), replace=False)) for _ in range(n)],
            "jobs_before": ["|".join(rng.choice(jobs, rng.integers(0, 4))) for _ in range(n)],
            "y": rng.choice(["no", "yes"], n),
        }
    )


def _rich_config() -> PreprocessConfig:
    return PreprocessConfig(clip_quantiles=(0.1, 0.9), column_scaling={"age": "log1p"}, value_fields=None)


def test_the_saved_state_transforms_new_rows_as_the_fitted_preprocessor_does() -> None:
    pre = Preprocessor(_rich_schema(), _rich_config()).fit(_rich_table(300, 0))
    assert pre.numeric_names_ == ["spend", "visits", "age", "spend__zero"]
    assert pre.categorical_names_ == ["job", "visits"] and [s["share"] for s in pre.list_specs_] == [None, 0]
    column = {c.name: c for c in pre.numeric_columns_}
    assert column["age"].scaling == "log1p" and column["age"].clip_low is not None
    state = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessor.from_dict(state)
    assert json.loads(json.dumps(again.to_dict())) == state
    new = _rich_table(200, 1)  # other rows: values beyond the clipping bounds, other list lengths
    before, after = pre.transform(new), again.transform(new)
    np.testing.assert_array_equal(after.numeric, before.numeric)
    np.testing.assert_array_equal(after.categorical, before.categorical)
    assert len(after.lists) == 2
    for a, b in zip(after.lists, before.lists, strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.list_specs_ == pre.list_specs_ and again.cardinalities_ == pre.cardinalities_
    assert again.last_transform_report_ == pre.last_transform_report_


def test_states_saved_before_zero_flags_and_list_features_still_load() -> None:
    schema = Schema([ColumnSpec("spend", "numeric", "double", "test"), ColumnSpec("job", "categorical", "string")])
    table = pa.table({"spend": [0.0, 0.0, 5.0, 7.0], "job": ["a", "b", "a", "c"]})
    pre = Preprocessor(schema, PreprocessConfig(zero_flags=None)).fit(table)
    state = json.loads(json.dumps(pre.to_dict()))
    del state["lists"]  # version 1: no list features
    state["version"] = 1
    del state["numeric"][0]["zero_flag"]  # before zero flags
    del state["categorical"][0]["kind"]  # before other encoders: a vocabulary
    del state["config"]["column_scaling"]  # before per-column scaling
    old = Preprocessor.from_dict(state)
    assert old.numeric_names_ == ["spend"] and old.list_columns_ == []
    assert old.config.column_scaling == {}
    np.testing.assert_array_equal(old.transform(table).categorical, pre.transform(table).categorical)
    np.testing.assert_array_equal(old.transform(table).numeric, pre.transform(table).numeric)


def test_a_state_that_needmap_did_not_write_is_refused() -> None:
    from needmap.errors import ArtifactError

    pre = Preprocessor(_rich_schema(), _rich_config()).fit(_rich_table(100, 2))
    state = json.loads(json.dumps(pre.to_dict()))
    with pytest.raises(ArtifactError, match=r"not in the 'needmap\.preprocessor' format"):
        Preprocessor.from_dict([state])  # type: ignore[arg-type]
    without_visits = {**state, "numeric": [c for c in state["numeric"] if c["name"] != "visits"]}
    with pytest.raises(ArtifactError, match="a value field of 'visits' but no scaled numeric column"):
        Preprocessor.from_dict(without_visits)
    without_job = {**state, "categorical": [e for e in state["categorical"] if e["name"] != "job"]}
    with pytest.raises(ArtifactError, match="shares the ids of column 'job', which the state does not hold"):
        Preprocessor.from_dict(without_job)
    with pytest.raises(ArtifactError, match="unknown categorical encoder kind 'bloom'"):
        Preprocessor.from_dict({**state, "categorical": [{**state["categorical"][0], "kind": "bloom"}]})


def test_fit_transform_is_fit_then_transform_of_the_same_rows(make_schema: Callable[..., Schema]) -> None:
    config = PreprocessConfig(clip_quantiles=None, scaling="standard")
    schema = make_schema(numeric=("age",), categorical=("job",))
    once = Preprocessor(schema, config).fit_transform(TRAIN)
    twice = Preprocessor(schema, config).fit(TRAIN).transform(TRAIN)
    np.testing.assert_array_equal(once.numeric, twice.numeric)
    np.testing.assert_array_equal(once.categorical, twice.categorical)


def test_numeric_layout_scaled_then_missing_indicators_then_zero_flags() -> None:
    schema = Schema(
        [
            ColumnSpec("a", "numeric", "double", "test"),
            ColumnSpec("s", "numeric", "double", "test", {"zero_flag": True}),
            ColumnSpec("t", "numeric", "double", "test", {"zero_flag": True}),
            ColumnSpec("b", "numeric", "double", "test"),
        ]
    )
    train = pa.table({"a": [1.0, None, 3.0, 5.0], "s": [0.0, 2.0, 5.0, None], "t": [0.0, 0.0, 1.0, 2.0],
                      "b": [4.0, 5.0, 6.0, 7.0]})  # fmt: skip
    pre = Preprocessor(schema, PreprocessConfig(clip_quantiles=None, scaling="none", value_fields=None)).fit(train)
    assert pre.numeric_names_ == ["a", "s", "t", "b", "a__missing", "s__missing", "s__zero", "t__zero"]
    shares = [pre.report_["columns"][c]["zero_flag"]["zero_share"] for c in ("s", "t")]
    assert shares == [0.3333, 0.5]  # 1 of the 3 observed values of s, 2 of the 4 of t
    new = pa.table({"a": [None, 7.0], "s": [0.0, 3.0], "t": [4.0, 0.0], "b": [1.0, None]})
    # imputed medians: a 3, b 5.5; then a's and s's missing indicators, then s's and t's zero flags
    assert pre.transform(new).numeric.tolist() == [[3, 0, 4, 1, 1, 0, 1, 0], [7, 3, 0, 5.5, 0, 0, 0, 1]]


@pytest.mark.parametrize("option", [{}, {"bucketize": 3}])
def test_transform_names_the_file_column_and_row_of_text_in_a_numeric_column(option: dict) -> None:
    from needmap.errors import DataError

    schema = Schema([ColumnSpec("x", "numeric", "double", "test", option)])
    pre = Preprocessor(schema).fit(pa.table({"x": [float(v) for v in range(20)]}))
    rows = [str(v) for v in range(10)]
    rows[4] = "lots"  # 1 of 10 = 10% > 5%
    table = pa.table({"x": rows}).replace_schema_metadata({b"needmap.source": b"new.csv", b"needmap.first_row": b"2"})
    with pytest.raises(DataError, match="found 'lots', expected a number") as error:
        pre.transform(table)
    assert (error.value.file, error.value.column, error.value.row) == ("new.csv", "x", 6)
    tolerant = Preprocessor(schema, PreprocessConfig(max_unparseable=0.1)).fit(
        pa.table({"x": [float(v) for v in range(20)]})
    )
    tolerant.transform(table)
    assert tolerant.last_transform_report_["columns"]["x"]["unparseable"] == 1
    assert tolerant.last_transform_report_["columns"]["x"]["role"] == "numeric"
    assert tolerant.last_transform_report_["columns"]["x"]["missing"] == 0


@pytest.mark.parametrize(
    "options",
    [
        {"clip_quantiles": (0.0, 1.0)},
        {"clip_quantiles": [0, 1]},
        {"n_bins": 2},
        {"n_bins": np.int64(3)},
        {"min_frequency": 1},
        {"max_categories": 1},
        {"max_categories": None},
        {"max_unparseable": 0.0},
        {"max_unparseable": 1},
        {"value_fields": 1},
        {"value_fields": None},
        {"value_min_rows": 1},
        {"zero_flags": 1},
        {"zero_flags": None},
        {"zero_flags": np.float32(0.25)},
    ],
)
def test_options_at_the_edge_of_their_range_are_accepted(options: dict) -> None:
    config = PreprocessConfig(**options)
    if "clip_quantiles" in options:
        assert config.clip_quantiles == (0.0, 1.0) and all(type(q) is float for q in config.clip_quantiles)
    if options.get("zero_flags") is not None:
        assert type(config.zero_flags) is float and config.zero_flags == float(options["zero_flags"])


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"scaling": "cube"}, r"^scaling is 'cube'"),
        ({"column_scaling": {"x": "cube"}}, r"^column_scaling is \{'x': 'cube'\}; expected a mapping"),
        ({"clip_quantiles": (0.5, 0.5)}, "clip_quantiles is"),
        ({"clip_quantiles": (-0.1, 0.5)}, "clip_quantiles is"),
        ({"clip_quantiles": (0.1, 1.5)}, "clip_quantiles is"),
        ({"clip_quantiles": (0.1,)}, "clip_quantiles is"),
        ({"clip_quantiles": (0.1, 0.5, 0.9)}, "clip_quantiles is"),
        ({"clip_quantiles": ("a", 0.5)}, "clip_quantiles is"),
        ({"clip_quantiles": (False, True)}, "clip_quantiles is"),
        ({"n_bins": 2.5}, "n_bins is 2.5"),
        ({"n_bins": True}, "n_bins is True"),
        ({"min_frequency": 0}, "min_frequency is 0"),
        ({"max_categories": 0}, "max_categories is 0"),
        ({"max_categories": 1.5}, "max_categories is 1.5"),
        ({"max_unparseable": -0.1}, "max_unparseable is -0.1"),
        ({"max_unparseable": 1.01}, "max_unparseable is 1.01"),
        ({"max_unparseable": True}, "max_unparseable is True"),
        ({"value_fields": 0}, "value_fields is 0"),
        ({"value_fields": 2.0}, "value_fields is 2.0"),
        ({"value_min_rows": 0}, "value_min_rows is 0"),
        ({"value_min_rows": "1"}, "value_min_rows is '1'"),
        ({"zero_flags": 0}, "zero_flags is 0"),
        ({"zero_flags": 1.5}, "zero_flags is 1.5"),
        ({"zero_flags": "0.5"}, "zero_flags is '0.5'"),
    ],
)
def test_options_outside_their_range_are_refused(options: dict, pattern: str) -> None:
    from needmap.errors import ConfigError

    with pytest.raises(ConfigError, match=pattern):
        PreprocessConfig(**options)


def test_an_empty_saved_config_is_the_default_one() -> None:
    assert PreprocessConfig.from_dict({}) == PreprocessConfig()
    saved = PreprocessConfig.from_dict({"clip_quantiles": [0.05, 0.95], "column_scaling": {"x": "none"}})
    assert saved.clip_quantiles == (0.05, 0.95) and saved.column_scaling == {"x": "none"}


def test_a_column_given_twice_is_refused_and_list_columns_are_not_compared_for_duplicates() -> None:
    schema = Schema([ColumnSpec("x", "numeric", "double", "test")])
    twice = pa.Table.from_arrays([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["x", "x"])
    with pytest.raises(SchemaError, match="found the column name 'x' 2 times") as error:
        Preprocessor(schema).fit(twice)
    assert error.value.column == "x"
    lists = Schema([ColumnSpec("tags", "multihot", "list<string>", "test")])
    same_rows = pa.table({"tags": [["a", "b"], ["a", "b"], ["c"]]})
    assert Preprocessor(lists).fit(same_rows).report_["duplicate_rows"] == 0  # only list columns: none compared


def _every_kind_schema() -> Schema:
    """A scaled numeric column, a bucketized one, a categorical one and a multi-hot list: each is read by its
    own call (parse_numeric, the bucket path, category_strings, the list's tokens) in fit and in transform."""
    return Schema(
        [
            ColumnSpec("age", "numeric", "double", "test"),
            ColumnSpec("amount", "numeric", "double", "test", {"bucketize": 2}),
            ColumnSpec("job", "categorical", "string", "test"),
            ColumnSpec("tags", "multihot", "string", "test", {"separator": "|"}),
        ]
    )


GOOD = {
    "age": pa.array([20.0, 30.0, 40.0, 50.0]),
    "amount": pa.array([1.0, 2.0, 3.0, 4.0]),
    "job": pa.array(["a", "b", "a", "b"]),
    "tags": pa.array(["x|y", "x", "", "y"]),
}
# a value of an Arrow type that the column's role cannot read: timestamps hold no number, lists of numbers
# no category name, and plain numbers are neither text to split nor lists
UNREADABLE = {
    "age": pa.array([0, 1, 2, 3], pa.timestamp("s")),
    "amount": pa.array([0, 1, 2, 3], pa.timestamp("s")),
    "job": pa.array([[1], [2], [3], [4]]),
    "tags": pa.array([1, 2, 3, 4]),
}


def _from_file(columns: dict) -> pa.Table:
    return pa.table(columns).replace_schema_metadata({b"needmap.source": b"leads.csv", b"needmap.first_row": b"2"})


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_a_column_of_an_unreadable_type_is_named_with_its_file_in_fit_and_transform(name: str) -> None:
    bad = _from_file({**GOOD, name: UNREADABLE[name]})
    with pytest.raises(SchemaError, match="Arrow type") as error:
        Preprocessor(_every_kind_schema()).fit(bad)
    assert (error.value.column, error.value.file) == (name, "leads.csv")
    pre = Preprocessor(_every_kind_schema()).fit(pa.table(GOOD))
    with pytest.raises(SchemaError, match="Arrow type") as error:
        pre.transform(bad)
    assert (error.value.column, error.value.file) == (name, "leads.csv")


def test_a_feature_column_absent_from_the_training_table_is_named_with_its_file() -> None:
    without_job = _from_file({k: v for k, v in GOOD.items() if k != "job"})
    with pytest.raises(SchemaError, match="found no column 'job'") as error:
        Preprocessor(_every_kind_schema()).fit(without_job)
    assert (error.value.column, error.value.file) == ("job", "leads.csv")


def test_one_training_row_is_enough_and_none_is_refused_with_the_file(make_schema) -> None:
    schema = make_schema(numeric=("age",), categorical=("job",))
    pre = Preprocessor(schema).fit(pa.table({"age": [41.0], "job": ["nurse"]}))
    assert pre.report_["rows"] == 1 and pre.cardinalities_ == [3]  # OOV, missing, "nurse"
    empty = _from_file({"age": pa.array([], pa.float64()), "job": pa.array([], pa.string())})
    with pytest.raises(DataError, match="found no rows") as error:
        Preprocessor(schema).fit(empty)
    assert error.value.file == "leads.csv"


def test_transform_gives_float32_numerics_and_int64_ids_as_feature_batch_documents() -> None:
    pre = Preprocessor(_every_kind_schema(), PreprocessConfig(value_fields=None)).fit(pa.table(GOOD))
    batch = pre.transform(pa.table(GOOD))
    assert batch.numeric.dtype == np.float32 and batch.numeric.shape == (4, 1)
    assert batch.categorical.dtype == np.int64 and batch.categorical.shape == (4, 2)
    assert [ids.dtype for ids in batch.lists] == [np.int64]


def test_max_categories_limits_the_vocabulary_of_a_list_feature() -> None:
    schema = Schema([ColumnSpec("tags", "multihot", "string", "test", {"separator": "|"})])
    train = pa.table({"tags": ["a|b", "a", "a|c", "b"]})  # a 3 times, b twice, c once
    assert Preprocessor(schema).fit(train).list_specs_[0]["cardinality"] == 2 + 3  # padding, OOV, a, b, c
    limited = Preprocessor(schema, PreprocessConfig(max_categories=1)).fit(train)
    assert limited.list_specs_[0]["cardinality"] == 2 + 1  # only the most frequent, a
    ids = limited.transform(pa.table({"tags": ["a|b"]})).lists[0]
    assert ids[0].tolist()[:2] == [2, 1]  # a keeps id 2, b is now out of the vocabulary (1)


def test_encoding_columns_on_several_threads_gives_the_serial_batch_report_and_first_error() -> None:
    """Above PARALLEL_MIN_ROWS rows ``threads`` > 1 encodes the categorical columns in a thread pool; the
    arrays, the report and the error raised must be those of the one-thread loop."""
    from needmap.preprocessing.preprocess import PARALLEL_MIN_ROWS

    schema = Schema(
        [
            ColumnSpec("amount", "numeric", "double", "test", {"bucketize": 3}),
            ColumnSpec("visits", "numeric", "double", "test", {"values": True}),
            ColumnSpec("job", "categorical", "string", "test"),
            ColumnSpec("city", "categorical", "string", "test", {"hash_buckets": 8}),
        ]
    )
    n = PARALLEL_MIN_ROWS
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "amount": rng.exponential(100.0, n),
            "visits": rng.integers(0, 6, n).astype(float),
            "job": rng.choice(["clerk", "nurse", "cook", None], n),
            "city": rng.choice(["paris", "lyon", "nice", "metz", "lille"], n),
        }
    )
    pre = Preprocessor(schema).fit(table.slice(0, 1000))  # the other rows hold unseen values too
    serial = pre.transform(table, threads=1)
    serial_report = pre.last_transform_report_
    parallel = pre.transform(table, threads=4)
    assert pre.categorical_names_ == ["job", "city", "amount", "visits"]
    np.testing.assert_array_equal(parallel.categorical, serial.categorical)
    np.testing.assert_array_equal(parallel.numeric, serial.numeric)
    assert pre.last_transform_report_ == serial_report
    bad = table.set_column(2, "job", pa.array([[1]] * n)).set_column(3, "city", pa.array([[1]] * n))
    for threads in (1, 4):
        with pytest.raises(SchemaError) as error:
            pre.transform(bad, threads=threads)
        assert error.value.column == "job"  # the first column in order, not whichever thread fails first
