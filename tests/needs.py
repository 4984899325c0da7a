"""What some tests need from the machine beyond Python: Debian's Chromium with Playwright, Node.js, Ray, a
PostgreSQL or Redis server. Each function gives the thing, or ends the test: a skip that says what is missing on
a user's machine, a failure where the environment variable CI sets (``.ci/run``) says it must be there."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

#: Debian's Chromium (package chromium), which the browser tests drive.
CHROMIUM = Path("/usr/bin/chromium")
SERVICES = "NEEDMAP_REQUIRE_SERVICES"


def missing(reason: str, required_by: str) -> NoReturn:
    """A failure when the environment variable ``required_by`` is 1, else a skip; both say ``reason``."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {reason}")
    pytest.skip(f"{reason} (set {required_by}=1 to make this a failure)")


def answers(host: str, port: int) -> bool:
    """Whether a server accepts a connection at ``host``:``port`` within 2 seconds."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def server(what: str, host: str, port: int, shown: str) -> None:
    """Go on when the ``what`` server (PostgreSQL, Redis) answers at ``host``:``port``; else :func:`missing`."""
    if not answers(host, port):
        missing(f"no {what} server answers at {shown}", SERVICES)


def browser() -> Any:
    """playwright's sync_playwright with Chromium at :data:`CHROMIUM`, or :func:`missing` saying which is absent."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright's Python package is not installed (pip install playwright)", "NEEDMAP_REQUIRE_BROWSER")
    if not CHROMIUM.is_file():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)", "NEEDMAP_REQUIRE_BROWSER")
    return sync_playwright


def node() -> str:
    """The path of Node.js (``node`` on the PATH), or :func:`missing`."""
    found = shutil.which("node")
    if found is None:
        missing("Node.js ('node') is not on the PATH; the contract's JavaScript reference needs it",
                "NEEDMAP_REQUIRE_NODE")  # fmt: skip
    return found


@contextlib.contextmanager
def redis_database(db: int, host: str = "127.0.0.1", port: int = 6379) -> Iterator[Any]:
    """A client of the Redis database ``db``, emptied before and after (a test owns its database number and
    touches no other); :func:`missing` without a server."""
    server("Redis", host, port, f"{host}:{port}")
    redis = pytest.importorskip("redis")
    client = redis.Redis(host=host, port=port, db=db)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()
