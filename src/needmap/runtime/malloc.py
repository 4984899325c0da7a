"""Keep freed memory in the process: the allocator setting that makes CPU training steps cheaper.

A training step allocates and frees tensors of several MB (a batch of field embeddings, 4,096 x 39
x 16 float32 = 10 MB, and its products and gradients). glibc's malloc serves blocks above its mmap
threshold with fresh ``mmap`` pages and returns them to the OS when freed, so every step pays the
page faults of touching that memory again: elementwise operations on such tensors ran at a fraction of
memory speed. Raising the mmap threshold to its maximum (32 MiB) and the trim threshold keeps freed
blocks in the heap for the next step, which raised the training throughput of DeepFM 400-400-400 on
Criteo-shaped rows (the same effect as running under jemalloc or tcmalloc; benchmarks/results/HISTORY.md).
The cost: memory
freed after a step stays with the process instead of going back to the OS (peak RSS is unchanged).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024
TOP_PAD = 64 * 1024 * 1024

_applied: bool | None = None


def _glibc(name: str, argtypes: list[Any]) -> Any:
    """glibc's function ``name`` (int result), or None where there is no glibc (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # By its soname: ctypes.util.find_library would run ldconfig in a child process.
        function = getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed blocks up to 32 MiB in the heap (once per process).

    Returns True when the setting is in force, False where there is no glibc (macOS, Windows, musl):
    there the allocator is left as it is.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    mallopt = _glibc("mallopt", [ctypes.c_int, ctypes.c_int])
    if mallopt is None:
        return False
    _applied = all(
        mallopt(param, value) == 1
        for param, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_TOP_PAD, TOP_PAD),
        )
    )
    return _applied


def return_freed_memory() -> bool:
    """Give the heap's free memory back to the OS (glibc's ``malloc_trim``): after training, the blocks
    :func:`keep_freed_memory` kept for the next step (a step's temporaries) are not needed. Returns False
    where there is no glibc."""
    trim = _glibc("malloc_trim", [ctypes.c_size_t])
    if trim is None:
        return False
    trim(0)
    return True
