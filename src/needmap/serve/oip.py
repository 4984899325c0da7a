"""The Open Inference Protocol (KServe v2, Triton, MLServer): its REST routes over the same models.

=================================================  ===================================================================
``GET /v2``                                        the server: ``{"name", "version", "extensions"}``
``GET /v2/health/live``, ``GET /v2/health/ready``  ``{"live": true}``, ``{"ready": true}`` (no key needed)
``GET /v2/models/{name}``                          the model's metadata: its input and output tensors
``GET /v2/models/{name}/ready``                    ``{"name", "ready": true}``
``POST /v2/models/{name}/infer``                   ``{"inputs": [...]}``: ``{"model_name", "model_version", "outputs"}``
=================================================  ===================================================================

Each route also takes ``/versions/{version}`` after the name, which must be the version served.

A model's inputs are its columns, one tensor each, of shape ``[n]`` (or ``[n, 1]``) and the datatype of the
column: ``FP64`` for numbers, ``INT64`` for whole numbers, ``BYTES`` for text (as JSON strings), ``BOOL`` for
true/false; ``data`` holds one value per row (null where it is missing). The request is turned into rows, row
``i`` holding element ``i`` of each input, and scored as ``POST /v1/models/{name}/predict`` scores them; the
outputs are predict's columns after the id columns (``score``, or ``predicted`` and ``proba_<class>``,
``uplift_<offer>``, ...), one tensor of shape ``[n]`` each: ``FP64``, ``INT64``, ``BYTES`` or ``BOOL``. An
``outputs`` list in the request keeps only the outputs it names. Errors answer ``{"error": "<message>"}``, the
protocol's form. A model served with online features also takes its customer column alone (one ``BYTES`` or
``INT64`` input): the features come from Redis, as for needmap's rows (:mod:`needmap.serve.online`).
Recommenders answer the metadata and readiness routes; they recommend on needmap's route.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi import Request

from needmap._version import __version__
from needmap.serve.bodies import json_body
from needmap.serve.errors import ServiceError, note
from needmap.serve.limits import check_rows
from needmap.serve.registry import LoadedModel
from needmap.serve.routes import json_response, served, supported, work

DATATYPES = {"number": "FP64", "integer": "INT64", "string": "BYTES", "boolean": "BOOL"}
NUMBERS = ("FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
Datatype = Literal[("BOOL", "BYTES", *NUMBERS)]  # type: ignore[valid-type]


def schema_models() -> dict[str, Any]:
    """The protocol's bodies as pydantic models (for checking a request and describing the API)."""
    from pydantic import BaseModel, ConfigDict, Field

    class RequestInput(BaseModel):
        model_config = ConfigDict(extra="allow", title="InferInput")
        name: str
        shape: list[int]
        datatype: Datatype
        parameters: dict[str, Any] | None = None
        data: list[Any] = Field(description="The values, row-major: one a row for a column.")

    class RequestOutput(BaseModel):
        model_config = ConfigDict(extra="allow", title="InferRequestedOutput")
        name: str
        parameters: dict[str, Any] | None = None

    class InferRequest(BaseModel):
        model_config = ConfigDict(extra="allow", title="InferRequest")
        id: str | None = None
        parameters: dict[str, Any] | None = None
        inputs: list[RequestInput] = Field(min_length=1)
        outputs: list[RequestOutput] | None = None

    class ResponseOutput(BaseModel):
        model_config = ConfigDict(title="InferOutput")
        name: str
        shape: list[int]
        datatype: str
        data: list[Any]

    class InferResponse(BaseModel):
        model_config = ConfigDict(title="InferResponse")
        model_name: str
        model_version: str | None = None
        id: str | None = None
        outputs: list[ResponseOutput]

    class MetadataTensor(BaseModel):
        model_config = ConfigDict(title="MetadataTensor")
        name: str
        datatype: str
        shape: list[int]

    class ModelMetadata(BaseModel):
        model_config = ConfigDict(title="ModelMetadata")
        name: str
        versions: list[str]
        platform: str
        inputs: list[MetadataTensor]
        outputs: list[MetadataTensor]

    class ModelReady(BaseModel):
        model_config = ConfigDict(title="ModelReady")
        name: str
        ready: bool

    class OipError(BaseModel):
        model_config = ConfigDict(title="OipError")
        error: str

    return {m.__name__: m for m in (InferRequest, InferResponse, ModelMetadata, ModelReady, OipError)}


def metadata(entry: LoadedModel) -> dict[str, Any]:
    """The model's metadata (see the module)."""
    from needmap.serve.scorers import dtype_json_type

    scorer = entry.scorer
    if scorer.kind == "recommender":
        inputs = [{"name": "customer", "datatype": DATATYPES[scorer.customer_type], "shape": [-1]}]
    else:
        inputs = [{"name": c.name, "datatype": DATATYPES.get(dtype_json_type(c.dtype), "BYTES"), "shape": [-1]}
                  for c in scorer.inputs]  # fmt: skip
    outputs = [{"name": o.name, "datatype": DATATYPES.get(o.type, "BYTES"), "shape": [-1]} for o in scorer.outputs]
    return {"name": entry.name, "versions": [entry.version], "platform": "needmap", "inputs": inputs,
            "outputs": outputs}  # fmt: skip


def _flat(data: list[Any]) -> list[Any]:
    """Nested lists (the protocol allows data shaped as the tensor) flattened, row-major."""
    if not any(isinstance(value, list) for value in data):
        return data
    out: list[Any] = []
    for value in data:
        out.extend(_flat(value) if isinstance(value, list) else [value])
    return out


def _fits(value: Any, datatype: str) -> bool:
    if value is None:
        return True
    if datatype == "BYTES":
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if datatype.startswith(("INT", "UINT")):
        return isinstance(value, int) or (math.isfinite(value) and float(value).is_integer())
    return True


def rows_of(inputs: list[Any], entry: LoadedModel, limit: Any) -> list[dict[str, Any]]:
    """The rows the inputs hold (see the module); ServiceError 400 for a tensor that is not one column of rows,
    an input the model does not have, or a value not of its datatype."""
    known = entry.scorer.reads
    columns: dict[str, list[Any]] = {}
    count: int | None = None
    for tensor in inputs:
        name = tensor.name
        if name not in known:
            raise ServiceError(400, "input", f"the model {entry.name!r} has no input {name!r}; its inputs: "
                               f"{', '.join(sorted(known))}.", field=name)  # fmt: skip
        if name in columns:
            raise ServiceError(
                400, "input", f"the input {name!r} is given twice; expected each input once.", field=name
            )
        data = _flat(tensor.data)
        shape = list(tensor.shape)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] != len(data):
            raise ServiceError(
                400, "input", f"the input {name!r} has shape {shape} and {len(data)} values; expected shape [n] (or "
                "[n, 1]) with n values, one a row.", field=name,
            )  # fmt: skip
        if count is not None and len(data) != count:
            raise ServiceError(400, "input", f"the input {name!r} holds {len(data)} rows and another {count}; "
                               "expected as many rows in every input.", field=name)  # fmt: skip
        count = len(data)
        check_rows(count, limit)
        bad = next((i for i, value in enumerate(data) if not _fits(value, tensor.datatype)), None)
        if bad is not None:
            raise ServiceError(
                400, "input", f"row {bad} of the input {name!r} is {data[bad]!r}, which is not {tensor.datatype}.",
                row=bad, field=name,
            )  # fmt: skip
        columns[name] = data
    if not count:
        raise ServiceError(400, "input", "the inputs hold no rows; expected at least one value in each input.")
    names = list(columns)
    return [{name: columns[name][i] for name in names} for i in range(count)]


def add_oip_routes(app: Any) -> None:
    """The protocol's routes on ``app`` (see the module)."""

    models = schema_models()
    hidden = {"include_in_schema": False}

    def versioned(request: Any, name: str, version: str | None) -> LoadedModel:
        entry = served(request, name)
        if version is not None and version != entry.version:
            raise ServiceError(404, "unknown_version", f"the model {name!r} has no version {version[:40]!r}; it "
                               f"serves version {entry.version}.", field="version")  # fmt: skip
        return entry

    @app.get("/v2", tags=["open inference protocol"], summary="The server's metadata.")
    async def server_metadata() -> Any:
        return json_response({"name": "needmap", "version": __version__, "extensions": []})

    @app.get("/v2/health/live", tags=["open inference protocol"], summary="The process answers.")
    async def live() -> Any:
        return json_response({"live": True})

    @app.get("/v2/health/ready", tags=["open inference protocol"], summary="The models are loaded.")
    async def ready(request: Request) -> Any:
        loaded = len(request.app.state.service.registry) > 0
        return json_response({"ready": loaded}, 200 if loaded else 503)

    async def model_metadata(request: Request, name: str, version: str | None = None) -> Any:
        return json_response(metadata(versioned(request, name, version)))

    async def model_ready(request: Request, name: str, version: str | None = None) -> Any:
        entry = versioned(request, name, version)
        return json_response({"name": entry.name, "ready": True})

    async def infer(request: Request, name: str, version: str | None = None) -> Any:
        from pydantic import ValidationError

        entry = versioned(request, name, version)
        supported(entry, "predict")
        document = await json_body(request)
        try:
            body = models["InferRequest"].model_validate(document)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "the body"
            raise ServiceError(400, "validation", f"{where}: {first['msg']}.", field=where) from None
        service = request.app.state.service
        rows = rows_of(body.inputs, entry, service.settings.limits)
        checked = entry.bodies.check("predict", {"rows": rows})
        scored = (await service.runner.run(work, entry, "predict", checked, service.metrics))["rows"]
        note(request.scope, rows=len(rows))
        wanted = [o.name for o in body.outputs] if body.outputs else [o.name for o in entry.scorer.outputs]
        types = {o.name: o.type for o in entry.scorer.outputs}
        unknown = [n for n in wanted if n not in types]
        if unknown:
            raise ServiceError(400, "output", f"the model {name!r} has no output {unknown[0]!r}; its outputs: "
                               f"{', '.join(types)}.", field=unknown[0])  # fmt: skip
        outputs = [
            {"name": n, "shape": [len(scored)], "datatype": DATATYPES.get(types[n], "BYTES"),
             "data": [row.get(n) for row in scored]}
            for n in wanted
        ]  # fmt: skip
        answer: dict[str, str | list[Any]] = {"model_name": entry.name, "model_version": entry.version}
        if body.id is not None:
            answer["id"] = body.id
        answer["outputs"] = outputs
        return json_response(answer)

    for path, endpoint, method in (
        ("/v2/models/{name}", model_metadata, "GET"),
        ("/v2/models/{name}/ready", model_ready, "GET"),
        ("/v2/models/{name}/infer", infer, "POST"),
    ):
        app.add_api_route(path, endpoint, methods=[method], **hidden)
        versions = path.replace("{name}", "{name}/versions/{version}")
        app.add_api_route(versions, endpoint, methods=[method], **hidden)
