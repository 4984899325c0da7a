"""End the ``needmap`` command's process once its work is done, without the interpreter's teardown.

After a command has written its outputs and printed its last line, Python's own shutdown still frees every
object, unloads the extension modules, and waits while native threads (the allocators' and the thread pools'
of the libraries loaded) hand their memory back to the system page by page: time spent on memory that the
operating system takes back at once when the process ends (the figure for `needmap train` on 1M rows:
BENCHMARKS.md). :func:`end_process` does what that shutdown does for the program's sake, then ends the process:

- where a thread that is not a daemon is still alive (a library's worker, an executor not shut down), it leaves
  the exit to the interpreter, which wakes such executors and waits for those threads: nothing is cut short;
- else it runs the exit handlers (``atexit``: logging's flush, the clean-up of temporary files and directories,
  every handler the libraries registered), in their order;
- it flushes standard output and standard error;
- then ``os._exit`` with the command's status.

Only the command's entry point calls it (:func:`needmap.cli.main.main`); :func:`needmap.cli.main.run`, the
same command without it, raises ``SystemExit`` as any click program does, for callers inside a process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def exit_status(code: object) -> int:
    """The process status of ``SystemExit(code)`` as the interpreter reads it: None is 0, an int is itself,
    anything else is printed to standard error and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def end_process(code: object = 0) -> NoReturn:
    """End the process with the status of ``SystemExit(code)``, after the exit handlers and flushes that a normal
    exit runs, skipping the rest of the interpreter's shutdown; with a thread alive that a normal exit would wait
    for, the normal exit (see the module docstring)."""
    status = exit_status(code)
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(status)  # the interpreter's own exit waits for them (and wakes idle executors first)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream: nothing more can reach it
            stream.flush()
    os._exit(status)
