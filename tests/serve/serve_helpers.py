"""What the service's tests share: a table of customers, a service run for real (uvicorn in a thread on a free
loopback port), and a check that an answer holds no traceback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.serve.registry import Registry
from needmap.serve.settings import Settings

#: A key long enough to be accepted (tests only).
KEY = "test-key-0123456789abcdef"
#: Debian's Chromium, which the browser tests drive through playwright.


def customers_table(rows: int = 600, seed: int = 0) -> pa.Table:
    """Customers with an id, two numbers, a category, a true/false column and a 0/1 response."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    region = rng.choice(["north", "south", "east", "west"], rows)
    return pa.table(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "age": age,
            "income": rng.normal(50, 15, rows).round(2),
            "region": region,
            "member": rng.choice([True, False], rows),
            "y": ((age > 40) ^ (region == "north")).astype(int),
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(settings: Settings, registry: Registry | None = None, **config: Any) -> Iterator[str]:
    """A service of ``settings`` run by uvicorn in a thread on a free loopback port; yields its base URL and stops
    it (gracefully) on leaving."""
    import uvicorn

    from needmap.serve.app import build_app

    app = build_app(settings, registry)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                       timeout_graceful_shutdown=5, **config)
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def no_traceback(text: str) -> bool:
    """Whether an answer's text is free of any trace of a Python traceback."""
    return "Traceback" not in text and 'File "' not in text and '.py", line' not in text
