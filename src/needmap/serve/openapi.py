"""The API's description (``/openapi.json``, shown at ``/docs``): every route of every served model, spelled out.

FastAPI describes the fixed routes (health, metrics, the list of models). A model's routes are described here,
one path per model (``/v1/models/churn/predict``), each with the request and response models made from that
model's schema and an example row (:mod:`needmap.serve.bodies`; with online features, a second example of the
customer id alone), and the errors it can answer. The description is made again after a reload swapped a model
(the schema may have changed) and kept until then.
"""

from __future__ import annotations

from typing import Any

from needmap._version import __version__
from needmap.serve.auth import OPEN_PATHS
from needmap.serve.registry import LoadedModel

DESCRIPTION = (
    "needmap's models over HTTP: scores, reasons, contact lists and recommendations, and the Open Inference "
    "Protocol (v2) for KServe, Triton and MLServer clients. Errors answer "
    '`{"error": {"kind", "message", "row", "field"}}` (the protocol\'s routes: `{"error": "<message>"}`).'
)
#: The errors a model's route may answer, with what they mean.
ERRORS = {
    "400": "The body is not JSON, or an option is out of range.",
    "404": "No model of that name, a route the model does not answer, or (online features) a customer absent from "
    "the feature store.",
    "413": "The body, or its number of rows, is over the service's limit.",
    "422": "A row or a field does not fit the model (the error names them).",
    "500": "The service failed; its log holds the details under the error's id.",
    "503": "Too many requests wait for the models, or (online features) the feature store cannot be read.",
    "504": "The model took longer than the service's time limit.",
}
SUMMARIES = {
    "predict": "Score rows: the id columns as they came, then the scores.",
    "explain": "Why each score: the columns that raise it and lower it.",
    "target": "Whom to contact, with which offer, under a budget.",
    "recommend": "The k best items of each customer.",
}


def _error_models() -> list[Any]:
    from pydantic import BaseModel, ConfigDict

    class ErrorDetail(BaseModel):
        model_config = ConfigDict(title="ErrorDetail")
        kind: str
        message: str
        row: int | None = None
        field: str | None = None
        id: str | None = None

    class Error(BaseModel):
        model_config = ConfigDict(title="Error")
        error: ErrorDetail

    class Reloaded(BaseModel):
        model_config = ConfigDict(title="Reloaded")
        model: str
        version: str
        previous_version: str
        swapped: bool

    class ModelInfo(BaseModel):
        model_config = ConfigDict(title="ModelInfo", extra="allow")
        name: str
        version: str
        kind: str
        routes: list[str]
        metrics: dict[str, Any]
        inputs: list[dict[str, Any]]
        outputs: list[dict[str, Any]]

    return [Error, Reloaded, ModelInfo]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _errors(codes: tuple[str, ...], oip: bool) -> dict[str, Any]:
    schema = _ref("OipError" if oip else "Error")
    return {code: _json(schema, ERRORS[code]) for code in codes}


def _model_paths(entry: LoadedModel, names: dict[Any, str]) -> dict[str, Any]:
    """The paths of one model (see the module)."""
    name, bodies, scorer = entry.name, entry.bodies, entry.scorer
    tag = f"model {name}"
    every = ("404", "500")
    paths: dict[str, Any] = {
        f"/v1/models/{name}": {"get": {
            "tags": [tag], "summary": f"The model {name}: version, kind, metrics, inputs.",
            "operationId": f"describe_{name}",
            "responses": {"200": _json(_ref("ModelInfo"), "The model."), **_errors(every, False)},
        }},
        f"/v1/models/{name}/reload": {"post": {
            "tags": [tag], "summary": "Read the directory again; swap in a new version.",
            "operationId": f"reload_{name}",
            "responses": {"200": _json(_ref("Reloaded"), "Reloaded (or unchanged)."),
                          "409": _json(_ref("Error"), "The directory does not load; the version in use stays."),
                          **_errors(every, False)},
        }},
    }  # fmt: skip
    for route in scorer.routes:
        request, response = bodies.requests[route], bodies.responses[route]
        example = (request.model_config.get("json_schema_extra") or {}).get("examples", [None])[0]
        body: dict[str, Any] = {"required": True, "content": {"application/json": {"schema": _ref(names[request])}}}
        examples = bodies.examples.get(route)
        if examples:  # a model with online features: the row with its features, and the customer id alone
            body["content"]["application/json"]["examples"] = {
                key: {"summary": summary, "value": value} for key, summary, value in examples
            }
        elif example is not None:
            body["content"]["application/json"]["example"] = example
        paths[f"/v1/models/{name}/{route}"] = {"post": {
            "tags": [tag], "summary": SUMMARIES[route], "operationId": f"{route}_{name}", "requestBody": body,
            "responses": {"200": _json(_ref(names[response]), "The answer."),
                          **_errors(("400", "404", "413", "422", "500", "503", "504"), False)},
        }}  # fmt: skip
    oip = "open inference protocol"
    paths[f"/v2/models/{name}"] = {"get": {
        "tags": [oip], "summary": f"The metadata of {name}: its input and output tensors.",
        "operationId": f"oip_metadata_{name}",
        "responses": {"200": _json(_ref("ModelMetadata"), "The metadata."), **_errors(every, True)},
    }}  # fmt: skip
    paths[f"/v2/models/{name}/ready"] = {"get": {
        "tags": [oip], "summary": f"Whether {name} is ready.", "operationId": f"oip_ready_{name}",
        "responses": {"200": _json(_ref("ModelReady"), "Ready."), **_errors(every, True)},
    }}  # fmt: skip
    if "predict" in scorer.routes:
        example = scorer.example_row()
        infer = {"inputs": [{"name": k, "shape": [1], "datatype": d["datatype"], "data": [example[k]]}
                            for k, d in ((t["name"], t) for t in _oip_inputs(entry))]}  # fmt: skip
        paths[f"/v2/models/{name}/infer"] = {"post": {
            "tags": [oip], "summary": f"Score rows given as one tensor a column ({name}).",
            "operationId": f"oip_infer_{name}",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("InferRequest"), "example": infer}}},
            "responses": {"200": _json(_ref("InferResponse"), "The outputs."),
                          **_errors(("400", "404", "413", "422", "500", "503", "504"), True)},
        }}  # fmt: skip
    return paths


def _oip_inputs(entry: LoadedModel) -> list[dict[str, Any]]:
    from needmap.serve.oip import metadata

    return metadata(entry)["inputs"]


def describe(app: Any, service: Any) -> dict[str, Any]:
    """The whole description (see the module)."""
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    from needmap.serve.oip import schema_models

    document = get_openapi(title="needmap", version=__version__, description=DESCRIPTION, routes=app.routes)
    entries = list(service.registry)
    models: list[Any] = [*_error_models(), *schema_models().values()]
    for entry in entries:
        for route in entry.scorer.routes:
            models += [entry.bodies.requests[route], entry.bodies.responses[route]]
    refs, definitions = models_json_schema([(m, "validation") for m in models],
                                           ref_template="#/components/schemas/{model}")  # fmt: skip
    names = {model: ref["$ref"].rsplit("/", 1)[-1] for (model, _), ref in refs.items()}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(definitions.get("$defs", {}))
    paths = document.setdefault("paths", {})
    for entry in entries:
        paths.update(_model_paths(entry, names))
    oip_fixed = ("/v2", "/v2/health/live", "/v2/health/ready")
    for path, operations in paths.items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("500", _json(_ref("OipError" if path in oip_fixed else "Error"), ERRORS["500"]))
            if path in ("/readyz", "/v2/health/ready"):
                responses["503"] = {"description": "The models are not loaded yet."}
    if service.settings.api_keys:
        document["components"]["securitySchemes"] = {"key": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"key": []}]
        for path, operations in paths.items():
            for operation in operations.values():
                if path in OPEN_PATHS:
                    operation["security"] = []
                else:
                    oip = path == "/v2" or path.startswith("/v2/")
                    operation["responses"]["401"] = _json(
                        _ref("OipError" if oip else "Error"), "No key, or a wrong one."
                    )
    return document


def openapi_of(app: Any, service: Any) -> Any:
    """The ``openapi`` method of the app: the description, made again when a reload swapped a model."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if cache.get("generation") != service.registry.generation:
            cache["document"] = describe(app, service)
            cache["generation"] = service.registry.generation
        return cache["document"]

    return openapi
