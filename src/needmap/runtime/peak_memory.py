"""The process's peak resident memory: what the phase clock of a command and the trainer note."""

from __future__ import annotations

import sys


def peak_memory_mb() -> float | None:
    """The process's peak resident memory so far, in MB (2**20 bytes); None where the system does not say.

    On Linux, /proc's VmHWM: getrusage's ru_maxrss there carries over the parent's peak at fork through exec,
    so a command started by a large process would report that process's memory."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere
