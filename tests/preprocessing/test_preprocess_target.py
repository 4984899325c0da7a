"""Target encoding for binary, multiclass and regression tasks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import DataError
from needmap.preprocessing.preprocess import Preprocessor

FEATURES = {"x": [1.0, 2.0, 3.0]}


def test_binary_target_is_one_for_the_positive_class(make_schema):
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("no", "yes"))
    y = Preprocessor(schema).encode_target(pa.table({**FEATURES, "y": ["yes", "no", "yes"]}))
    assert y.dtype == np.float32 and y.tolist() == [1.0, 0.0, 1.0]


def test_boolean_target_is_compared_through_stringify(make_schema):
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("false", "true"))
    y = Preprocessor(schema).encode_target(pa.table({**FEATURES, "y": [True, False, False]}))
    assert y.tolist() == [1.0, 0.0, 0.0]


def test_multiclass_target_is_the_class_index(make_schema):
    schema = make_schema(numeric=("x",), target="y", task="multiclass", classes=("1", "2", "10"))
    y = Preprocessor(schema).encode_target(pa.table({**FEATURES, "y": [10.0, 1.0, 2.0]}))
    assert y.dtype == np.int64 and y.tolist() == [2, 0, 1]


def test_regression_target_is_float32(make_schema):
    schema = make_schema(numeric=("x",), target="y", task="regression")
    y = Preprocessor(schema).encode_target(pa.table({**FEATURES, "y": ["1.5", "-2", "30"]}))
    assert y.dtype == np.float32 and y.tolist() == [1.5, -2.0, 30.0]
    with pytest.raises(DataError, match="expected a number"):
        Preprocessor(schema).encode_target(pa.table({**FEATURES, "y": ["1.5", "lots", "30"]}))


def test_unknown_class_is_a_data_error_naming_row_value_and_classes(make_schema):
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("no", "yes"))
    table = pa.table({**FEATURES, "y": ["no", "no", "Yes"]}).replace_schema_metadata(
        {b"needmap.source": b"leads.csv", b"needmap.first_row": b"2"}
    )
    with pytest.raises(DataError) as caught:
        Preprocessor(schema).encode_target(table)
    message = str(caught.value)
    assert "row 4" in message and "'Yes'" in message and "'no', 'yes'" in message
    assert "leads.csv" in message and caught.value.column == "y"


def test_empty_target_is_a_data_error(make_schema):
    schema = make_schema(numeric=("x",), target="y", task="binary", classes=("no", "yes"))
    with pytest.raises(DataError, match="empty target") as caught:
        Preprocessor(schema).encode_target(pa.table({**FEATURES, "y": ["no", None, "yes"]}))
    assert caught.value.row == 1
