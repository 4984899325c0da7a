"""needmap.data.split against the rule its docstring states, written out here step by step: the exact
rows of a seeded split, the sizes at both ends of test_size, and the defaults."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.data.split import METHODS, split_indices
from needmap.errors import ConfigError


def _documented_stratified(y: np.ndarray, test_size: float, seed: int) -> np.ndarray:
    """The documented rule: for each class in sorted order, its rows in ascending order shuffled by one
    Generator(seed), the first round(count * test_size) of them (at least 1, at most count - 1) to test."""
    rng = np.random.default_rng(seed)
    test = []
    for label in sorted(set(y.tolist())):
        rows = np.array([i for i, v in enumerate(y.tolist()) if v == label])
        n_test = min(max(round(len(rows) * test_size), 1), len(rows) - 1)
        test.extend(rng.permutation(rows)[:n_test].tolist())
    return np.array(sorted(test))


def test_methods_and_defaults() -> None:
    assert METHODS == ("random", "stratified", "time")
    y = np.array([0, 1] * 25)
    # the defaults: stratified, 20% to test, seed 0
    np.testing.assert_array_equal(split_indices(50, y=y)[1], _documented_stratified(y, 0.2, 0))
    with pytest.raises(ConfigError, match="the 'stratified' split needs y=; found none"):
        split_indices(50)


@pytest.mark.parametrize("seed", [0, 5])
def test_stratified_split_takes_the_documented_rows(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    y = rng.choice(np.array(["b", "a", "c"]), size=300, p=[0.5, 0.3, 0.2])  # classes not in sorted order
    train, test = split_indices(300, method="stratified", test_size=0.25, seed=seed, y=y)
    np.testing.assert_array_equal(test, _documented_stratified(y, 0.25, seed))
    np.testing.assert_array_equal(train, np.setdiff1d(np.arange(300), test))


def test_random_split_takes_a_seeded_permutations_first_rows() -> None:
    train, test = split_indices(40, method="random", test_size=0.3, seed=11)
    expected = np.sort(np.random.default_rng(11).permutation(40)[:12])
    np.testing.assert_array_equal(test, expected)
    assert train.dtype == np.int64 and test.dtype == np.int64
    np.testing.assert_array_equal(train, np.setdiff1d(np.arange(40), expected))


@pytest.mark.parametrize(
    ("n", "test_size", "expected"),
    [
        (10, 0.1, 1),  # round(1.0) = 1
        (10, 0.04, 1),  # round(0.4) = 0: at least one row
        (10, 0.99, 9),  # round(9.9) = 10: at most n - 1, train keeps one row
        (2, 0.5, 1),
        (7, 0.5, 4),  # Python rounds 3.5 to the even 4
        (5, 0.5, 2),  # and 2.5 to the even 2
    ],
)
def test_test_rows_are_the_rounded_share_within_one_and_n_minus_one(n: int, test_size: float, expected: int) -> None:
    train, test = split_indices(n, method="random", test_size=test_size)
    assert (len(train), len(test)) == (n - expected, expected)
    time = np.arange(n) * 2.0
    train, test = split_indices(n, method="time", test_size=test_size, time=time)
    np.testing.assert_array_equal(test, np.arange(n - expected, n))


def test_stratified_sizes_are_rounded_per_class() -> None:
    y = np.array([0] * 12 + [1] * 3 + [2] * 2)
    train, test = split_indices(17, test_size=0.3, y=y)
    # class 0: round(3.6) = 4; class 1: round(0.9) = 1; class 2: round(0.6) = 1, at most 2 - 1 = 1
    assert [(y[test] == c).sum() for c in (0, 1, 2)] == [4, 1, 1]
    assert [(y[train] == c).sum() for c in (0, 1, 2)] == [8, 2, 1]


def test_time_split_of_timedeltas_refuses_nat_and_cuts_by_duration() -> None:
    with pytest.raises(ConfigError, match="time has 1 NaT values"):
        split_indices(3, method="time", time=np.array([1, "NaT", 3], dtype="timedelta64[s]"))
    waits = np.array([30, 10, 20, 40], dtype="timedelta64[s]")
    train, test = split_indices(4, method="time", test_size=0.5, time=waits)
    assert list(train) == [1, 2] and list(test) == [0, 3]


def test_float_times_with_nan_are_refused_and_integer_test_size_is_checked() -> None:
    with pytest.raises(ConfigError, match="time has 1 NaN values"):
        split_indices(3, method="time", time=np.array([1.0, np.nan, 3.0]))
    with pytest.raises(ConfigError, match=r"test_size is '0\.2'"):
        split_indices(10, method="random", test_size="0.2")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"time has shape \(2, 2\); expected \(4,\)"):
        split_indices(4, method="time", time=np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="the 'time' split needs time=; found none"):
        split_indices(4, method="time")
    assert len(split_indices(2, method="random", test_size=0.5)[1]) == 1  # two rows are enough


def test_labels_that_cannot_be_sorted_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="cannot be sorted together"):
        split_indices(4, y=np.array([1, "a", 1, "a"], dtype=object))
