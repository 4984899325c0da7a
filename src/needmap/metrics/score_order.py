"""Rows ranked by score, from high to low, sorted once per array of scores within an evaluation.

The binary curves and measures (:mod:`needmap.metrics.curves`, the lift and capture of
:mod:`needmap.metrics.classification`) each rank the rows by score with a stable sort, so that tied scores keep
their input order. An evaluation document asks for seven of them of the same scores; inside a
``with shared_orders():`` block, the first asks for the order and the others reuse it. Scores are recognised
by their values (a digest of their bytes, a small fraction of a sort's cost), not by the array object, since
each function converts its input to float64 first; outside such a block every call sorts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

_ORDERS: ContextVar[dict[tuple[str, tuple[int, ...], bytes], np.ndarray] | None] = ContextVar(
    "needmap_score_orders", default=None
)


def descending_order(scores: np.ndarray) -> np.ndarray:
    """Row positions ``[n]`` from the highest score to the lowest (a stable sort: ties in input order).

    The result is read-only inside :func:`shared_orders`, where callers share it."""
    orders = _ORDERS.get()
    if orders is None:
        return _sort(scores)
    values = np.ascontiguousarray(scores)
    key = (values.dtype.str, values.shape, hashlib.blake2b(values.view(np.uint8), digest_size=16).digest())
    order = orders.get(key)
    if order is None:
        order = _sort(values)
        order.flags.writeable = False
        orders[key] = order
    return order


def _sort(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores, kind="stable")


@contextmanager
def shared_orders() -> Iterator[None]:
    """Within the block, :func:`descending_order` sorts each distinct array of scores once; the orders go
    when the block ends."""
    token = _ORDERS.set({})
    try:
        yield
    finally:
        _ORDERS.reset(token)
