"""The allocator setting of training: applied once on glibc, left alone elsewhere."""

from __future__ import annotations

import platform
import sys

from needmap.training import memory


def test_keep_freed_memory_is_applied_on_glibc_and_idempotent() -> None:
    expected = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert memory.keep_freed_memory() is expected
    assert memory.keep_freed_memory() is expected  # a second call changes nothing


def test_no_glibc_means_no_change(monkeypatch) -> None:
    monkeypatch.setattr(memory, "_applied", None)
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.keep_freed_memory() is False
