"""needmap's own routes: health, metrics, the models, and what each model answers.

========================================  =========================================================================
``GET /healthz``                          the process answers (no key needed)
``GET /readyz``                           the models are loaded (no key needed; 503 before)
``GET /metrics``                          Prometheus' text (:mod:`needmap.serve.metrics`)
``GET /v1/models``                        every model: name, version, kind, headline metrics, inputs, outputs (and
                                          its online features: ``online_features``, :mod:`needmap.serve.online`)
``GET /v1/models/{name}``                 one model
``POST /v1/models/{name}/predict``        ``{"rows": [...]}``: the id columns as they came, then the scores
``POST /v1/models/{name}/explain``        ``{"rows": [...], "top": 5}`` (a recommender: ``customers``, ``k``)
``POST /v1/models/{name}/target``         ``{"rows": [...], "budget": N, "cost": C, "value": V}``: whom to contact
``POST /v1/models/{name}/recommend``      ``{"customers": [...], "k": 10}`` (recommenders)
``POST /v1/models/{name}/reload``         read the directory again; swap in a new version (409 when it fails)
========================================  =========================================================================

A name is looked up in the registry and nothing else (an unknown one answers 404, kind ``unknown_model``); a
route the model does not answer answers 404 too (kind ``unsupported_route``), naming the routes it has. The
model's work runs on the service's threads, within its time limit (:class:`needmap.serve.limits.Runner`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request

from needmap.errors import NeedmapError
from needmap.serve.bodies import json_body
from needmap.serve.errors import ServiceError, dumps, note
from needmap.serve.limits import check_rows
from needmap.serve.registry import LoadedModel
from needmap.serve.rows import plain
from needmap.serve.scorers import ROUTES

ARTICLES = {"table": "a model of a table", "uplift": "an uplift model", "recommender": "a recommender"}


def json_response(document: Any, status: int = 200) -> Any:
    """``document`` as a JSON response (written directly: the documents are already plain JSON values)."""
    from starlette.responses import Response

    try:
        body = dumps(document)
    except ValueError:  # a NaN or an infinity (a sum that overflowed): null, as everywhere else
        body = dumps(plain(document))
    return Response(body, status_code=status, media_type="application/json")


def served(request: Any, name: str) -> LoadedModel:
    """The model named ``name`` as it is now (404 when none is)."""
    service = request.app.state.service
    entry = service.registry.get(name)
    if entry is None:
        names = ", ".join(e.name for e in service.registry)
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise ServiceError(404, "unknown_model", f"no model is named {shown!r}; the models: {names}.", field="name")
    note(request.scope, model=entry.name)
    return entry


def supported(entry: LoadedModel, route: str, prefix: str = "/v1/models") -> None:
    """404 (kind ``unsupported_route``) when the model does not answer ``route``."""
    routes = entry.scorer.routes
    if route not in routes:
        where = ", ".join(f"POST {prefix}/{entry.name}/{r}" for r in routes)
        raise ServiceError(
            404, "unsupported_route", f"the model {entry.name!r} is {ARTICLES.get(entry.scorer.kind, 'a model')} "
            f"and does not answer {route}; it answers {', '.join(routes)} ({where}).",
        )  # fmt: skip


async def checked_body(request: Any, entry: LoadedModel, route: str) -> dict[str, Any]:
    """The route's body read, counted against the row limit (413) and checked (422)."""
    document = await json_body(request)
    limits = request.app.state.service.settings.limits
    if isinstance(document, dict):
        for what in ("rows", "customers"):
            if isinstance(document.get(what), list):
                check_rows(len(document[what]), limits, what)
    return entry.bodies.check(route, document)


def work(entry: LoadedModel, route: str, body: dict[str, Any], metrics: Any = None) -> dict[str, Any]:
    """The model's answer to a checked body (blocking: run on the service's threads). With online features, the
    rows that hold only a customer id get their features from Redis first, in one round trip
    (:meth:`needmap.serve.online.OnlineInputs.fill`); what that adds to say goes to ``notes``."""
    scorer = entry.scorer
    added: list[str] = []
    if entry.online is not None and "rows" in body:
        rows, added = entry.online.fill(body["rows"], entry.name, metrics)
        body = {**body, "rows": rows}
    if route == "predict":
        rows, notes = scorer.predict(body["rows"])
        return {"rows": rows, "notes": [*notes, *added]}
    found = scorer.target(body) if route == "target" else {"rows": getattr(scorer, route)(body)}
    return {**found, "notes": added} if added else found


async def answer(request: Any, name: str, route: str) -> Any:
    """One of a model's routes: the body checked, the model's work on a thread, the answer as JSON."""
    entry = served(request, name)
    supported(entry, route)
    body = await checked_body(request, entry, route)
    service = request.app.state.service
    document: dict[str, Any] = {"model": entry.name, "version": entry.version}
    document.update(await service.runner.run(work, entry, route, body, service.metrics))
    note(request.scope, rows=len(body.get("rows") or body.get("customers") or ()))
    return json_response(document)


async def looked(entries: list[LoadedModel]) -> None:
    """The online features of ``entries`` looked at again (off the event loop) unless that was done a moment
    ago (:data:`needmap.serve.online.REFRESH_S`), so that a model's description says whether they are there."""
    from needmap.serve.online import REFRESH_S

    for entry in entries:
        if entry.online is not None:
            await asyncio.to_thread(entry.online.source.look, REFRESH_S)


def add_routes(app: Any) -> None:
    """needmap's own routes on ``app`` (whose ``state.service`` holds the registry, the runner and the metrics).
    The routes of a model are described per model in the API's description (:mod:`needmap.serve.openapi`)."""
    from starlette.responses import PlainTextResponse, Response

    hidden = {"include_in_schema": False}

    @app.get("/healthz", tags=["health"], summary="The process answers.")
    async def healthz() -> Any:
        return json_response({"status": "alive"})

    @app.get("/readyz", tags=["health"], summary="The models are loaded.")
    async def readyz(request: Request) -> Any:
        registry = request.app.state.service.registry
        if not len(registry):
            return json_response({"status": "loading", "models": []}, 503)
        return json_response({"status": "ready", "models": [e.name for e in registry]})

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics.", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Any:
        body, content_type = request.app.state.service.metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/v1/models", tags=["models"], summary="Every served model.")
    async def models(request: Request) -> Any:
        entries = list(request.app.state.service.registry)
        await looked(entries)
        return json_response({"models": [entry.describe() for entry in entries]})

    @app.get("/v1/models/{name}", **hidden)
    async def model(name: str, request: Request) -> Any:
        entry = served(request, name)
        await looked([entry])
        return json_response(entry.describe())

    def answering(route: str) -> Any:
        async def endpoint(name: str, request: Request) -> Any:
            return await answer(request, name, route)

        endpoint.__name__ = route  # the operation's name in the API's description
        return endpoint

    for route in ROUTES:  # predict, explain, target, recommend: what a model answers, by kind
        app.add_api_route(f"/v1/models/{{name}}/{route}", answering(route), methods=["POST"], **hidden)

    @app.post("/v1/models/{name}/reload", **hidden)
    async def reload(name: str, request: Request) -> Any:
        entry = served(request, name)
        service = request.app.state.service
        try:
            old, new = await asyncio.to_thread(service.registry.reload, entry.name)
        except NeedmapError as err:
            service.metrics.reloads.labels(entry.name, "failed").inc()
            raise ServiceError(
                409, "reload_failed", f"the model {entry.name!r} was not reloaded: {err} It still serves version "
                f"{entry.version}.",
            ) from None  # fmt: skip
        swapped = new.version != old.version
        service.metrics.reloads.labels(entry.name, "swapped" if swapped else "unchanged").inc()
        return json_response({"model": entry.name, "version": new.version, "previous_version": old.version,
                              "swapped": swapped})  # fmt: skip
