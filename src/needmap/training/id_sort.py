"""A training step's embedding ids sorted with their positions: three methods with one result, the fastest
on this CPU measured once per process.

Sparse row-wise Adam (:class:`needmap.training.optimizers.LazyAdam`) sums the gradient rows of each id a
step looked up, which needs the ids ascending and, among equal ids, their positions in order: what
``torch.sort(ids, stable=True)`` gives. Three methods give exactly that, and their speed depends on the CPU
more than on anything else:

- ``'packed'``: each id and its position packed into one int64 (the id in the high bits), the keys sorted
  by numpy's vectorized sort. Fastest on an Intel Xeon with AVX-512; on an AMD Zen 4 the same sort was several
  times slower, and slower than torch's.
- ``'radix'``: numpy's stable sort of 16-bit keys is a radix sort, linear in the ids; one pass per 16 bits
  of the largest id, least significant first, each pass stable on the last's order (an LSD radix sort).
- ``'torch'``: ``torch.sort(ids, stable=True)``, and the only method for other devices, for negative ids
  and for ids too wide to share an int64 with a position.

Since all three give the same ids and positions to the bit, choosing among them changes only time: the
first call with at least :data:`MEASURE_MIN_IDS` ids times each method on those ids (:data:`REPEATS` calls
each, in turns, the best counts) and keeps the fastest for the process: a few tens of milliseconds, once.
Timings per CPU: BENCHMARKS.md and benchmarks/results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: The methods, in the order they are timed (and the order that breaks a tie).
METHODS = ("radix", "packed", "torch")
#: A smaller call is not measured (it says little about a training step's); it takes :data:`UNMEASURED`.
MEASURE_MIN_IDS = 16_384
#: The method of calls made before a measurement.
UNMEASURED = "torch"
#: Timed calls of each method in the measurement, after one untimed call.
REPEATS = 5
#: Bits of the id sorted per radix pass: numpy's stable sort of 16-bit integers is a radix sort.
DIGIT_BITS = 16

_chosen: str | None = None


def sort_with_positions(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.sort(ids, stable=True)`` of int64 ids ``[N]``: the ids ascending and their positions in ``ids``,
    ties in the order of their positions, by the method measured fastest here (:func:`chosen_method`)."""
    if not _numpy_sortable(ids):
        return _by_torch(ids)
    return SORTS[chosen_method(ids)](ids)


def chosen_method(ids: torch.Tensor) -> str:
    """The method this process sorts with: measured on the first ``ids`` of at least :data:`MEASURE_MIN_IDS`
    that numpy can sort, then kept; :data:`UNMEASURED` before that."""
    global _chosen
    if _chosen is not None:
        return _chosen
    if len(ids) < MEASURE_MIN_IDS or not _numpy_sortable(ids):
        return UNMEASURED
    _chosen = _fastest(ids)
    return _chosen


def _fastest(ids: torch.Tensor) -> str:
    """The method of least time on ``ids``: each called once untimed, then :data:`REPEATS` rounds of one timed
    call of each in turn (so a passing slowdown of the machine reaches them alike); the best call counts."""
    best = dict.fromkeys(METHODS, float("inf"))
    for name in METHODS:
        SORTS[name](ids)
    for _ in range(REPEATS):
        for name in METHODS:
            start = time.perf_counter()
            SORTS[name](ids)
            best[name] = min(best[name], time.perf_counter() - start)
    fastest = min(METHODS, key=best.__getitem__)
    timings = ", ".join(f"{name} {seconds * 1e3:.2f} ms" for name, seconds in best.items())
    logger.debug("sorting %d ids: %s; %s kept for this process", len(ids), timings, fastest)
    return fastest


def _position_bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _numpy_sortable(ids: torch.Tensor) -> bool:
    """Whether the numpy methods take ``ids``: CPU int64, not empty, non-negative, and narrow enough to share
    an int64 with a position (so both numpy methods take the same ids)."""
    if ids.device.type != "cpu" or ids.dtype != torch.int64 or len(ids) == 0:
        return False
    low, high = torch.aminmax(ids)
    return int(low) >= 0 and int(high) < 1 << (63 - _position_bits(len(ids)))


def _by_torch(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.sort(ids, stable=True)


def _by_packed(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(ids)
    bits = _position_bits(n)
    keys = np.sort((ids.numpy() << bits) | np.arange(n, dtype=np.int64))
    return torch.from_numpy(keys >> bits), torch.from_numpy(keys & ((1 << bits) - 1))


def _by_radix(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values = ids.numpy()
    order: np.ndarray | None = None
    shift, high = 0, int(values.max())
    mask = (1 << DIGIT_BITS) - 1
    while order is None or high >> shift:
        digits = values >> shift if order is None else values[order] >> shift
        digits = (digits & mask).astype(np.uint8 if high >> shift <= 0xFF else np.uint16)
        step = np.argsort(digits, kind="stable")
        order = step if order is None else order[step]
        shift += DIGIT_BITS
    return torch.from_numpy(values[order]), torch.from_numpy(order)


SORTS: dict[str, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = {
    "radix": _by_radix,
    "packed": _by_packed,
    "torch": _by_torch,
}
