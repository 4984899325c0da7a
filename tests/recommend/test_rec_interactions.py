"""Reading interactions: ids kept exactly, bad rows counted, positives chosen, histories in time order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import ConfigError, DataError
from needmap.recommend.interactions import read_interactions


def log() -> pa.Table:
    return pa.table(
        {
            "cust": ["007", "007", "b", "b", None, "b", "007"],
            "sku": [10, 11, 10, 12, 13, None, 12],
            "ts": ["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05", "2024-01-01", "2024-01-01", "not a time"],
            "kind": ["view", "buy", "buy", "buy", "buy", "buy", "buy"],
        }
    )


def test_ids_kept_and_histories_sorted_by_time() -> None:
    data = read_interactions(log(), customer="cust", item="sku", time="ts")
    assert data.customer_ids.to_pylist() == ["007", "b"]
    assert data.customer_ids.type == pa.string()
    assert data.item_ids.type == pa.int64()
    starts = data.starts()
    first = [data.item_ids[i].as_py() for i in data.item[starts[0] : starts[1]]]
    assert first == [11, 10]  # 2024-01-01 before 2024-01-03
    assert data.bad_rows == {"missing customer": 1, "missing item": 1, "unparseable time": 1}
    assert len(data) == 4


def test_positive_events_only() -> None:
    data = read_interactions(log(), customer="cust", item="sku", time="ts", event="kind", positive_events=["buy"])
    assert 10 in data.item_ids.to_pylist()
    assert len(data) == 3  # the view of 007 is not a positive


def test_missing_column_and_no_positives_are_clear() -> None:
    with pytest.raises(ConfigError, match=r"item column 'skuu' is not in the log.*Did you mean 'sku'"):
        read_interactions(log(), customer="cust", item="skuu")
    with pytest.raises(DataError, match="no positive event"):
        read_interactions(log(), customer="cust", item="sku", event="kind", positive_events=["refund"])
    with pytest.raises(ConfigError, match="no event column"):
        read_interactions(log(), customer="cust", item="sku", positive_events=["buy"])


def test_matrix_and_popularity_count_customers_once() -> None:
    table = pa.table({"c": [1, 1, 2], "i": ["x", "x", "x"], "t": [1, 2, 3]})
    data = read_interactions(table, customer="c", item="i", time="t")
    assert data.popularity().tolist() == [2.0]
    assert np.asarray(data.matrix().todense()).tolist() == [[1.0], [1.0]]
