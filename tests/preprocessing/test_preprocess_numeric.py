"""Numeric columns: parsing, imputation, indicators, clipping and each scaling."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from needmap.data.values import parse_numeric
from needmap.errors import DataError, SchemaError
from needmap.preprocessing.numeric import skewness
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor

RAW = {"clip_quantiles": None, "scaling": "none"}


def fitted(schema, table: pa.Table, **options) -> Preprocessor:
    return Preprocessor(schema, PreprocessConfig(**options)).fit(table)


@pytest.mark.parametrize(("impute", "expected"), [("median", 2.5), ("mean", 4.0)])
def test_missing_value_is_replaced_by_the_training_statistic(make_schema, impute, expected):
    train = pa.table({"x": [1.0, 2.0, 3.0, 10.0, None]})
    pre = fitted(make_schema(numeric=("x",)), train, impute=impute, **RAW)
    out = pre.transform(pa.table({"x": pa.array([None, 7.0], pa.float64())}))
    assert out.numeric[:, 0].tolist() == [expected, 7.0]
    assert pre.numeric_columns_[0].impute_value == expected


def test_indicator_column_follows_the_scaled_columns_for_columns_missing_in_training(make_schema):
    schema = make_schema(numeric=("a", "b"))
    train = pa.table({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 3.0]})
    pre = fitted(schema, train, **RAW)
    assert pre.numeric_names_ == ["a", "b", "a__missing"]
    assert pre.n_numeric_ == 3
    out = pre.transform(pa.table({"a": [None, 5.0], "b": [None, 1.0]}))
    # b had no missing value in training: imputed (median 2) but no indicator
    assert out.numeric.tolist() == [[2.0, 2.0, 1.0], [5.0, 1.0, 0.0]]

    without = fitted(schema, train, add_missing_indicator=False, **RAW)
    assert without.numeric_names_ == ["a", "b"]
    assert without.transform(train).numeric.shape == (3, 2)


def test_values_are_clipped_to_training_quantiles(make_schema):
    schema = make_schema(numeric=("x",))
    train = pa.table({"x": np.arange(101, dtype=np.float64)})
    new = pa.table({"x": [-50.0, 50.0, 500.0]})
    pre = fitted(schema, train, clip_quantiles=(0.1, 0.9), scaling="none")
    assert pre.transform(new).numeric[:, 0].tolist() == [10.0, 50.0, 90.0]
    assert pre.last_transform_report_["columns"]["x"] == {
        "role": "numeric",
        "missing": 0,
        "unparseable": 0,
        "clipped_low": 1,
        "clipped_high": 1,
    }
    assert (pre.report_["columns"]["x"]["clipped_low"], pre.report_["columns"]["x"]["clipped_high"]) == (
        10,
        10,
    )
    unclipped = fitted(schema, train, **RAW)
    assert unclipped.transform(new).numeric[:, 0].tolist() == [-50.0, 50.0, 500.0]
    # the default bounds are observed values: a small column keeps its extremes
    small = fitted(schema, pa.table({"x": [1.0, 2.0, 3.0]}), scaling="none")
    assert small.transform(pa.table({"x": [1.0, 3.0]})).numeric[:, 0].tolist() == [1.0, 3.0]
    assert small.report_["columns"]["x"]["clipped_low"] == 0


def test_standard_scaling_gives_zero_mean_unit_variance_on_training_rows(make_schema):
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    pre = fitted(make_schema(numeric=("x",)), pa.table({"x": values}), clip_quantiles=None, scaling="standard")
    out = pre.transform(pa.table({"x": values})).numeric[:, 0]
    np.testing.assert_allclose(out, (values - values.mean()) / values.std(), rtol=1e-6)
    assert abs(out.mean()) < 1e-6 and abs(out.std() - 1.0) < 1e-6


def test_standard_scaling_of_a_constant_column_gives_finite_zeros(make_schema):
    pre = fitted(make_schema(numeric=("x",)), pa.table({"x": [5.0, 5.0, 5.0]}), clip_quantiles=None)
    out = pre.transform(pa.table({"x": [5.0, 6.0]})).numeric[:, 0]
    assert out.tolist() == [0.0, 1.0]


def test_log1p_scaling_standardizes_the_signed_log(make_schema):
    values = np.array([-10.0, 0.0, 1.0, 10.0, 1000.0])
    pre = fitted(make_schema(numeric=("x",)), pa.table({"x": values}), clip_quantiles=None, scaling="log1p")
    logs = np.sign(values) * np.log1p(np.abs(values))
    out = pre.transform(pa.table({"x": values})).numeric[:, 0]
    np.testing.assert_allclose(out, (logs - logs.mean()) / logs.std(), rtol=1e-6)


def test_quantile_scaling_gives_the_training_rank_in_zero_one(make_schema):
    train = pa.table({"x": np.arange(101, dtype=np.float64)})
    pre = fitted(make_schema(numeric=("x",)), train, clip_quantiles=None, scaling="quantile", n_bins=100)
    out = pre.transform(pa.table({"x": [-5.0, 0.0, 25.0, 50.0, 100.0, 200.0]})).numeric[:, 0]
    np.testing.assert_allclose(out, [0.0, 0.0, 0.25, 0.5, 1.0, 1.0], atol=1e-6)


def test_quantile_scaling_gives_a_repeated_value_its_middle_rank(make_schema):
    train = pa.table({"x": [0.0] * 50 + [1.0] * 50})
    pre = fitted(make_schema(numeric=("x",)), train, clip_quantiles=None, scaling="quantile", n_bins=10)
    out = pre.transform(pa.table({"x": [0.0, 1.0]})).numeric[:, 0]
    # quantiles: 0 at levels 0.0..0.4, 0.5 at level 0.5, 1 at levels 0.6..1.0
    np.testing.assert_allclose(out, [0.2, 0.8], atol=1e-6)


def test_scaling_none_keeps_values_and_overrides_apply_per_column(make_schema):
    values = [1.0, 2.0, 30.0]
    schema = make_schema(numeric=("a", "b"))
    train = pa.table({"a": values, "b": values})
    pre = fitted(schema, train, clip_quantiles=None, scaling="standard", column_scaling={"a": "none"})
    out = pre.transform(train).numeric
    assert out[:, 0].tolist() == values
    np.testing.assert_allclose(out[:, 1], (np.array(values) - np.mean(values)) / np.std(values), rtol=1e-6)


def test_text_numbers_are_parsed_and_stray_text_is_unparseable():
    column = pa.array(["1", " 2.5 ", "1e3", "-4", "+.5", "NA", "", None, "abc", "inf"])
    parsed = parse_numeric(column, column="x", file=None)
    np.testing.assert_array_equal(parsed.values, [1.0, 2.5, 1000.0, -4.0, 0.5, np.nan, np.nan, np.nan, np.nan, np.nan])
    assert parsed.missing.tolist() == [False] * 5 + [True] * 3 + [False] * 2
    assert parsed.unparseable.tolist() == [False] * 8 + [True] * 2


def test_few_unparseable_values_are_counted_and_imputed(make_schema):
    text = [str(v) for v in range(39)] + ["n/a?"]
    pre = fitted(make_schema(numeric=("x",)), pa.table({"x": text}), **RAW)
    assert pre.report_["columns"]["x"]["unparseable"] == 1
    assert pre.report_["columns"]["x"]["missing"] == 0
    assert pre.numeric_names_ == ["x", "x__missing"]
    out = pre.transform(pa.table({"x": ["oops", "3"] + ["1"] * 38})).numeric
    assert out[:2].tolist() == [[19.0, 1.0], [3.0, 0.0]]
    assert pre.last_transform_report_["columns"]["x"]["unparseable"] == 1


def test_too_many_unparseable_values_name_the_first_offending_row(make_schema):
    text = [str(v) for v in range(37)]
    text[3:3] = ["abc", "12,5", "x"]  # 3 of 40 = 7.5% > 5%
    table = pa.table({"x": text}).replace_schema_metadata(
        {b"needmap.source": b"customers.csv", b"needmap.first_row": b"2"}
    )
    with pytest.raises(DataError) as caught:
        fitted(make_schema(numeric=("x",)), table)
    message = str(caught.value)
    assert "row 5" in message  # data row 3, header is row 1
    assert "'abc'" in message and "expected a number" in message
    assert "customers.csv" in message and "'x'" in message
    assert caught.value.row == 5 and caught.value.column == "x"
    assert fitted(make_schema(numeric=("x",)), table, max_unparseable=0.1).report_["columns"]["x"]["unparseable"] == 3


def test_one_unparseable_value_in_a_single_row_is_an_error(make_schema):
    pre = fitted(make_schema(numeric=("x",)), pa.table({"x": [1.0, 2.0]}))
    with pytest.raises(DataError, match="found 'twelve', expected a number"):
        pre.transform(pa.table({"x": ["twelve"]}))


def test_a_numeric_column_of_lists_is_a_schema_error(make_schema):
    with pytest.raises(SchemaError, match="list"):
        fitted(make_schema(numeric=("x",)), pa.table({"x": [[1.0], [2.0]]}))


def test_statistics_come_from_the_training_rows_only(make_schema):
    schema = make_schema(numeric=("x",), categorical=("c",))
    train = pa.table({"x": [1.0, 2.0, None, 4.0, 50.0], "c": ["a", "a", "b", None, "b"]})
    other = pa.table({"x": [1000.0, 2000.0, 3000.0, None, 0.0], "c": ["z", "z", "z", "b", "b"]})
    pre = fitted(schema, train, clip_quantiles=(0.4, 0.6))
    state = pre.to_dict()
    probe = pa.table({"x": [None, 1.5, 100.0], "c": ["a", "z", "b"]})
    before = pre.transform(probe)
    pre.transform(other)
    after = pre.transform(probe)
    assert pre.to_dict() == state
    np.testing.assert_array_equal(before.numeric, after.numeric)
    np.testing.assert_array_equal(before.categorical, after.categorical)
    observed = np.array([1.0, 2.0, 4.0, 50.0])
    low, high = 2.0, 4.0  # observed values at quantile levels 0.4 (rounded down) and 0.6 (up)
    filled = np.clip(np.array([1.0, 2.0, np.nan, 4.0, 50.0]), low, high)
    filled[2] = np.median(np.clip(observed, low, high))
    expected = (np.clip([filled[2], 1.5, 100.0], low, high) - filled.mean()) / filled.std()
    np.testing.assert_allclose(after.numeric[:, 0], expected, rtol=1e-6)
    assert after.categorical[:, 0].tolist() == [2, 0, 3]


def test_skewness_matches_scipy_and_is_zero_for_constant_columns():
    from scipy.stats import skew

    rng = np.random.default_rng(0)
    for values in (rng.exponential(size=500), rng.normal(size=500), -rng.lognormal(size=500)):
        assert skewness(values) == pytest.approx(float(skew(values, bias=True)), rel=1e-9)
    assert skewness(np.full(10, 3.0)) == 0.0 and skewness(np.array([])) == 0.0


def test_auto_scaling_takes_the_log_of_right_skewed_columns_only(make_schema):
    rng = np.random.default_rng(1)
    counts = np.floor(rng.lognormal(1.0, 1.5, size=2000))  # a long right tail: skewness far above 2
    train = pa.table({"counts": counts, "normal": rng.normal(50.0, 5.0, 2000), "left": -counts})
    schema = make_schema(numeric=("counts", "normal", "left"))
    pre = fitted(schema, train, clip_quantiles=None)  # 'auto' is the default
    assert PreprocessConfig().scaling == "auto"
    chosen = {c.name: c.scaling for c in pre.numeric_columns_}
    assert chosen == {"counts": "log1p", "normal": "standard", "left": "standard"}
    assert {name: pre.report_["columns"][name]["scaling"] for name in chosen} == chosen
    # The same numbers as asking for each column's scaling by name, and the state keeps the resolved name.
    explicit = fitted(schema, train, clip_quantiles=None, scaling="standard", column_scaling={"counts": "log1p"})
    np.testing.assert_array_equal(pre.transform(train).numeric, explicit.transform(train).numeric)
    state = pre.to_dict()
    assert [c["scaling"] for c in state["numeric"]] == ["log1p", "standard", "standard"]
    np.testing.assert_array_equal(
        Preprocessor.from_dict(state).transform(train).numeric, explicit.transform(train).numeric
    )
