"""The preprocessor's fit/transform boundary: what fit learns comes from the training rows alone, and
transform applies it without learning anything, to any table with those columns. Expected values are
worked out by hand from the rows written here."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import SchemaError
from needmap.features.preprocess import PreprocessConfig, Preprocessor
from needmap.schema import ColumnSpec, Schema

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
    schema.extra_targets = [{"name": "spend", "task": "regression", "classes": []}]
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": ["yes", "no", None], "spend": [10.5, None, 3.0]})
    y = Preprocessor(schema).encode_target(table)
    assert y.dtype == np.float32 and y.shape == (3, 2)
    np.testing.assert_array_equal(y, [[1.0, 10.5], [0.0, np.nan], [np.nan, 3.0]])


def test_a_missing_target_column_is_named_with_the_file(make_schema) -> None:
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("no", "yes"))
    table = pa.table({"x": [1.0, 2.0]}).replace_schema_metadata({b"needmap.source": b"leads.csv"})
    with pytest.raises(SchemaError, match="found no column 'y'") as error:
        Preprocessor(schema).encode_target(table)
    assert error.value.file == "leads.csv" and error.value.column == "y"
