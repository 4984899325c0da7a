"""What each model answers over HTTP, and that it is what the model answers in Python: predict (one row and many),
explain, target, recommend, the list of models, the Open Inference Protocol, health, metrics, and the errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import customers_table, no_traceback, running

from needmap.data.read import read
from needmap.predictor import load
from needmap.serve.registry import Registry
from needmap.serve.rows import json_rows
from needmap.serve.settings import Settings

pytestmark = pytest.mark.slow  # the fixtures train three models and start a service


def rows_of(count: int, seed: int = 1) -> list[dict[str, Any]]:
    return customers_table(count, seed).drop_columns(["y"]).to_pylist()


def campaign_rows(count: int) -> list[dict[str, Any]]:
    from needmap.uplift.generate import campaign

    return campaign(count, seed=9).table.drop_columns(["spend", "treatment", "converted"]).to_pylist()


@pytest.fixture(scope="module")
def client(base_url: str) -> httpx.Client:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def post(client: httpx.Client, path: str, body: Any) -> httpx.Response:
    response = client.post(path, json=body)
    assert no_traceback(response.text), response.text
    return response


def test_one_row_and_many_score_as_the_predictor(client: httpx.Client, model_dirs: dict[str, Path]) -> None:
    predictor = load(model_dirs["bank"])
    rows = rows_of(25)
    one = post(client, "/v1/models/bank/predict", {"rows": rows[:1]})
    assert one.status_code == 200
    body = one.json()
    assert body["model"] == "bank" and len(body["version"]) == 12 and body["notes"] == []
    assert body["rows"] == predictor.predict(read(rows[:1])).to_pylist()  # the same numbers, to the last bit
    many = post(client, "/v1/models/bank/predict", {"rows": rows}).json()
    assert many["rows"] == predictor.predict(read(rows)).to_pylist()
    assert [row["customer_id"] for row in many["rows"]] == [row["customer_id"] for row in rows]
    extra = [{**row, "unused": [1, {"a": 2}], "y": "not read"} for row in rows[:3]]
    assert (
        post(client, "/v1/models/bank/predict", {"rows": extra}).json()["rows"]
        == predictor.predict(read(rows[:3])).to_pylist()
    )  # other fields are ignored


def test_text_is_read_as_needmap_reads_it(client: httpx.Client, model_dirs: dict[str, Path]) -> None:
    predictor = load(model_dirs["bank"])
    row = {**rows_of(1)[0], "customer_id": "  c7 ", "region": " north", "income": None}
    for rows in ([row], [row, rows_of(2)[1]]):
        answer = post(client, "/v1/models/bank/predict", {"rows": rows}).json()
        assert answer["rows"] == predictor.predict(read(rows)).to_pylist()
        assert answer["rows"][0]["customer_id"] == "c7"


def test_rows_without_their_ids_are_scored_and_told(client: httpx.Client) -> None:
    rows = [{k: v for k, v in row.items() if k != "customer_id"} for row in rows_of(2)]
    for part in (rows[:1], rows):
        answer = post(client, "/v1/models/bank/predict", {"rows": part}).json()
        assert [set(row) for row in answer["rows"]] == [{"score"}] * len(part)
        assert "no id column 'customer_id'" in answer["notes"][0]


def test_explain_gives_the_predictors_reasons(client: httpx.Client, model_dirs: dict[str, Path]) -> None:
    rows = rows_of(3)
    answer = post(client, "/v1/models/bank/explain", {"rows": rows, "top": 2})
    assert answer.status_code == 200
    expected = json_rows(load(model_dirs["bank"]).explain(read(rows), top=2))
    assert answer.json()["rows"] == expected
    assert {row["effect"] for row in expected} <= {"raises", "lowers"} and expected[0]["customer_id"] == "c0"


def test_a_response_model_targets_and_says_it_is_not_causal(client: httpx.Client, model_dirs: dict[str, Path]) -> None:
    rows = rows_of(12)
    answer = post(client, "/v1/models/bank/target", {"rows": rows, "budget": 3, "cost": 0.1, "value": 2.0}).json()
    scores = load(model_dirs["bank"]).predict_proba(read(rows))
    best = sorted(range(12), key=lambda i: -scores[i])[:3]
    assert [row["customer_id"] for row in answer["rows"]] == [rows[i]["customer_id"] for i in best]
    assert [row["rank"] for row in answer["rows"]] == [1, 2, 3] and answer["customers"] == 12
    assert answer["rows"][0]["expected_gain"] == pytest.approx(2.0 * scores[best[0]] - 0.1)
    assert "not by what the contact changes" in answer["note"]


def test_uplift_predicts_and_targets(client: httpx.Client, model_dirs: dict[str, Path]) -> None:
    from needmap.uplift.target import choose_contacts, offer_costs

    predictor = load(model_dirs["campaign"])
    rows = campaign_rows(40)
    answer = post(client, "/v1/models/campaign/predict", {"rows": rows}).json()
    assert answer["rows"] == json_rows(predictor.predict(read(rows)))
    assert set(answer["rows"][0]) == {"customer_id", "uplift_discount", "uplift_free_shipping", "best_offer",
                                      "best_uplift"}  # fmt: skip
    one = post(client, "/v1/models/campaign/predict", {"rows": rows[:1]}).json()
    assert one["rows"] == json_rows(predictor.predict(read(rows[:1])))
    body = {"rows": rows, "budget": 5, "cost": 0.5, "value": 40.0, "cost_per_arm": {"free_shipping": 2.0}}
    target = post(client, "/v1/models/campaign/target", body).json()
    costs = offer_costs(predictor.offers, 0.5, {"free_shipping": 2.0})
    contacts = choose_contacts(predictor.effects(read(rows)), costs, value=40.0, budget=5)
    assert [row["customer_id"] for row in target["rows"]] == [rows[i]["customer_id"] for i in contacts.rows]
    assert target["expected_gain"] == pytest.approx(float(contacts.gain.sum())) and target["note"] is None
    wrong = post(client, "/v1/models/campaign/target", {"rows": rows, "cost_per_arm": {"gift": 1.0}})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "cost_per_arm"
    both = post(client, "/v1/models/campaign/target", {"rows": rows, "budget": 2, "max_contacts": 3})
    assert both.status_code == 400 and both.json()["error"]["kind"] == "option"
    reasons = post(client, "/v1/models/campaign/explain", {"rows": rows[:2], "top": 2})
    assert reasons.status_code == 200 and reasons.json()["rows"]


def test_recommend_and_explain(client: httpx.Client, model_dirs: dict[str, Path]) -> None:
    recommender = load(model_dirs["offers"])
    answer = post(client, "/v1/models/offers/recommend", {"customers": ["c1", "c2", "nobody"], "k": 4}).json()
    assert answer["rows"] == json_rows(recommender.recommend(["c1", "c2", "nobody"], 4))
    assert [row["rank"] for row in answer["rows"][:4]] == [1, 2, 3, 4]
    allowed = post(client, "/v1/models/offers/recommend", {"customers": ["c1"], "k": 3, "allow": [1, 2, 3, 4]}).json()
    assert {row["item"] for row in allowed["rows"]} <= {1, 2, 3, 4}
    why = post(client, "/v1/models/offers/explain", {"customers": ["c1"], "k": 2, "top": 2}).json()
    assert why["rows"] == json_rows(recommender.explain(["c1"], 2, top=2))
    too_many = post(client, "/v1/models/offers/recommend", {"customers": ["c1"], "k": 500})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "k"


def test_the_models_are_listed_with_versions_metrics_and_inputs(client: httpx.Client) -> None:
    listed = client.get("/v1/models").json()["models"]
    by_name = {m["name"]: m for m in listed}
    assert list(by_name) == ["bank", "campaign", "offers"]
    assert [by_name[n]["kind"] for n in by_name] == ["table", "uplift", "recommender"]
    bank = by_name["bank"]
    assert bank["routes"] == ["predict", "explain", "target"] and bank["task"] == "binary"
    assert 0 <= bank["metrics"]["auc"] <= 1
    roles = {c["name"]: (c["role"], c["type"], c["required"]) for c in bank["inputs"]}
    assert roles == {"customer_id": ("id", "string", False), "age": ("numeric", "integer", True),
                     "income": ("numeric", "number", True), "region": ("categorical", "string", True),
                     "member": ("categorical", "boolean", True)}  # fmt: skip
    assert bank["outputs"] == [{"name": "score", "type": "number"}]
    assert client.get("/v1/models/bank").json() == bank
    assert by_name["offers"]["routes"] == ["recommend", "explain"]


def test_the_open_inference_protocol_scores_as_predict(client: httpx.Client) -> None:
    rows = rows_of(6)
    types = {"customer_id": "BYTES", "age": "INT64", "income": "FP64", "region": "BYTES", "member": "BOOL"}
    inputs = [{"name": k, "shape": [6], "datatype": t, "data": [r[k] for r in rows]} for k, t in types.items()]
    infer = post(client, "/v2/models/bank/infer", {"id": "req-1", "inputs": inputs}).json()
    v1 = post(client, "/v1/models/bank/predict", {"rows": rows}).json()
    assert infer["model_name"] == "bank" and infer["model_version"] == v1["version"] and infer["id"] == "req-1"
    assert infer["outputs"] == [{"name": "score", "shape": [6], "datatype": "FP64",
                                 "data": [r["score"] for r in v1["rows"]]}]  # fmt: skip
    nested = [{**i, "shape": [6, 1], "data": [[v] for v in i["data"]]} for i in inputs]
    assert post(client, "/v2/models/bank/infer", {"inputs": nested}).json()["outputs"] == infer["outputs"]
    uplift = post(client, "/v2/models/campaign/infer", {
        "inputs": [{"name": "customer_id", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
        "outputs": [{"name": "best_offer"}]})  # fmt: skip
    assert uplift.status_code == 422 and isinstance(uplift.json()["error"], str)  # the inputs are missing
    meta = client.get("/v2/models/bank").json()
    assert meta["versions"] == [v1["version"]] and {"name": "age", "datatype": "INT64", "shape": [-1]} in meta["inputs"]
    assert client.get("/v2/models/bank/ready").json() == {"name": "bank", "ready": True}
    assert client.get(f"/v2/models/bank/versions/{v1['version']}/ready").status_code == 200
    assert client.get("/v2/models/bank/versions/000000000000/ready").status_code == 404
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "needmap"
    wrong = post(client, "/v2/models/bank/infer", {"inputs": [{**inputs[1], "datatype": "BYTES"}]})
    assert wrong.status_code == 400 and "not BYTES" in wrong.json()["error"]
    short = post(client, "/v2/models/bank/infer", {"inputs": [inputs[1], {**inputs[2], "shape": [5]}]})
    assert short.status_code == 400 and "shape [5]" in short.json()["error"]
    unknown = post(client, "/v2/models/bank/infer", {"inputs": [{**inputs[1], "name": "height"}]})
    assert unknown.status_code == 400 and "no input 'height'" in unknown.json()["error"]
    assert post(client, "/v2/models/offers/infer", {"inputs": inputs}).status_code == 404


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready", "models": ["bank", "campaign", "offers"]}
    post(client, "/v1/models/bank/predict", {"rows": rows_of(2)})
    post(client, "/v1/models/bank/predict", {"rows": [{"age": "old"}]})
    text = client.get("/metrics").text
    assert 'needmap_requests_total{model="bank",route="/v1/models/{name}/predict",status="200"}' in text
    assert 'needmap_request_seconds_bucket{le="0.005",model="bank",route="/v1/models/{name}/predict"}' in text
    assert 'needmap_errors_total{kind="validation",model="bank",route="/v1/models/{name}/predict"}' in text
    assert 'needmap_rows_total{model="bank",route="/v1/models/{name}/predict"}' in text


def test_unknown_models_routes_and_names_that_look_like_paths_answer_404(client: httpx.Client) -> None:
    for name in ("nope", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "bank%2F..%2F..%2Fetc", "..%5C..%5Cwindows", "%00"):
        for path in (f"/v1/models/{name}/predict", f"/v1/models/{name}", f"/v2/models/{name}/infer"):
            response = client.request("POST" if path.endswith(("predict", "infer")) else "GET",
                                      httpx.URL(client.base_url.join("/")).copy_with(raw_path=path.encode()),
                                      json={"rows": rows_of(1)})  # fmt: skip
            assert response.status_code == 404, (path, response.text)
            assert "root:" not in response.text and no_traceback(response.text)
    unsupported = post(client, "/v1/models/bank/recommend", {"customers": ["c1"]})
    assert (
        unsupported.status_code == 404
        and "it answers predict, explain, target" in unsupported.json()["error"]["message"]
    )
    assert (
        post(client, "/v1/models/offers/predict", {"rows": rows_of(1)}).json()["error"]["kind"] == "unsupported_route"
    )
    assert client.get("/v1/nothing").json()["error"]["kind"] == "not_found"
    assert client.delete("/v1/models").status_code == 405


@pytest.mark.parametrize(
    ("body", "status", "row", "field", "words"),
    [
        ({"rows": [{"age": 1}]}, 422, 0, "income", "row 0 has no field 'income'"),
        ("ROWS", 422, 1, "age", "row 1, field 'age': \"old\" is not a whole number"),
        ("NULLS", 200, None, None, ""),
        ({"rows": []}, 422, None, "rows", "rows"),
        ({"rows": "all"}, 422, None, "rows", "rows"),
        ({"rows": [5]}, 422, 0, "rows", "row 0: 5 is not a JSON object"),
        ({"rows": "ROW", "top": 2}, 422, None, "top", "does not take"),
        ([1, 2], 422, None, None, "not a JSON object"),
    ],
)
def test_malformed_bodies_name_the_row_and_the_field(client: httpx.Client, body: Any, status: int, row: Any,
                                                     field: Any, words: str) -> None:  # fmt: skip
    rows = rows_of(3)
    if body == "ROWS":
        body = {"rows": [rows[0], {**rows[1], "age": "old"}, rows[2]]}
    elif body == "NULLS":
        body = {"rows": [{k: None for k in rows[0]}]}
    elif isinstance(body, dict) and body.get("rows") == "ROW":
        body = {"rows": rows[:1], "top": 2}
    response = post(client, "/v1/models/bank/predict", body)
    assert response.status_code == status, response.text
    if status != 200:
        error = response.json()["error"]
        assert error.get("row") == row and error.get("field") == field and words in error["message"]


@pytest.mark.parametrize("content", [b"", b"{nope", b'{"rows": [{"age": NaN}]}', b'{"rows": [{"age": 1e999}]}'])
def test_bodies_that_are_not_json_answer_400(client: httpx.Client, content: bytes) -> None:
    response = client.post("/v1/models/bank/predict", content=content, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422) and response.json()["error"]["kind"] in ("json", "validation")
    assert no_traceback(response.text)


def test_an_unexpected_failure_answers_500_with_an_id_and_no_traceback(
    registry: Registry, model_dirs: dict[str, Path]
) -> None:
    entry = registry.get("bank")
    assert entry is not None

    class Broken:
        def __getattr__(self, name: str) -> Any:
            return getattr(entry.scorer, name)

        def predict(self, rows: Any) -> Any:
            raise ZeroDivisionError("secret internal detail")

    broken = Registry({"bank": replace(entry, scorer=Broken())})
    with running(Settings(model_dirs), broken) as url:
        response = httpx.post(f"{url}/v1/models/bank/predict", json={"rows": rows_of(1)})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["kind"] == "internal" and len(error["id"]) == 12 and error["id"] in error["message"]
    assert "secret" not in response.text and "ZeroDivision" not in response.text and no_traceback(response.text)


def test_the_description_shows_each_models_bodies_with_examples(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/models/bank/predict"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    assert set(example["rows"][0]) == {"customer_id", "age", "income", "region", "member"}
    assert example["rows"][0]["region"] in ("north", "south", "east", "west")
    assert post(client, "/v1/models/bank/predict", example).status_code == 200
    row = document["components"]["schemas"]["BankRow"]
    assert row["properties"]["age"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert set(row["required"]) == {"age", "income", "region", "member"}
    assert "/v1/models/offers/recommend" in document["paths"] and "/v1/models/offers/predict" not in document["paths"]
    assert json.dumps(document).count("Traceback") == 0
