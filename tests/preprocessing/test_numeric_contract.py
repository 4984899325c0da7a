"""Numeric columns on hand-computed cases: every Arrow type parse_numeric reads, the statistics fit learns
(clipping before the mean, one observed value, none at all) and the counts transform reports."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from needmap.data.values import parse_numeric
from needmap.errors import SchemaError
from needmap.preprocessing.numeric import AUTO_LOG1P_SKEW, NumericColumn, auto_scaling, skewness


def _parsed(array: pa.Array | pa.ChunkedArray) -> tuple[list[float], list[bool], list[bool]]:
    parsed = parse_numeric(array, column="x", file="data.csv")
    return parsed.values.tolist(), parsed.missing.tolist(), parsed.unparseable.tolist()


def _same(values: list[float], expected: list[float]) -> bool:
    return np.array_equal(np.array(values), np.array(expected), equal_nan=True)


def test_booleans_decimals_and_integers_are_numbers() -> None:
    values, missing, unparseable = _parsed(pa.array([True, False, None]))
    assert _same(values, [1.0, 0.0, np.nan]) and missing == [False, False, True] and unparseable == [False] * 3
    values, missing, _ = _parsed(pa.array([Decimal("1.25"), None, Decimal("-3")]))
    assert _same(values, [1.25, np.nan, -3.0]) and missing == [False, True, False]
    values, _, unparseable = _parsed(pa.chunked_array([pa.array([1, 2], pa.int8()), pa.array([None, 4], pa.int8())]))
    assert _same(values, [1.0, 2.0, np.nan, 4.0]) and unparseable == [False] * 4


def test_a_column_of_nulls_is_missing_everywhere() -> None:
    values, missing, unparseable = _parsed(pa.nulls(3))
    assert _same(values, [np.nan] * 3) and missing == [True] * 3 and unparseable == [False] * 3
    parsed = parse_numeric(pa.nulls(2), column="x", file=None)
    assert parsed.values.dtype == np.float64 and parsed.source.type == pa.null() and len(parsed.source) == 2


def test_dictionary_encoded_text_is_read_as_its_values() -> None:
    text = pa.array([" 1.5", "NA", None, "lots", "1e3", "1.5"]).dictionary_encode()
    values, missing, unparseable = _parsed(text)
    assert _same(values, [1.5, np.nan, np.nan, np.nan, 1000.0, 1.5])
    assert missing == [False, True, True, False, False, False]
    assert unparseable == [False, False, False, True, False, False]


def test_a_dictionary_of_another_type_is_refused_naming_the_column_and_file() -> None:
    times = pa.array([0, 86_400], pa.timestamp("s")).dictionary_encode()
    with pytest.raises(SchemaError, match="Arrow type timestamp") as error:
        parse_numeric(times, column="signup", file="data.csv")
    assert (error.value.column, error.value.file) == ("signup", "data.csv")


def _fit(values: list, **options: object) -> tuple[NumericColumn, dict]:
    settings: dict = {"scaling": "none", "impute": "median", "clip_quantiles": None, "n_bins": 4, "add_indicator": True}
    settings.update(options)
    return NumericColumn.fit("x", parse_numeric(pa.array(values, pa.float64()), column="x", file=None), **settings)


def test_the_mean_is_taken_after_clipping() -> None:
    # 12 observed values 0..10 and 1000: the 0.1 'lower' quantile is the value at position 1.1 rounded down
    # (1), the 0.9 'higher' one at 9.9 rounded up (10); clipped: 1, 1, 2, ..., 10, 10, mean 66 / 12 = 5.5
    column, report = _fit([*range(11), 1000.0, None], impute="mean", clip_quantiles=(0.1, 0.9))
    assert (column.clip_low, column.clip_high, column.impute_value) == (1.0, 10.0, 5.5)
    assert (report["clipped_low"], report["clipped_high"], report["missing"]) == (1, 1, 1)
    assert report["role"] == "numeric" and report["scaling"] == "none"
    out, low, high = column.transform(np.array([np.nan, -5.0, 500.0, 3.0]))
    assert out.tolist() == [5.5, 1.0, 10.0, 3.0] and (low, high) == (1, 1)


def test_one_observed_value_imputes_itself_and_no_value_imputes_zero() -> None:
    column, _ = _fit([5.0, None, None])
    assert column.impute_value == 5.0 and column.indicator
    assert column.transform(np.array([np.nan, 2.0]))[0].tolist() == [5.0, 2.0]
    empty, report = _fit([None, None], scaling="standard")
    assert (empty.impute_value, empty.center, empty.scale) == (0.0, 0.0, 1.0)
    assert empty.transform(np.array([np.nan, 2.0]))[0].tolist() == [0.0, 2.0]
    assert report["missing"] == 2


def test_without_clipping_nothing_is_counted_as_clipped() -> None:
    column, report = _fit([1.0, 2.0, 3.0])
    assert (column.clip_low, column.clip_high) == (None, None)
    assert (report["clipped_low"], report["clipped_high"]) == (0, 0)
    out, low, high = column.transform(np.array([-100.0, 100.0]))
    assert out.tolist() == [-100.0, 100.0] and (low, high) == (0, 0)


def test_auto_scaling_takes_log1p_only_above_the_threshold() -> None:
    # 0, 0, 0, eight 1s, 4: mean 12 / 12 = 1; deviations -1 (x3), 0 (x8), 3; mean square (3 + 9) / 12 = 1,
    # mean cube (-3 + 27) / 12 = 2: skewness exactly 2.0 = AUTO_LOG1P_SKEW, which is not "above"
    boundary = [0.0] * 3 + [1.0] * 8 + [4.0]
    assert skewness(np.array(boundary)) == AUTO_LOG1P_SKEW == 2.0
    assert auto_scaling(np.array(boundary)) == "standard"
    assert _fit(boundary, scaling="auto")[0].scaling == "standard"
    # one more zero: skewness 2.0170 (scipy.stats.skew, which also gives 2.0 for the case above): log1p
    assert auto_scaling(np.array([0.0, *boundary])) == "log1p"


@pytest.mark.filterwarnings("error")  # numpy warns on the mean of no values: none may reach the user
def test_no_rows_at_all_fit_without_a_warning() -> None:
    assert skewness(np.array([])) == 0.0 and skewness(np.array([7.0])) == 0.0
    for scaling in ("standard", "log1p", "auto"):
        column, _ = _fit([], scaling=scaling)
        assert (column.center, column.scale) == (0.0, 1.0), scaling
    assert _fit([], scaling="auto")[0].scaling == "standard"
    quantile, _ = _fit([], scaling="quantile")  # the quantiles of a single 0: every level at 0
    assert quantile.quantiles == [0.0] * 5
    # a value tied with every quantile takes their middle level, one above them all the top level
    assert quantile.transform(np.array([0.0, 1.0]))[0].tolist() == [0.5, 1.0]
