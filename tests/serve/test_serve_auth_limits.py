"""API keys on every route but the health checks, CORS only where allowed, and the limits: body size, rows, time."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from serve_helpers import KEY, customers_table, no_traceback, running

from needmap.serve.registry import Registry
from needmap.serve.settings import Limits, Settings

pytestmark = pytest.mark.slow  # the fixtures train three models and start services

OPEN = ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready")
ROW = customers_table(1, seed=3).drop_columns(["y"]).to_pylist()[0]


def every_route(url: str) -> list[tuple[str, str]]:
    """Each (method, path) of the service's description, and the pages of the description itself."""
    document = httpx.get(f"{url}/openapi.json", headers={"Authorization": f"Bearer {KEY}"}).json()
    found = [(method.upper(), path) for path, item in document["paths"].items() for method in item]
    return [*found, ("GET", "/openapi.json"), ("GET", "/docs"), ("POST", "/v1/models/nope/predict")]


def test_every_route_but_the_health_checks_asks_for_a_key(keyed_url: str) -> None:
    routes = every_route(keyed_url)
    assert len(routes) > 20 and ("POST", "/v1/models/bank/predict") in routes
    wrong = ({}, {"Authorization": "Bearer wrong-key-0123456789"}, {"Authorization": KEY},
             {"Authorization": f"Basic {KEY}"})  # fmt: skip
    with httpx.Client(base_url=keyed_url) as client:
        for method, path in routes:
            for headers in wrong:
                response = client.request(method, path, headers=headers, json={"rows": [ROW]})
                if path in OPEN:
                    assert response.status_code == 200, (path, response.text)
                    continue
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert response.headers["www-authenticate"] == "Bearer" and no_traceback(response.text)
                error = response.json()["error"]
                assert "Authorization: Bearer KEY" in (error if isinstance(error, str) else error["message"])


def test_the_right_key_opens_every_route(keyed_url: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{keyed_url}/v1/models", headers=headers).status_code == 200
    answer = httpx.post(f"{keyed_url}/v1/models/bank/predict", headers=headers, json={"rows": [ROW]})
    assert answer.status_code == 200 and answer.json()["rows"][0]["customer_id"] == ROW["customer_id"]
    assert httpx.get(f"{keyed_url}/metrics", headers=headers).status_code == 200
    described = httpx.get(f"{keyed_url}/openapi.json", headers=headers).json()
    assert described["components"]["securitySchemes"] == {"key": {"type": "http", "scheme": "bearer"}}
    assert described["paths"]["/healthz"]["get"]["security"] == []


def test_cors_only_for_the_origins_allowed(keyed_url: str, base_url: str) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    allowed = httpx.options(f"{keyed_url}/v1/models/bank/predict", headers=preflight)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(
        f"{keyed_url}/v1/models/bank/predict", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    off = httpx.get(f"{base_url}/v1/models", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in off.headers


def test_bodies_over_the_limit_answer_413(keyed_url: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "content-type": "application/json"}
    big = b'{"rows": [' + b",".join([b'{"age": 1}'] * 400) + b"]}"
    declared = httpx.post(f"{keyed_url}/v1/models/bank/predict", headers=headers, content=big)
    assert declared.status_code == 413 and declared.json()["error"]["kind"] == "body_too_large"

    def chunks():  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 256):
            yield big[start : start + 256]

    streamed = httpx.post(f"{keyed_url}/v1/models/bank/predict", headers=headers, content=chunks())
    assert streamed.status_code == 413 and no_traceback(streamed.text)
    rows = httpx.post(f"{keyed_url}/v1/models/bank/predict", headers=headers, json={"rows": [ROW] * 6})
    assert rows.status_code == 413 and rows.json()["error"] == {
        "kind": "too_many_rows",
        "message": "the request holds 6 rows; the service takes at most 5 a request: expected the rows split over "
        "several requests.",
        "field": "rows",
    }
    customers = httpx.post(f"{keyed_url}/v1/models/offers/recommend", headers=headers, json={"customers": ["c1"] * 6})
    assert customers.status_code == 413
    assert (
        httpx.post(f"{keyed_url}/v1/models/bank/predict", headers=headers, json={"rows": [ROW] * 5}).status_code == 200
    )


def test_work_past_the_time_limit_answers_504(model_dirs: dict[str, Path], registry: Registry) -> None:
    settings = Settings(model_dirs, limits=Limits(timeout_s=0.000_001))
    with running(settings, registry) as url:
        response = httpx.post(f"{url}/v1/models/bank/explain", json={"rows": [ROW] * 3})
        assert response.status_code == 504 and response.json()["error"]["kind"] == "timeout"
        assert httpx.get(f"{url}/healthz").status_code == 200  # the service still answers
