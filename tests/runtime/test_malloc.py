"""The allocator setting of training (needmap.runtime.malloc): applied once on glibc, left alone elsewhere."""

from __future__ import annotations

import platform
import sys

import pytest

from needmap.runtime import malloc


def test_keep_freed_memory_is_applied_on_glibc_and_idempotent() -> None:
    expected = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert malloc.keep_freed_memory() is expected
    assert malloc.keep_freed_memory() is expected  # a second call changes nothing


def test_no_glibc_means_no_change(monkeypatch) -> None:
    monkeypatch.setattr(malloc, "_applied", None)
    monkeypatch.setattr(malloc.sys, "platform", "darwin")
    assert malloc.keep_freed_memory() is False


@pytest.mark.slow
def test_freed_memory_goes_back_after_training() -> None:
    import sys

    import numpy as np

    from needmap.runtime.malloc import keep_freed_memory, return_freed_memory

    if not keep_freed_memory():
        assert not return_freed_memory() or not sys.platform.startswith("linux")
        return

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    blocks = [np.ones(2_500_000) for _ in range(24)]  # 24 blocks of 20 MB: below the 32 MB mmap threshold
    held = rss_mb()
    del blocks  # kept in the heap by keep_freed_memory
    assert rss_mb() > held - 100
    assert return_freed_memory()
    assert rss_mb() < held - 300
