"""Which allocator Arrow uses while needmap reads and encodes data: the system's (glibc malloc).

pyarrow's default memory pool on Linux is mimalloc. Its freed pages stay with the thread that
allocated them, and Arrow reads Parquet and computes on its own thread pool, so after a file has
been read its buffers, though freed, stay resident until those threads allocate again:
``MemoryPool.release_unused()`` (``mi_collect``) collects the calling thread's heap only. In the
speed benchmark's needmap case (benchmarks/bench_speed.py: a Criteo-shaped Parquet file to a trained
model and scores), most of what stayed resident in mimalloc's arena after the training rows were
encoded was free, and the system pool lowered the process's peak memory without slowing
preprocessing (benchmarks/results/HISTORY.md).

Two levels, because Arrow's C++ library fixes its own default pool from ``ARROW_DEFAULT_MEMORY_POOL``
when pyarrow is loaded, and pyarrow's ``set_memory_pool`` reaches only what is allocated through
pyarrow's Python layer (the Parquet reader's I/O and some kernels still take the C++ default):

- :func:`prefer_system_arrow_pool`, for a whole process, called by the ``needmap`` command before it
  loads pyarrow (a script may call it first too; importing needmap never does): when pyarrow is not
  loaded yet and the variable is unset, it sets ``ARROW_DEFAULT_MEMORY_POOL=system`` for this process
  (and the processes it starts), so every Arrow allocation uses the system allocator.
- :func:`system_arrow_pool`, around each needmap call that reads or encodes data (``Model.fit``,
  ``predict_proba`` and ``evaluate`` on tables and files,
  :func:`needmap.workflows.predict.predict_stream`, every ``needmap`` command): where pyarrow was
  loaded first, it switches pyarrow's default pool to the system allocator for the call and puts the
  previous pool back after it (this alone leaves some memory resident in mimalloc: Parquet's I/O and
  some kernels take the C++ default).
  Buffers remember the pool that allocated them, so arrays made inside outlive the call safely.

A user who chose a pool with ``ARROW_DEFAULT_MEMORY_POOL`` keeps it: nothing is switched then.
:func:`release_unused_memory` hands what the pool keeps for reuse back to the system.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

#: Arrow's environment variable that names its default pool ('system', 'jemalloc', 'mimalloc').
POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"

_lock = threading.Lock()
_depth = 0
_previous: Any = None


def prefer_system_arrow_pool() -> bool:
    """Set ``ARROW_DEFAULT_MEMORY_POOL=system`` when pyarrow is not loaded yet and the variable is
    unset; returns whether it did. Must run before anything imports pyarrow to have an effect."""
    if "pyarrow" in sys.modules or os.environ.get(POOL_ENV):
        return False
    os.environ[POOL_ENV] = "system"
    return True


F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def system_arrow_pool() -> Iterator[None]:
    """Arrow's default memory pool is the system allocator inside the block (nested blocks: the
    outermost one switches and restores); unchanged when ``ARROW_DEFAULT_MEMORY_POOL`` is set."""
    global _depth, _previous
    if os.environ.get(POOL_ENV):
        yield
        return
    import pyarrow as pa

    with _lock:
        if _depth == 0:
            _previous = pa.default_memory_pool()
            pa.set_memory_pool(pa.system_memory_pool())
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _previous is not None:
                pa.set_memory_pool(_previous)
                _previous = None


def uses_system_arrow_pool(function: F) -> F:
    """Decorator: ``function`` runs inside :func:`system_arrow_pool`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with system_arrow_pool():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def release_unused_memory() -> None:
    """Hand the memory that Arrow's allocator keeps for reuse back to the system (it otherwise stays at the
    high-water mark of the largest read; about 300 MB after a 200,000-row sample of Criteo-shaped rows)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
