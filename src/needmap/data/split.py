"""Train/test splits as index arrays: random, stratified by class, or by time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from needmap.errors import ConfigError

METHODS: tuple[str, ...] = ("random", "stratified", "time")


def split_indices(
    n: int,
    *,
    method: str = "stratified",
    test_size: float = 0.2,
    seed: int = 0,
    y: np.ndarray | None = None,
    time: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions ``0..n-1`` into a train and a test part.

    Args:
        n: number of rows (at least 2).
        method: ``"random"``: a uniform random ``test_size`` share; ``"stratified"``: the same share
            of every class of ``y``, each class shuffled with ``numpy.random.Generator(seed)``;
            ``"time"``: the latest ``test_size`` share by ``time`` goes to test.
        test_size: share of rows in the test part, in (0, 1). The test part has
            ``round(n * test_size)`` rows, at least 1 and at most ``n - 1`` (per class when stratified).
        seed: seed of the random generator; the same seed gives the same split.
        y: ``[n]`` class labels without missing values (any dtype numpy can sort), for ``stratified``.
        time: ``[n]`` numbers or ``datetime64`` values without missing values, for ``time``. Rows
            with the same time always land on the same side: ties at the cut go to test, unless that
            would leave train empty, in which case they go to train.

    Returns:
        ``(train, test)``: sorted int64 arrays of row positions, disjoint, together ``0..n-1``.

    Raises:
        ConfigError: an unknown method, ``test_size`` outside (0, 1), ``n < 2``, a missing or
            wrongly sized ``y`` / ``time``, a class with fewer than 2 rows, or times that cannot be cut.
    """
    if method not in METHODS:
        raise ConfigError(f"split method {method!r} is not known; expected one of {', '.join(METHODS)}.")
    if not isinstance(test_size, (int, float)) or not 0.0 < float(test_size) < 1.0:
        raise ConfigError(f"test_size is {test_size!r}; expected a number strictly between 0 and 1.")
    if n < 2:
        raise ConfigError(f"cannot split {n} row(s) into train and test; expected at least 2 rows.")
    if method == "random":
        test = _take_share(np.arange(n, dtype=np.int64), test_size, np.random.default_rng(seed))
    elif method == "stratified":
        test = _stratified(n, test_size, seed, _check_array(y, n, "y", "stratified"))
    else:
        test = _by_time(n, test_size, _check_array(time, n, "time", "time"))
    return _complement(n, test), np.sort(test).astype(np.int64)


def _n_test(count: int, test_size: float) -> int:
    """Test rows out of ``count``: ``round(count * test_size)`` clipped to ``[1, count - 1]``."""
    return int(min(max(round(count * test_size), 1), count - 1))


def _take_share(index: np.ndarray, test_size: float, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(index)[: _n_test(len(index), test_size)]


def _check_array(values: np.ndarray | None, n: int, name: str, method: str) -> np.ndarray:
    if values is None:
        raise ConfigError(f"the {method!r} split needs {name}=; found none.")
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise ConfigError(f"{name} has shape {arr.shape}; expected ({n},) to match n.")
    if arr.dtype.kind in "fc" and np.isnan(arr).any():
        raise ConfigError(f"{name} has {int(np.isnan(arr).sum())} NaN values; expected no missing values.")
    if arr.dtype == object and np.equal(arr, None).any():
        raise ConfigError(f"{name} has {int(np.equal(arr, None).sum())} None values; expected no missing values.")
    if arr.dtype.kind in "mM" and np.isnat(arr).any():
        raise ConfigError(f"{name} has {int(np.isnat(arr).sum())} NaT values; expected no missing values.")
    return arr


def _classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True, return_counts=True)``; labels as text (an object array) are
    counted by Arrow's hash table and only the distinct labels sorted, not every row."""
    if y.dtype == object and len(y):
        try:
            encoded = pa.array(y, type=pa.string()).dictionary_encode()
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            encoded = None  # not all text: np.unique sorts them, or says they cannot be sorted together
        if encoded is not None and encoded.null_count == 0:
            labels = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
            order = np.argsort(labels.astype(str), kind="stable")
            rank = np.empty(len(order), dtype=np.intp)
            rank[order] = np.arange(len(order))
            inverse = rank[encoded.indices.to_numpy(zero_copy_only=False)]
            return labels[order], inverse, np.bincount(inverse, minlength=len(order))
    try:
        return np.unique(y, return_inverse=True, return_counts=True)
    except TypeError:
        raise ConfigError("y mixes values that cannot be sorted together; expected one kind of label.") from None


def _stratified(n: int, test_size: float, seed: int, y: np.ndarray) -> np.ndarray:
    """Test rows: ``_n_test`` of each class (classes in sorted order), each class shuffled."""
    classes, inverse, counts = _classes(y)
    small = counts < 2
    if small.any():
        label = classes[int(np.argmax(small))]
        label = label.item() if isinstance(label, np.generic) else label  # text labels are plain str
        raise ConfigError(
            f"class {label!r} has {int(counts[small][0])} row; a stratified split needs at least 2 rows per class.",
            hint="Use method='random', or drop or merge that class.",
        )
    rng = np.random.default_rng(seed)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(counts)))
    parts = [_take_share(order[bounds[k] : bounds[k + 1]], test_size, rng) for k in range(len(classes))]
    return np.concatenate(parts)


def _by_time(n: int, test_size: float, time: np.ndarray) -> np.ndarray:
    """Test rows: those at or after the time at sorted position ``n - n_test``."""
    cut = np.sort(time, kind="stable")[n - _n_test(n, test_size)]
    test = np.flatnonzero(time >= cut)
    if len(test) == n:
        test = np.flatnonzero(time > cut)
    if len(test) == 0:
        raise ConfigError(f"every row has the same time ({cut}); a time split needs at least two times.")
    return test


def _complement(n: int, test: np.ndarray) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask).astype(np.int64)


def sample_positions(n: int, max_rows: int | None, seed: int) -> np.ndarray | None:
    """Sorted positions of a random sample of ``max_rows`` of ``n`` rows (drawn with ``seed``, without
    replacement), or None to keep them all (``max_rows`` None or not below ``n``)."""
    if max_rows is None or n <= max_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
