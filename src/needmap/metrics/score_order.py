"""Rows ranked by score, from high to low, sorted once per array of scores within an evaluation; and other
results of the same arrays, computed once there too.

The binary curves and measures (:mod:`needmap.metrics.curves`, the lift and capture of
:mod:`needmap.metrics.classification`) each rank the rows by score with a stable sort, so that tied scores keep
their input order. An evaluation document asks for seven of them of the same scores; inside a
``with shared_orders():`` block, the first asks for the order and the others reuse it. The same block keeps the
results that :func:`computed_once` is asked for (a model's binary metrics on the test rows, which the held-out
judgement and the evaluation document both report). Arrays are recognised by their values (a digest of their
bytes, a small fraction of a sort's cost), not by the array object, since each function converts its input to
float64 first; outside such a block every call computes. Blocks nest: an inner block shares the outer one's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

_SHARED: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("needmap_score_orders", default=None)

T = TypeVar("T")


def _digest(values: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    values = np.ascontiguousarray(values)
    return values.dtype.str, values.shape, hashlib.blake2b(values.view(np.uint8), digest_size=16).digest()


def descending_order(scores: np.ndarray) -> np.ndarray:
    """Row positions ``[n]`` from the highest score to the lowest (a stable sort: ties in input order).

    The result is read-only inside :func:`shared_orders`, where callers share it."""
    shared = _SHARED.get()
    if shared is None:
        return _sort(scores)
    key = ("order", _digest(scores))
    order = shared.get(key)
    if order is None:
        order = _sort(np.ascontiguousarray(scores))
        order.flags.writeable = False
        shared[key] = order
    return order


def computed_once(kind: str, arrays: Sequence[np.ndarray], compute: Callable[[], T], *extra: Hashable) -> T:
    """``compute()``, once per distinct ``kind``, values of ``arrays`` and ``extra`` inside a :func:`shared_orders`
    block (later calls get the first result, which they must not change); outside one, every call computes."""
    shared = _SHARED.get()
    if shared is None:
        return compute()
    key = (kind, *(_digest(a) for a in arrays), *extra)
    if key not in shared:
        shared[key] = compute()
    return shared[key]


def _sort(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores, kind="stable")


@contextmanager
def shared_orders() -> Iterator[None]:
    """Within the block, :func:`descending_order` sorts each distinct array of scores once and
    :func:`computed_once` computes each result once; they go when the outermost block ends."""
    if _SHARED.get() is not None:  # inside another block: share its results
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)
