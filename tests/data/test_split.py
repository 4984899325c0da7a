"""needmap.data.split: random, stratified and time splits, and the options they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.data.split import split_indices
from needmap.errors import ConfigError


def check_partition(train: np.ndarray, test: np.ndarray, n: int) -> None:
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


def test_random_split_sizes_and_determinism() -> None:
    train, test = split_indices(1000, method="random", test_size=0.25, seed=3)
    check_partition(train, test, 1000)
    assert len(test) == 250
    again = split_indices(1000, method="random", test_size=0.25, seed=3)
    assert np.array_equal(test, again[1])
    other = split_indices(1000, method="random", test_size=0.25, seed=4)
    assert not np.array_equal(test, other[1])


def test_stratified_split_keeps_class_ratios() -> None:
    y = np.array(["no"] * 900 + ["yes"] * 100, dtype=object)
    np.random.default_rng(0).shuffle(y)
    train, test = split_indices(1000, test_size=0.2, seed=7, y=y)
    check_partition(train, test, 1000)
    assert (y[test] == "yes").sum() == 20 and (y[test] == "no").sum() == 180
    assert np.array_equal(test, split_indices(1000, test_size=0.2, seed=7, y=y)[1])
    assert not np.array_equal(test, split_indices(1000, test_size=0.2, seed=8, y=y)[1])


def test_stratified_small_class_keeps_one_row_each_side() -> None:
    y = np.array([0] * 50 + [1] * 2)
    train, test = split_indices(52, test_size=0.1, y=y)
    assert (y[test] == 1).sum() == 1 and (y[train] == 1).sum() == 1


def test_stratified_errors() -> None:
    with pytest.raises(ConfigError, match="class 'rare' has 1 row"):
        split_indices(5, y=np.array(["a", "a", "rare", "a", "a"]))
    # Text labels read from Arrow arrive as an object array of str (no numpy scalar .item()).
    with pytest.raises(ConfigError, match="class 'rare' has 1 row"):
        split_indices(5, y=np.array(["a", "a", "rare", "a", "a"], dtype=object))
    with pytest.raises(ConfigError, match="needs y="):
        split_indices(10)
    with pytest.raises(ConfigError, match=r"shape \(3,\)"):
        split_indices(10, y=np.array([0, 1, 0]))
    with pytest.raises(ConfigError, match="1 NaN"):
        split_indices(4, y=np.array([0.0, 1.0, np.nan, 1.0]))
    with pytest.raises(ConfigError, match="1 None"):
        split_indices(4, y=np.array(["a", None, "a", "b"], dtype=object))


def test_time_split_puts_the_latest_rows_in_test() -> None:
    time = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6, 10])
    train, test = split_indices(10, method="time", test_size=0.3, time=time)
    check_partition(train, test, 10)
    assert sorted(time[test]) == [8, 9, 10]
    assert time[train].max() < time[test].min()


def test_time_split_keeps_ties_together() -> None:
    days = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03", "2024-01-03"], dtype="datetime64[D]")
    train, test = split_indices(5, method="time", test_size=0.2, time=days)
    assert list(test) == [2, 3, 4]  # the cut falls inside the tie: all of it goes to test
    lead = np.array([1, 1, 1, 2])
    train, test = split_indices(4, method="time", test_size=0.5, time=lead)
    assert list(train) == [0, 1, 2] and list(test) == [3]  # ties at the start stay in train
    with pytest.raises(ConfigError, match="same time"):
        split_indices(3, method="time", time=np.array([4, 4, 4]))
    with pytest.raises(ConfigError, match="1 NaT"):
        split_indices(2, method="time", time=np.array(["2024-01-01", "NaT"], dtype="datetime64[D]"))


@pytest.mark.parametrize("test_size", [0, 1, -0.1, 1.5, 0.0])
def test_test_size_outside_unit_interval(test_size: float) -> None:
    with pytest.raises(ConfigError, match="test_size"):
        split_indices(10, method="random", test_size=test_size)


def test_other_refusals() -> None:
    with pytest.raises(ConfigError, match="method 'kfold'"):
        split_indices(10, method="kfold")
    with pytest.raises(ConfigError, match="at least 2 rows"):
        split_indices(1, method="random")


@pytest.mark.parametrize(
    "labels",
    [
        ["b", "a", "c", "a", "b", "b"],
        ["yes", "no"] * 7,
        ["é", "e", "z", "Z", "e", "é", "Z", "z"],
        ["\x00missing", "1", "0"] * 3,
    ],
)
def test_text_labels_are_counted_as_np_unique_counts_them(labels: list[str]) -> None:
    from needmap.data.split import _classes

    y = np.asarray(labels * 50, dtype=object)
    got, want = _classes(y), np.unique(y, return_inverse=True, return_counts=True)
    for a, b in zip(got, want, strict=True):
        assert a.tolist() == b.tolist()
