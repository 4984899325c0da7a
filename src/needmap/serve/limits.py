"""What one request may cost: its body's size, its rows, its time, and a place among the requests waiting.

- a body over ``max_body_bytes`` answers 413 (kind ``body_too_large``): at once when its ``Content-Length`` says
  so, else as soon as the bytes received pass the limit (:class:`BodyLimit`);
- more rows (or customers) than ``max_rows`` answer 413 too (kind ``too_many_rows``): like a body too large, the
  client's remedy is to split the request (:func:`check_rows`);
- the model's work runs on a pool of ``threads`` threads (:class:`Runner`), so that the event loop keeps
  answering health checks and metrics meanwhile; a request whose work (waiting for a thread included) takes
  longer than ``timeout_s`` answers 504 (kind ``timeout``), and one that finds ``max_waiting`` requests
  already waiting answers 503 (kind ``busy``, with ``Retry-After``) rather than waiting longer still. A thread
  cannot be stopped: work past its timeout finishes unseen and its thread is then free again.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from needmap.serve.errors import ServiceError, send_error
from needmap.serve.settings import Limits

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def too_large(limit: int) -> ServiceError:
    return ServiceError(
        413, "body_too_large", f"the request's body is larger than the service's limit of {limit:,} bytes; "
        "expected fewer rows a request.",
    )  # fmt: skip


class BodyLimit:
    """ASGI middleware answering 413 to a body over ``limit`` bytes (see the module)."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await send_error(scope, send, too_large(self.limit))
            return
        received = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        await self.app(scope, receive if length is not None else counted, send)


def check_rows(count: int, limits: Limits, what: str = "rows") -> None:
    """413 (kind ``too_many_rows``) for more than ``limits.max_rows`` rows in one request."""
    if count > limits.max_rows:
        raise ServiceError(
            413, "too_many_rows", f"the request holds {count:,} {what}; the service takes at most "
            f"{limits.max_rows:,} a request: expected the {what} split over several requests.", field=what,
        )  # fmt: skip


class Runner:
    """Runs a model's work on the service's threads, within the time limit (see the module)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=limits.threads, thread_name_prefix="needmap-serve")
        self.waiting = 0

    async def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``work(*args, **kwargs)`` on a thread; ServiceError 503 when too many wait, 504 past the timeout."""
        if self.waiting >= self.limits.max_waiting + self.limits.threads:
            raise ServiceError(
                503, "busy", f"the service is scoring {self.waiting} requests; expected a retry in a moment.",
                headers={"Retry-After": "1"},
            )  # fmt: skip
        self.waiting += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(work, *args, **kwargs))
            return await asyncio.wait_for(future, self.limits.timeout_s)
        except asyncio.TimeoutError:
            raise ServiceError(
                504, "timeout", f"the model took longer than the service's limit of {self.limits.timeout_s:g} "
                "seconds; expected fewer rows a request.",
            ) from None  # fmt: skip
        finally:
            self.waiting -= 1

    def close(self) -> None:
        """Stop taking work; what runs finishes."""
        self.pool.shutdown(wait=False, cancel_futures=True)
