"""Held-out protocols: leave-last-out by time, and one global time cut."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import ConfigError
from needmap.recommend.interactions import from_arrays
from needmap.recommend.split import leave_last_out, time_split


def test_leave_last_out_holds_out_the_last_two_by_time() -> None:
    data = from_arrays(["a"] * 4 + ["b"] * 2, [1, 2, 3, 4, 1, 2], [4, 3, 2, 1, 1, 2])
    parts = leave_last_out(data)
    item = lambda j: data.item_ids[int(j)].as_py()  # noqa: E731
    assert [item(i[0]) for i in parts.test.items] == [1]  # a's last event in time is item 1 (time 4)
    assert [item(i[0]) for i in parts.validation.items] == [2]
    assert len(parts.train) == 4  # a keeps 4 and 3, b (two events) stays whole
    assert len(parts.train_and_validation) == 5
    assert sorted(data.customer_ids[int(c)].as_py() for c in parts.test.customers) == ["a"]


def test_time_split_never_trains_on_the_future() -> None:
    rng = np.random.default_rng(0)
    customers = rng.integers(0, 50, 2000)
    items = rng.integers(0, 40, 2000)
    times = rng.integers(0, 10_000, 2000)
    data = from_arrays(customers, items, times)
    parts = time_split(data, 0.2, 0.1)
    cut = parts.train_and_validation.time.max()
    assert parts.train.time.max() < cut or len(parts.train) == 0
    later = data.time[data.time > cut]
    assert len(later) and later.min() > cut
    for c, held in zip(parts.test.customers, parts.test.items, strict=True):
        before = parts.train_and_validation.item[parts.train_and_validation.customer == c]
        assert not np.isin(held, before).any()  # only new items are held out


def test_bad_protocol_inputs() -> None:
    with pytest.raises(ConfigError, match="three or more"):
        leave_last_out(from_arrays(["a", "a"], [1, 2], [1, 2]))
    with pytest.raises(ConfigError, match="needs event times"):
        time_split(from_arrays(["a", "a", "a"], [1, 2, 3]))
