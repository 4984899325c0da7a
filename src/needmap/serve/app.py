"""The service put together: the FastAPI app of a set of models, and the factory each worker builds it with.

The layers a request goes through, outermost first: the metrics (every request counted, refused ones too), the
catch-all (an unexpected exception logged with an id, 500 to the client), CORS (only with ``cors_origins``: a
browser's preflight is answered before the key is asked for), the API keys (401), the body limit (413), then
FastAPI's routing with the error handlers of :mod:`needmap.serve.errors`.

:func:`build_app` loads the models unless given a :class:`~needmap.serve.registry.Registry`;
:func:`app_from_environment` builds the app from the settings the command wrote into the environment
(``--workers``: uvicorn calls it in each worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from needmap.serve.registry import Registry, watch
from needmap.serve.settings import Settings

logger = logging.getLogger("needmap.serve")


@dataclass
class Service:
    """What the routes share: the settings, the models, the threads that score, the metrics."""

    settings: Settings
    registry: Registry
    runner: Any
    metrics: Any


def build_app(settings: Settings, registry: Registry | None = None) -> Any:
    """The FastAPI app serving ``settings.models`` (loaded now unless ``registry`` holds them, with the online
    features of ``settings.features``: :mod:`needmap.serve.online`)."""
    from fastapi import FastAPI

    from needmap._version import __version__
    from needmap.serve.auth import KeyCheck, KeyMiddleware
    from needmap.serve.errors import CatchAll, install_handlers
    from needmap.serve.limits import BodyLimit, Runner
    from needmap.serve.metrics import MetricsMiddleware, ServiceMetrics
    from needmap.serve.oip import add_oip_routes
    from needmap.serve.online import FeatureStore
    from needmap.serve.openapi import openapi_of
    from needmap.serve.page import add_page
    from needmap.serve.routes import add_routes

    registry = registry if registry is not None else Registry.load(settings.models, store=FeatureStore.of(settings))
    service = Service(settings, registry, Runner(settings.limits), ServiceMetrics())

    def reloaded(name: str, outcome: str) -> None:
        service.metrics.reloads.labels(name, outcome).inc()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        watching = asyncio.create_task(watch(registry, settings.watch_s, reloaded)) if settings.watch_s else None
        try:
            yield
        finally:
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            service.runner.close()
            if registry.store is not None:
                registry.store.close()

    app = FastAPI(title="needmap", version=__version__, lifespan=lifespan, redoc_url=None)
    app.state.service = service
    install_handlers(app)
    add_routes(app)
    add_oip_routes(app)
    app.openapi = openapi_of(app, service)  # type: ignore[method-assign]
    # added innermost first: each add_middleware wraps what was added before it
    app.add_middleware(BodyLimit, limit=settings.limits.max_body_bytes)
    app.add_middleware(KeyMiddleware, keys=KeyCheck(settings.api_keys))
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )  # fmt: skip
    app.add_middleware(CatchAll)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    add_page(app)  # the web page (needmap.serve.page): after the middleware, its files go just outside the key check
    return app


def app_from_environment() -> Any:
    """The app of the settings in the environment (:meth:`Settings.from_environment`): what uvicorn calls in
    each worker. A model that no longer loads ends the worker with its one-paragraph message."""
    from needmap.errors import NeedmapError

    try:
        return build_app(Settings.from_environment())
    except NeedmapError as err:
        logger.error("needmap serve: %s", err)
        raise SystemExit(2) from None
