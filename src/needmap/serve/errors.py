"""Every failure a client can see, as JSON, and never the server's insides.

needmap's routes answer ``{"error": {"kind": ..., "message": ..., "row": i, "field": name}}`` (``row``: the
position of the row in the request's ``rows``, counted from 0; ``row`` and ``field`` only where known). The
Open Inference Protocol's routes (``/v2/...``) answer ``{"error": "<message>"}``, the form its clients read.

needmap's own errors keep their meaning: a :class:`~needmap.errors.DataError` or
:class:`~needmap.errors.SchemaError` (rows that cannot be scored) answers 422, a
:class:`~needmap.errors.ConfigError` (an option out of range) 400. Anything else that goes wrong is logged on the
server with its traceback and an id, and the client gets 500 with that id only (:class:`CatchAll`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from needmap.errors import ArtifactError, ConfigError, DataError, NeedmapError, SchemaError

logger = logging.getLogger("needmap.serve")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The key of the ASGI scope where a request records what the metrics count (its model, its error's kind).
NOTES_KEY = "needmap.notes"


class ServiceError(Exception):
    """A failure answered with ``status`` and a JSON error of ``kind`` (see the module)."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.row = row
        self.field = field
        self.headers = dict(headers or {})


def from_needmap(err: NeedmapError) -> ServiceError:
    """The answer to one of needmap's errors raised while a request was answered (see the module)."""
    if isinstance(err, ArtifactError):
        raise err  # the model's files on the server: not the client's doing (CatchAll logs it)
    status = 422 if isinstance(err, (DataError, SchemaError)) else 400
    kind = {DataError: "data", SchemaError: "schema", ConfigError: "option"}.get(type(err), "request")
    return ServiceError(status, kind, str(err), row=err.row, field=err.column)


def is_oip(path: str) -> bool:
    """Whether ``path`` is one of the Open Inference Protocol's routes, whose errors are a plain message."""
    return path == "/v2" or path.startswith("/v2/")


def error_document(error: ServiceError, path: str, error_id: str | None = None) -> dict[str, Any]:
    """The JSON body of ``error`` answered on ``path``."""
    if is_oip(path):
        return {"error": error.message}
    body: dict[str, Any] = {"kind": error.kind, "message": error.message}
    if error.row is not None:
        body["row"] = error.row
    if error.field is not None:
        body["field"] = error.field
    if error_id is not None:
        body["id"] = error_id
    return {"error": body}


def dumps(document: Any) -> bytes:
    """``document`` as compact JSON (no NaN or infinity: they are not JSON)."""
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def note(scope: Scope, **values: Any) -> None:
    """Record ``values`` (``model=``, ``error=``) on the request, for the metrics."""
    scope.setdefault(NOTES_KEY, {}).update(values)


async def send_error(scope: Scope, send: Send, error: ServiceError, error_id: str | None = None) -> None:
    """Answer ``error`` straight to the ASGI server (for middleware, before or instead of the app)."""
    note(scope, error=error.kind)
    body = dumps(error_document(error, scope.get("path", ""), error_id))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_response(request: Any, error: ServiceError) -> Any:
    """``error`` as a response of the app (for its exception handlers)."""
    from starlette.responses import Response

    note(request.scope, error=error.kind)
    body = dumps(error_document(error, request.url.path))
    return Response(body, status_code=error.status, media_type="application/json", headers=error.headers)


def install_handlers(app: Any) -> None:
    """Answer ServiceError, needmap's errors, FastAPI's validation errors and Starlette's HTTP errors (an
    unknown path: 404, a wrong method: 405) as JSON."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def service_error(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, ServiceError)
        return error_response(request, exc)

    async def needmap_error(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, NeedmapError)
        return error_response(request, from_needmap(exc))

    async def validation_error(request: Any, exc: Exception) -> Any:
        problems = list(getattr(exc, "errors", list)())
        first = problems[0] if problems else {}
        where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        field = where[-1] if where else None
        message = f"{'.'.join(where) or 'the request'}: {first.get('msg', 'is not valid')}."
        return error_response(request, ServiceError(422, "validation", message, field=field))

    async def http_error(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            error = ServiceError(404, "not_found", f"no route {request.url.path}; the routes are listed at /docs.")
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            error = ServiceError(
                405, "method_not_allowed", f"{request.method} {request.url.path} is not a route; it takes {allowed}.",
                headers={"Allow": allowed} if allowed else None,
            )  # fmt: skip
        else:
            error = ServiceError(exc.status_code, "http", str(exc.detail))
        return error_response(request, error)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(NeedmapError, needmap_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)


class CatchAll:
    """ASGI middleware: an exception that reached it is logged with its traceback and a short id, and the
    client gets 500 with the id (or nothing more, when the answer had begun)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            logger.exception("error %s answering %s %s", error_id, scope.get("method"), scope.get("path"))
            if started:
                return
            error = ServiceError(
                500, "internal", f"the service failed to answer this request; its log holds the details under id "
                f"{error_id}.",
            )  # fmt: skip
            await send_error(scope, send, error, error_id)
