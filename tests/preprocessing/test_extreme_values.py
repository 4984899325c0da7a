"""Values at the edges of the number types: integers beyond 2^53 (nanosecond timestamps) and floats near
the float64 limit (the sentinel +-1e308). Each piece that reads them on hand-computed cases, then tables
made of them (hypothesis) through schema inference, the schema's description, fitting, batch and one-row
preprocessing, with finite features throughout."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from extreme_tables import NANOSECONDS, extreme_tables
from needmap.data.infer import infer_schema
from needmap.data.overflow import overflow_safe, standardized
from needmap.data.profile import profile_table
from needmap.data.values import parse_numeric, stringify
from needmap.preprocessing.describe import describe_schema
from needmap.preprocessing.numeric import NumericColumn, skewness
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.preprocessing.row import RowEncoder
from needmap.preprocessing.values import grid_share


def test_integers_beyond_two_to_the_53_read_as_the_nearest_float() -> None:
    parsed = parse_numeric(pa.array([*NANOSECONDS, None]), column="ts", file="t.csv")
    assert parsed.values[:-1].tolist() == [float(v) for v in NANOSECONDS]
    assert parsed.missing.tolist() == [False] * len(NANOSECONDS) + [True]
    assert not parsed.unparseable.any()


def test_whole_floats_beyond_int64_keep_names_of_their_own() -> None:
    names = stringify(pa.array([1e20, 1e308, -1e308, float("inf"), 2.0**53, 3.0, 1.5])).to_pylist()
    assert names[4:] == ["9007199254740992", "3", "1.5"]
    assert len(set(names[:4])) == 4  # not one wrapped-around integer shared by all four
    assert all(name.lstrip("-").startswith(("1e", "inf")) for name in names[:4])


def test_statistics_of_sentinels_are_finite_and_ordinary_ones_unchanged() -> None:
    values = np.array([-1e308, 1.0, 2.0, 1e308, 1e308])
    assert overflow_safe(np.mean, values) == pytest.approx(2e307)
    assert np.isfinite(overflow_safe(np.std, values)) and overflow_safe(np.std, values) > 1e307
    assert overflow_safe(np.median, np.array([-1e308, 1e308, 1e308, 1e308])) == 1e308
    grid = overflow_safe(lambda ends: np.linspace(ends[0], ends[1], 5), np.array([-1e308, 1e308]))
    assert grid.tolist() == [-1e308, -5e307, 0.0, 5e307, 1e308]
    ordinary = np.array([0.1, 0.7, 3.3])
    assert overflow_safe(np.mean, ordinary) == np.mean(ordinary)  # bit for bit: the plain path
    assert standardized(np.array([1e308, -1e308, 3.0]), -1e308, 1e308).tolist() == [2.0, 0.0, 1.0]
    assert grid_share(np.array([-1e308, 0.0, 1e308])) == 0.0
    assert grid_share(np.array([0.0, 5e-324, 1.0])) == 0.0
    assert grid_share(np.array([0.0, 1.0, 2.0])) == 1.0


def test_skewness_does_not_depend_on_the_scale_even_at_the_float_limit() -> None:
    values = np.array([0.0, 0.0, 0.0, 1.0, 9.0])
    assert skewness(values * 1e300) == pytest.approx(skewness(values))
    assert skewness(np.array([0.0, 1.0, 1e308])) > 0.5


@pytest.mark.parametrize("scaling", ["auto", "standard"])
def test_numeric_columns_standardize_sentinels_by_their_real_spread(scaling: str) -> None:
    values = np.array([-1e308, 1.0, 2.0, 1e308, 1e308, np.nan])
    parsed = parse_numeric(pa.array(values), column="x", file=None)
    for impute in ("median", "mean"):
        column, _ = NumericColumn.fit(
            "x", parsed, scaling=scaling, impute=impute, clip_quantiles=None, n_bins=10, add_indicator=True
        )
        assert column.scaling == "standard"
        assert column.scale > 1e307  # the spread of +-1e308, not the stand-in 1.0 of an overflowed one
        scaled, _, _ = column.transform(parsed.values)
        assert np.isfinite(scaled.astype(np.float32)).all(), (impute, scaled)  # the features are float32
        assert np.abs(scaled).max() < 3.0


def test_a_profile_of_sentinels_is_finite() -> None:
    table = pa.table({"x": [-1e308, 0.5, 1.0, 1e308], "y": [0, 1, 0, 1]})
    entry = profile_table(table)["columns"][0]
    numbers = [entry["mean"], entry["std"], *entry["quantiles"].values(), *entry["histogram"]["edges"]]
    assert np.isfinite(numbers).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=extreme_tables())
def test_tables_of_extreme_values_give_finite_features_in_batch_and_one_row_at_a_time(table: pa.Table) -> None:
    schema = infer_schema(table, target="y")
    assert len(describe_schema(schema, table)) == table.num_columns
    pre = Preprocessor(schema, PreprocessConfig()).fit(table)
    batch = pre.transform(table)
    assert np.isfinite(batch.numeric).all()
    encoder = RowEncoder(pre)
    for i, row in enumerate(table.drop(["y"]).to_pylist()):
        one = encoder.encode(row) or pre.transform(pa.Table.from_pylist([row], schema=table.drop(["y"]).schema))
        np.testing.assert_allclose(one.numeric[0], batch.numeric[i], rtol=1e-6, atol=1e-7)
        assert one.categorical[0].tolist() == batch.categorical[i].tolist()
