"""Online features in the service (``needmap serve --features redis://...``): a row holding only a customer id is
scored with that customer's features read from Redis, exactly as the full row would be; a customer absent answers
404 or is imputed with a note; a row with features ignores Redis; a model of a plain table is unaffected.

Against the real Redis at 127.0.0.1:6379, database 13 only (emptied before and after; no other database is
touched). Without a server the tests skip, and fail where NEEDMAP_REQUIRE_SERVICES=1 (CI). The browser check of
the page's "Customer id" field needs Chromium and playwright (it skips without them, as the page's own test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import customers_table, free_port, no_traceback, running

import needmap as nm
from needmap.errors import ConfigError
from needmap.serve.online import FeatureStore
from needmap.serve.settings import Settings
from needs import CHROMIUM, redis_database
from needs import browser as browser_or_skip

HOST, PORT, DB = "127.0.0.1", 6379, 13
URL = f"redis://{HOST}:{PORT}/{DB}"
PASSWORD = "s3cret-pw-9Zq"
OPTIONS = dict(
    customer="customer_id", time="time", item="item_id", event="event", amount="quantity * unit_price",
    category="category", purchase_events="purchase", horizon="30d",
)  # fmt: skip
slow = pytest.mark.slow  # trains a model, starts services (and an interpreter, a browser)


@pytest.fixture(scope="module")
def redis_db() -> Iterator[Any]:
    """A client of database 13, emptied before and after the module's tests."""
    with redis_database(DB, HOST, PORT) as client:
        yield client


@dataclass
class Served:
    """The models of the tests and today's features: ``buyers`` (a DeepFM of a feature table, its features in
    Redis), ``bank`` (a DeepFM of a plain table)."""

    dirs: dict[str, Path]
    today: dict[str, dict[str, Any]]  # customer id -> the features of the model, as written to Redis
    version: str
    absent: str  # an id Redis does not hold


@pytest.fixture(scope="module")
def served(redis_db: Any, tmp_path_factory: pytest.TempPathFactory) -> Served:
    from needmap.events.generate import purchase_log
    from needmap.events.redis_write import write_online_features
    from needmap.events.table_info import info_of

    root = tmp_path_factory.mktemp("online")
    log = purchase_log(customers=300, days=400, seed=1).events
    train = nm.features(log, as_of=["2020-09-01", "2020-10-01"], **OPTIONS)
    nm.Model("deepfm", target="label_bought", epochs=1, progress=False, seed=0).fit(train).save(root / "buyers")
    plain = nm.Model("deepfm", target="y", id="customer_id", epochs=1, progress=False, seed=0)
    plain.fit(customers_table()).predictor_.save(root / "bank")
    today = nm.features(log, as_of=["2020-12-01"], labels=False, like=info_of(train), **OPTIONS)
    written = write_online_features(today, URL)
    features = list(nm.load(root / "buyers").schema_.features)
    rows = {r["customer_id"]: {k: r[k] for k in features} for r in today.to_pylist()}
    return Served({"buyers": root / "buyers", "bank": root / "bank"}, rows, written.version, "C999999")


@pytest.fixture(scope="module")
def url(served: Served) -> Iterator[str]:
    """Both models served with the online features of database 13 (a customer absent: 404)."""
    with running(Settings(served.dirs, features=URL)) as found:
        yield found


@pytest.fixture(scope="module")
def impute_url(served: Served) -> Iterator[str]:
    """The events model served with ``missing_customer="impute"``."""
    with running(Settings({"buyers": served.dirs["buyers"]}, features=URL, missing_customer="impute")) as found:
        yield found


def post(base: str, route: str, body: dict[str, Any], model: str = "buyers") -> httpx.Response:
    return httpx.post(f"{base}/v1/models/{model}/{route}", json=body, timeout=30)


def full(served: Served, customer: str) -> dict[str, Any]:
    return {"customer_id": customer, **served.today[customer]}


def metric(base: str, name: str, model: str = "buyers") -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(f'{name}{{model="{model}"}} '):
            return float(line.split()[-1])
    return 0.0


# -- settings and the store, without a server --------------------------------------------------------------------
def test_settings_carry_the_features_to_workers_without_showing_the_password(tmp_path: Path) -> None:
    address = f"redis://:{PASSWORD}@{HOST}:{PORT}/{DB}"
    settings = Settings({"m": tmp_path}, features=address, missing_customer="impute")
    environment = settings.to_environment()
    again = Settings.from_environment(environment)
    assert again.features == address and again.missing_customer == "impute"
    assert PASSWORD not in repr(settings) and PASSWORD not in repr(again)
    assert Settings.from_environment(Settings({"m": tmp_path}).to_environment()).features is None
    with pytest.raises(ConfigError, match="expected one of error, impute"):
        Settings({"m": tmp_path}, missing_customer="skip")
    with pytest.raises(ConfigError) as caught:
        FeatureStore(f"http://:{PASSWORD}@{HOST}:{PORT}/{DB}")
    assert "redis://HOST:PORT/DB" in str(caught.value) and PASSWORD not in str(caught.value)


# -- the routes ----------------------------------------------------------------------------------------------------
@slow
def test_an_id_alone_scores_as_the_row_with_its_features(served: Served, url: str) -> None:
    customers = list(served.today)[:6]
    before = metric(url, "needmap_feature_lookups_total")
    for customer in customers[:3]:  # one row: the one-row path
        by_id = post(url, "predict", {"rows": [{"customer_id": customer}]})
        given = post(url, "predict", {"rows": [full(served, customer)]})
        assert by_id.status_code == 200, by_id.text
        assert by_id.json() == given.json()  # the same numbers, to the last bit
        assert by_id.json()["rows"][0]["customer_id"] == customer and by_id.json()["notes"] == []
    # many ids in one request (one round trip), and ids beside rows with features
    by_id = post(url, "predict", {"rows": [{"customer_id": c} for c in customers]}).json()
    given = post(url, "predict", {"rows": [full(served, c) for c in customers]}).json()
    assert by_id == given and [r["customer_id"] for r in by_id["rows"]] == customers
    mixed = [{"customer_id": c} if i % 2 else full(served, c) for i, c in enumerate(customers)]
    assert post(url, "predict", {"rows": mixed}).json() == given
    assert metric(url, "needmap_feature_lookups_total") - before == 3 + 6 + 3
    # explain and target by id
    explained = post(url, "explain", {"rows": [{"customer_id": customers[0]}], "top": 3})
    assert explained.status_code == 200 and explained.json()["rows"], explained.text
    assert explained.json() == post(url, "explain", {"rows": [full(served, customers[0])], "top": 3}).json()
    body = {"budget": 2, "cost": 0.1}
    targeted = post(url, "target", {"rows": [{"customer_id": c} for c in customers], **body}).json()
    assert targeted == post(url, "target", {"rows": [full(served, c) for c in customers], **body}).json()
    assert len(targeted["rows"]) == 2 and "notes" not in targeted
    # the Open Inference Protocol: the customer input alone
    infer = {"inputs": [{"name": "customer_id", "shape": [2], "datatype": "BYTES", "data": customers[:2]}]}
    outputs = httpx.post(f"{url}/v2/models/buyers/infer", json=infer).json()["outputs"]
    pair = post(url, "predict", {"rows": [full(served, c) for c in customers[:2]]}).json()["rows"]
    assert outputs[0]["data"] == [r["score"] for r in pair]


@slow
def test_a_row_with_features_never_reads_redis(served: Served, url: str) -> None:
    first, second = list(served.today)[:2]
    before = metric(url, "needmap_feature_lookups_total")
    # the first customer's id with the second's features: scored on the features sent
    swapped = post(url, "predict", {"rows": [{**full(served, second), "customer_id": first}]}).json()["rows"][0]
    assert swapped["score"] == post(url, "predict", {"rows": [full(served, second)]}).json()["rows"][0]["score"]
    assert swapped["score"] != post(url, "predict", {"rows": [{"customer_id": first}]}).json()["rows"][0]["score"]
    # a customer Redis does not hold, with features: scored as given
    assert post(url, "predict", {"rows": [{**full(served, first), "customer_id": served.absent}]}).status_code == 200
    assert metric(url, "needmap_feature_lookups_total") - before == 1  # only the id-only row was looked up


@slow
def test_a_missing_customer_answers_404_naming_it(served: Served, url: str) -> None:
    known = next(iter(served.today))
    misses = metric(url, "needmap_feature_misses_total")
    answer = post(url, "predict", {"rows": [{"customer_id": known}, {"customer_id": served.absent}]})
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    assert error["kind"] == "customer_not_found" and error["row"] == 1 and error["field"] == "customer_id"
    assert f"customer '{served.absent}' (row 1)" in error["message"] and URL in error["message"]
    assert post(url, "explain", {"rows": [{"customer_id": 123}], "top": 2}).json()["error"]["row"] == 0
    assert metric(url, "needmap_feature_misses_total") - misses == 2


@slow
def test_impute_scores_a_missing_customer_with_every_feature_missing(served: Served, impute_url: str) -> None:
    known = next(iter(served.today))
    answer = post(impute_url, "predict", {"rows": [{"customer_id": served.absent}, {"customer_id": known}]})
    assert answer.status_code == 200, answer.text
    document = answer.json()
    blank = {"customer_id": served.absent, **dict.fromkeys(served.today[known])}
    expected = post(impute_url, "predict", {"rows": [blank, full(served, known)]}).json()
    assert document["rows"] == expected["rows"]
    assert document["notes"] == [
        f"customer '{served.absent}' (row 0) has no features in Redis at {URL} (version {served.version}) and was "
        "scored with every feature missing (imputed as in training)."
    ]
    explained = post(impute_url, "explain", {"rows": [{"customer_id": served.absent}], "top": 2}).json()
    assert explained["rows"] and served.absent in explained["notes"][0]


@slow
def test_malformed_rows_still_answer_422(url: str) -> None:
    cases = [
        (
            {"customer_id": "C000001", "recency_days": 3.0},
            "row 0 has no field 'recency_purchase_days'",
            "recency_purchase_days",
        ),
        ({"customer_id": None}, "no feature column and null in 'customer_id'", "customer_id"),
        ({"customer_id": True}, "field 'customer_id': true is not text or a whole number", "customer_id"),
        ({"other": 1}, "no feature column and no field 'customer_id'", "customer_id"),
        ({"customer_id": "C000001", "spend": "a lot"}, "row 0, field 'spend'", "spend"),
    ]
    for row, words, field in cases:
        answer = post(url, "predict", {"rows": [row]})
        assert answer.status_code == 422, (row, answer.text)
        error = answer.json()["error"]
        assert error["kind"] == "validation" and words in error["message"] and error["field"] == field, error


@slow
def test_a_model_of_a_plain_table_is_unaffected(url: str) -> None:
    bank = httpx.get(f"{url}/v1/models/bank").json()
    assert "online_features" not in bank
    answer = post(url, "predict", {"rows": [{"customer_id": "c1"}]}, model="bank")
    assert answer.status_code == 422 and "row 0 has no field 'age'" in answer.json()["error"]["message"]
    row = customers_table(1, seed=3).drop_columns(["y"]).to_pylist()
    assert post(url, "predict", {"rows": row}, model="bank").status_code == 200


@slow
def test_the_models_say_where_their_features_are(served: Served, url: str) -> None:
    from needmap.events.redis_features import features_version

    listed = {m["name"]: m for m in httpx.get(f"{url}/v1/models").json()["models"]}
    online = httpx.get(f"{url}/v1/models/buyers").json()["online_features"]
    assert listed["buyers"]["online_features"] == online and "online_features" not in listed["bank"]
    assert online["store"] == URL and online["customer"] == "customer_id" and online["available"] is True
    assert online["version"] == served.version == features_version(served.dirs["buyers"])
    assert online["cutoff"] == "2020-12-01" and online["customers"] == len(served.today)
    assert online["missing_customer"] == "error"
    # the API's description: the row with its features, and the customer id alone
    content = httpx.get(f"{url}/openapi.json").json()["paths"]["/v1/models/buyers/predict"]["post"]
    examples = content["requestBody"]["content"]["application/json"]["examples"]
    assert examples["customer"]["value"] == {"rows": [{"customer_id": "customer-1"}]}
    assert set(examples["features"]["value"]["rows"][0]) > set(served.today[next(iter(served.today))])


@slow
def test_features_not_written_yet_then_written(served: Served, redis_db: Any) -> None:
    from needmap.events.redis_features import KEY_PREFIX, META

    meta_key = f"{KEY_PREFIX}:{served.version}:{META}"
    saved = redis_db.hgetall(meta_key)
    redis_db.delete(meta_key)  # the version looks unwritten (a reader refuses it without __meta__)
    customer = next(iter(served.today))
    try:
        with running(Settings({"buyers": served.dirs["buyers"]}, features=URL)) as base:
            online = httpx.get(f"{base}/v1/models/buyers").json()["online_features"]
            assert online["available"] is False and f"no features of version {served.version}" in online["problem"]
            refused = post(base, "predict", {"rows": [{"customer_id": customer}]})
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1", refused.text
            assert refused.json()["error"]["kind"] == "features_unavailable"
            assert "send each row with its features" in refused.json()["error"]["message"]
            assert post(base, "predict", {"rows": [full(served, customer)]}).status_code == 200
            assert metric(base, "needmap_feature_errors_total") == 1
            redis_db.hset(meta_key, mapping=saved)  # written now: found within a second, no restart
            time.sleep(1.2)
            assert post(base, "predict", {"rows": [{"customer_id": customer}]}).status_code == 200
            assert httpx.get(f"{base}/v1/models/buyers").json()["online_features"]["available"] is True
    finally:
        redis_db.hset(meta_key, mapping=saved)


# -- the command ---------------------------------------------------------------------------------------------------
def needmap(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = "import sys; from needmap.cli import main; sys.argv = ['needmap', *sys.argv[1:]]; main()"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "NEEDMAP_API_KEYS": "", **(env or {})}
    environment.pop("NEEDMAP_SERVE_FEATURES", None)
    return subprocess.Popen([sys.executable, "-c", code, *args], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


@slow
def test_the_command_refuses_what_it_cannot_serve(served: Served) -> None:
    model = str(served.dirs["buyers"])
    nowhere = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/{DB}"
    runs = [
        (("--features", nowhere), "--features: no Redis server answers at redis://127.0.0.1:"),
        (("--features", f"redis://:{PASSWORD}@127.0.0.1/x"), "is not of the form redis://HOST:PORT/DB"),
        (("--missing-customer", "impute"), "expected --features redis://HOST:PORT/DB with it"),
        (("--features", URL, "--missing-customer", "skip"), "--missing-customer 'skip'; expected error or impute"),
    ]
    for args, words in runs:
        run = needmap("serve", model, *args)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 2 and words in err and no_traceback(err), (args, err)
        assert PASSWORD not in out + err


@slow
def test_the_command_serves_customers_by_id(served: Served) -> None:
    """The form of benchmarks/bench_serve.py: ``model=DIR --workers 1 --features REDIS``, a row of an id alone."""
    port = free_port()
    run = needmap("serve", f"model={served.dirs['buyers']}", f"bank={served.dirs['bank']}", "--port", str(port),
                  "--workers", "1", "--features", URL, "--no-access-log")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.2)
        customer = next(iter(served.today))
        answer = httpx.post(f"{base}/v1/models/model/predict", json={"rows": [{"customer_id": customer}]})
        assert answer.status_code == 200 and answer.json()["rows"][0]["customer_id"] == customer, answer.text
    finally:
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert f"model: online features version {served.version} in {URL} (cutoff 2020-12-01" in err, err
    assert "a row may hold customer_id alone" in err and "bank: " not in err  # a plain model: nothing to say


# -- the page ------------------------------------------------------------------------------------------------------
@slow
def test_the_page_looks_a_customer_up_by_id(served: Served, url: str) -> None:
    """The page enables its "Customer id" field for a model with online features (from GET /v1/models/NAME), and
    a customer typed there gets the score and reasons of the features in Redis."""
    script = httpx.get(f"{url}/ui/page.js").text
    assert "model.online_features" in script and "field.disabled = false" in script
    sync_playwright = browser_or_skip()
    customer = list(served.today)[3]
    score = post(url, "predict", {"rows": [{"customer_id": customer}]}).json()["rows"][0]["score"]
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(f"{url}/ui/#lookup")
            page.locator("#status").get_by_text("2 models loaded.").wait_for()
            page.select_option("#lookup-model", "bank")
            page.locator("#lookup-input-age").wait_for()
            assert page.locator("#lookup-id").is_disabled()
            page.select_option("#lookup-model", "buyers")
            page.locator("#lookup-id:enabled").wait_for()
            assert URL in page.locator("#lookup-id-note").inner_text()
            page.fill("#lookup-id", customer)
            page.press("#lookup-id", "Enter")
            result = page.locator("#lookup-result")
            result.locator("li").first.wait_for()
            assert f"Customer {customer}: the features read from {URL}." in result.inner_text()
            shown = float(result.locator("dd").first.inner_text().replace(",", "."))
            assert shown == pytest.approx(score, abs=1e-4)
            page.fill("#lookup-id", served.absent)  # a customer not there: the service's words, in the alert area
            page.press("#lookup-id", "Enter")
            page.locator("#messages").get_by_text(f"customer '{served.absent}' (row 0) has no features").wait_for()
        finally:
            browser.close()
    assert [e for e in errors if "/predict" not in e and "/explain" not in e] == [], errors
