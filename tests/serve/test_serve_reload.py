"""New versions of a model swapped in while clients call it: no request fails, each answer comes whole from one
version, a directory that does not load leaves the model in use, --watch finds a new model by itself, and the
requests in flight when the service stops are answered."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import customers_table, no_traceback, running

import needmap as nm
from needmap.data.read import read
from needmap.predictor import load
from needmap.serve.registry import Registry
from needmap.serve.settings import Settings

pytestmark = pytest.mark.slow  # trains models and starts services

ROW = customers_table(1, seed=4).drop_columns(["y"]).to_pylist()[0]


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The DeepFM trained again with another seed: another version of the same model."""
    model = nm.Model("deepfm", target="y", id="customer_id", epochs=1, progress=False, seed=1)
    return model.fit(customers_table()).predictor_


def score_of(predictor: Any) -> float:
    return float(predictor.predict(read([ROW])).column("score")[0].as_py())


def test_reloads_under_load_fail_no_request(model_copy: Path, retrained: Any) -> None:
    first = load(model_copy)
    versions: dict[str, float] = {}
    results: list[tuple[str, float]] = []
    failures: list[str] = []
    stop = threading.Event()
    with running(Settings({"bank": model_copy}), Registry.load({"bank": model_copy})) as url:
        versions[httpx.get(f"{url}/v1/models/bank").json()["version"]] = score_of(first)

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                while not stop.is_set():
                    response = client.post("/v1/models/bank/predict", json={"rows": [ROW]})
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text}")
                        continue
                    body = response.json()
                    results.append((body["version"], body["rows"][0]["score"]))

        clients = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in clients:
            thread.start()
        try:
            for turn in range(4):
                new = retrained if turn % 2 == 0 else first
                new.save(model_copy)  # put in place in one step, as needmap train does
                answer = httpx.post(f"{url}/v1/models/bank/reload", timeout=60)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                assert body["swapped"] and body["version"] != body["previous_version"]
                versions[body["version"]] = score_of(new)
                time.sleep(0.3)
        finally:
            stop.set()
            for thread in clients:
                thread.join()
        again = httpx.post(f"{url}/v1/models/bank/reload").json()
        assert again["swapped"] is False and again["version"] == again["previous_version"]
    assert failures == []
    assert len(results) > 20 and len({v for v, _ in results}) >= 3
    assert all(score == versions[version] for version, score in results)  # every answer whole from one version


def test_a_directory_that_does_not_load_leaves_the_model_in_use(model_copy: Path) -> None:
    with running(Settings({"bank": model_copy}), Registry.load({"bank": model_copy})) as url:
        before = httpx.get(f"{url}/v1/models/bank").json()["version"]
        (model_copy / "schema.json").write_text("{broken", encoding="utf-8")
        answer = httpx.post(f"{url}/v1/models/bank/reload")
        assert answer.status_code == 409 and no_traceback(answer.text)
        error = answer.json()["error"]
        assert error["kind"] == "reload_failed" and f"still serves version {before}" in error["message"]
        scored = httpx.post(f"{url}/v1/models/bank/predict", json={"rows": [ROW]})
        assert scored.status_code == 200 and scored.json()["version"] == before


def test_watch_finds_a_new_model_by_itself(model_copy: Path, retrained: Any) -> None:
    settings = Settings({"bank": model_copy}, watch_s=0.2)
    with running(settings, Registry.load({"bank": model_copy})) as url:
        before = httpx.get(f"{url}/v1/models/bank").json()["version"]
        retrained.save(model_copy)
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v1/models/bank").json()["version"] == before:
            assert time.monotonic() < deadline, "the new model was not found"
            time.sleep(0.1)
        scored = httpx.post(f"{url}/v1/models/bank/predict", json={"rows": [ROW]}).json()
        assert scored["rows"][0]["score"] == score_of(retrained)
        assert 'needmap_reloads_total{model="bank",outcome="swapped"} 1.0' in httpx.get(f"{url}/metrics").text


def test_requests_in_flight_finish_when_the_service_stops(model_dirs: dict[str, Path], registry: Registry) -> None:
    from dataclasses import replace

    entry = registry.get("bank")
    assert entry is not None

    class Slow:
        def __getattr__(self, name: str) -> Any:
            return getattr(entry.scorer, name)

        def predict(self, rows: Any) -> Any:
            time.sleep(1.0)
            return entry.scorer.predict(rows)

    answers: list[httpx.Response] = []
    with running(Settings(model_dirs), Registry({"bank": replace(entry, scorer=Slow())})) as url:
        call = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{url}/v1/models/bank/predict", json={"rows": [ROW]}))
        )
        call.start()
        time.sleep(0.3)  # the request is in flight when the service is told to stop (on leaving the block)
    call.join()
    assert answers[0].status_code == 200 and answers[0].json()["rows"][0]["customer_id"] == ROW["customer_id"]
