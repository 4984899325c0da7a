"""Prometheus metrics of the service (``GET /metrics``): requests, their time, errors, rows and reloads.

- ``needmap_requests_total{route, model, status}``: requests answered;
- ``needmap_request_seconds{route, model}``: the time to answer them (a histogram from 1 ms to 30 s);
- ``needmap_errors_total{route, model, kind}``: error answers by their kind (``validation``, ``timeout``, ...);
- ``needmap_rows_total{route, model}``: rows (or customers) scored;
- ``needmap_reloads_total{model, outcome}``: reloads (``swapped``, ``unchanged``, ``failed``);
- ``needmap_requests_in_flight``: requests being answered;
- ``needmap_feature_lookups_total{model}``, ``needmap_feature_misses_total{model}``,
  ``needmap_feature_errors_total{model}``: with online features (``--features``), the customers whose features
  were read from Redis, those absent there, and the reads that failed (the server unreachable, or the model's
  feature version not written).

``route`` is the route's template (``/v1/models/{name}/predict``), never the path a client sent, and ``model``
is a served model's name or empty, so that no request can add labels without end. Each service has its own
registry of metrics. With several workers (``--workers``), the command points ``PROMETHEUS_MULTIPROC_DIR`` at a
directory of its own and each worker's metrics are added up there, so that any worker answers for all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from needmap.serve.errors import NOTES_KEY

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Paths of FastAPI's own pages, which are counted under their path (they record no route).
DOCUMENT_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})
#: Where the workers of one service add up their metrics (prometheus_client's own variable).
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ServiceMetrics:
    """The service's metrics (see the module)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("needmap_requests", "Requests answered.", ["route", "model", "status"], registry=r)
        self.seconds = Histogram("needmap_request_seconds", "Time to answer a request.", ["route", "model"],
                                 buckets=BUCKETS, registry=r)  # fmt: skip
        self.errors = Counter("needmap_errors", "Error answers by kind.", ["route", "model", "kind"], registry=r)
        self.rows = Counter("needmap_rows", "Rows (or customers) scored.", ["route", "model"], registry=r)
        self.reloads = Counter("needmap_reloads", "Model reloads by outcome.", ["model", "outcome"], registry=r)
        self.feature_lookups = Counter("needmap_feature_lookups", "Customers whose features were read from Redis.",
                                       ["model"], registry=r)  # fmt: skip
        self.feature_misses = Counter("needmap_feature_misses", "Customers absent from Redis.", ["model"], registry=r)
        self.feature_errors = Counter("needmap_feature_errors", "Reads of online features that failed.", ["model"],
                                      registry=r)  # fmt: skip
        self.in_flight = Gauge("needmap_requests_in_flight", "Requests being answered.", registry=r,
                               multiprocess_mode="livesum")  # fmt: skip

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type (every worker's, with several)."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if os.environ.get(MULTIPROCESS_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request (see the module); the outermost layer, so that requests
    refused before the routes (401, 413) count too."""

    def __init__(self, app: Callable[..., Awaitable[None]], metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        notes = scope.setdefault(NOTES_KEY, {})

        async def watched(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, watched)
        finally:
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", None) or (
                scope["path"] if scope["path"] in DOCUMENT_PATHS else "unrouted"
            )
            model = notes.get("model") or ""
            self.metrics.requests.labels(route, model, str(status)).inc()
            self.metrics.seconds.labels(route, model).observe(time.perf_counter() - started)
            if notes.get("error"):
                self.metrics.errors.labels(route, model, notes["error"]).inc()
            if notes.get("rows"):
                self.metrics.rows.labels(route, model).inc(notes["rows"])
